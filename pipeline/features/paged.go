package features

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/strata-oss/strata/pipeline/tables/hugemem"
)

// paged is a per-customer array of stride elements per row, stored in
// fixed pages: growing it never copies (so never holds two copies). With
// huge set, pages are aligned to 2 MiB and offered to the kernel for huge
// pages: a page of 2^15 records of a multiple of 64 bytes is a whole number
// of 2 MiB huge pages, and each record starts on a cache line — until
// faulting in the pages ahead shows huge pages to cost more than they will
// save (hugemem.Pays), after which the pages are small ones.
type paged[T any] struct {
	stride int
	huge   bool
	// hits is how many times each row is expected to be updated, at
	// random (order rows a customer); 0 when unknown.
	hits  float64
	pages [][]T
	next  []T         // with huge: the page after the last, being faulted in
	slow  atomic.Bool // huge pages cost more than they save (judge)
	// The time spent faulting in the pages ahead, and their bytes.
	faultNs, faulted atomic.Int64
}

// judgeMin is the least memory faulted in ahead before huge pages are
// judged: a page or two says little, since the kernel may have a few huge
// pages ready and then find the rest the slow way, or stall once on
// compaction and then find them fast.
const judgeMin = 32 << 20

const (
	pageBits = 15
	pageRows = 1 << pageBits
	pageMask = pageRows - 1
	// firstRows is the smallest first page, in rows.
	firstRows = 256
)

// newPage allocates one page of n elements.
func (p *paged[T]) newPage(n int) []T {
	if p.huge && !p.slow.Load() {
		return hugemem.Make[T](n)
	}
	return make([]T, n)
}

// at returns row's elements.
func (p *paged[T]) at(row int) []T {
	pg := p.pages[row>>pageBits]
	off := (row & pageMask) * p.stride
	return pg[off : off+p.stride : off+p.stride]
}

// ensure makes room for rows rows. A huge arena keeps one page ahead,
// faulted in by another goroutine while this one fills the current page:
// the kernel's work of zeroing fresh memory then runs on an idle core
// instead of stalling the aggregation.
//
// The first page starts at the rows asked for (at least firstRows) and
// doubles, by copying, while it is the only one: a shop of a few hundred
// customers, or one of the suite's hundreds of small runs, would otherwise
// allocate, zero and remap 32,768 records per array and shard (6 MiB at
// 24 words a record) for each. From pageRows rows on, pages are whole and
// never copied.
func (p *paged[T]) ensure(rows int) {
	switch {
	case rows <= 0 || p.stride == 0:
	case len(p.pages) == 0 && rows < pageRows:
		p.pages = append(p.pages, p.newPage(shortRows(0, rows)*p.stride))
		return
	case len(p.pages) == 1 && len(p.pages[0]) < pageRows*p.stride:
		have := len(p.pages[0]) / p.stride
		if rows <= have {
			return
		}
		pg := p.newPage(shortRows(have, rows) * p.stride)
		copy(pg, p.pages[0])
		p.pages[0] = pg
	}
	for len(p.pages)*pageRows < rows {
		pg := p.next
		if pg == nil || len(pg) != pageRows*p.stride {
			pg = p.newPage(pageRows * p.stride)
		}
		p.pages = append(p.pages, pg)
		p.next = nil
		if p.huge {
			next := p.newPage(pageRows * p.stride)
			p.next = next
			// Every page is timed, not only the first (judge).
			hits := p.hitsPerMiB()
			go func() { p.judge(hugemem.Populate(next), len(next), hits) }()
		}
	}
}

// judge adds the time d of faulting in a page of n elements ahead to the
// arena's and gives up huge pages when, over at least judgeMin bytes,
// they cost more than the hits expected on them save (hitsPerMiB, taken
// when the page was made: the stride may change since). Every page counts,
// not only the first: a first page that faulted in fast once kept the
// arena on huge pages for a whole run whose other pages came slowly (10M
// orders, six alternated pairs: median 1.04 s timing the first page, 0.87 s
// timing each). But the cost alone does not decide (issue 31): where the
// host backs guest memory on first touch, fresh huge pages fault in at
// about 2 ms/MiB, twice SlowHuge, and giving them up for that cost 5M
// customers' 100M orders a median 19.9 CPU-s in the extract stage against
// 16.1.
func (p *paged[T]) judge(d time.Duration, n int, hitsPerMiB float64) {
	var zero T
	ns, bytes := p.faultNs.Add(int64(d)), p.faulted.Add(int64(n)*int64(unsafe.Sizeof(zero)))
	if bytes >= judgeMin && !hugemem.Pays(time.Duration(ns), bytes, hitsPerMiB) {
		p.slow.Store(true)
	}
}

// hitsPerMiB is how many times each MiB of the arena is expected to be
// hit: hits times the rows a MiB holds.
func (p *paged[T]) hitsPerMiB() float64 {
	var zero T
	return p.hits * (1 << 20) / float64(p.stride*int(unsafe.Sizeof(zero)))
}

// shortRows is the size of a first page that holds rows rows, grown from
// have: doubled, at least firstRows, at most a whole page.
func shortRows(have, rows int) int {
	n := max(have, firstRows)
	for n < rows && n < pageRows {
		n *= 2
	}
	return min(n, pageRows)
}

// restride widens every row to stride nw, keeping the first old elements
// of each row in place and zeroing the rest; with from ≥ 0, element from
// moves to the new last place instead. It runs once per widening, page by
// page, so the peak is one extra page.
func (p *paged[T]) restride(nw, from int) {
	old := p.stride
	var zero T
	for i, pg := range p.pages {
		rows := len(pg) / old // pageRows, or fewer in a short first page
		np := p.newPage(rows * nw)
		for r := range rows {
			copy(np[r*nw:r*nw+old], pg[r*old:(r+1)*old])
			if from >= 0 {
				np[r*nw+nw-1], np[r*nw+from] = np[r*nw+from], zero
			}
		}
		p.pages[i] = np
	}
	p.stride = nw
	p.next = nil
}

// span is a run of n elements of a row that remap moves from one offset
// to another.
type span struct{ from, to, n int }

// remap gives every row stride nw, moving each span of the old row to its
// new place and zeroing the rest. Page by page, as restride.
func (p *paged[T]) remap(nw int, spans []span) {
	old := p.stride
	for i, pg := range p.pages {
		rows := len(pg) / old // pageRows, or fewer in a short first page
		np := p.newPage(rows * nw)
		for r := range rows {
			o, n := pg[r*old:(r+1)*old], np[r*nw:(r+1)*nw]
			for _, sp := range spans {
				copy(n[sp.to:sp.to+sp.n], o[sp.from:sp.from+sp.n])
			}
		}
		p.pages[i] = np
	}
	p.stride = nw
	p.next = nil
}
