package features

import (
	"sync/atomic"
	"unsafe"

	"github.com/strata-oss/strata/pipeline/tables/hugemem"
)

// paged is a per-customer array of stride elements per row, stored in
// fixed pages: growing it never copies (so never holds two copies). With
// huge set, pages are aligned to 2 MiB and offered to the kernel for huge
// pages: a page of 2^15 records of a multiple of 64 bytes is a whole number
// of 2 MiB huge pages, and each record starts on a cache line — until
// faulting in a page ahead shows huge pages to be slow here
// (hugemem.SlowHuge), after which the pages are small ones.
type paged[T any] struct {
	stride int
	huge   bool
	pages  [][]T
	next   []T         // with huge: the page after the last, being faulted in
	slow   atomic.Bool // huge pages cost more than hugemem.SlowHuge a MiB
}

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
			// Every page is timed, not only the first: the kernel may
			// have a few huge pages ready (memory another process just
			// freed) and then have to find the rest the slow way, and a
			// first page that faulted in fast kept the arena on huge
			// pages for the whole run (10M orders, six alternated pairs:
			// median 1.04 s timing the first page, 0.87 s timing each;
			// system time 0.27-0.75 s against 0.19-0.33 s).
			go func() {
				d := hugemem.Populate(next)
				if mib := float64(len(next)) * float64(unsafe.Sizeof(next[0])) / (1 << 20); float64(d) > mib*float64(hugemem.SlowHuge) {
					p.slow.Store(true)
				}
			}()
		}
	}
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
