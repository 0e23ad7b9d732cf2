package features

import (
	"github.com/strata-oss/strata/pipeline/tables/hugemem"
)

// gatherShift sets the span of arena a bucket of gather's sort covers:
// 2^11 records (384 KiB of 192-byte records, about a hundred 4 KiB pages
// whose page-table entries share a dozen cache lines).
const gatherShift = 11

// gatherAhead is how many records ahead of its copy gather prefetches one.
const gatherAhead = 16

// gatherMinBytes is the size of the records from which fill gathers them:
// at 5M customers (0.96 GB of 192-byte records) the walk in id order still
// found most page walks in the caches; at 17M (3.3 GB) it spent 5.1 of its
// 7.3 CPU-seconds waiting on them, and gathering took it to 5.0.
const gatherMinBytes = 1 << 30

// gatherer copies the records of blocks of customers, in id order, into
// buffers, reading them in arena order (fill).
type gatherer struct {
	stride int   // the widest shard's record, in words
	bytes  int   // the records' size
	base   []int // by shard: the global position of its first record
	nb     int   // buckets
	pool   chan *gatherBuf
}

// gatherBuf is one task's buffers, reused from block to block.
type gatherBuf struct {
	words []uint64 // the block's records, by customer - lo
	bkt   []uint32 // by customer - lo: its record's bucket
	order []int32  // customers - lo, by bucket
	count []int32  // by bucket, then their starts
}

func (c *computer) newGatherer() *gatherer {
	ga := &gatherer{base: make([]int, len(c.a.shards)), pool: make(chan *gatherBuf, c.opt.Workers)}
	total := 0
	for si, s := range c.a.shards {
		ga.base[si] = total
		total += s.n
		ga.stride = max(ga.stride, s.rec.stride)
		ga.bytes += s.n * s.rec.stride * 8
	}
	ga.nb = total>>gatherShift + 1
	for range c.opt.Workers {
		ga.pool <- &gatherBuf{}
	}
	return ga
}

// get takes a task's buffers; the errgroup's limit keeps the tasks to as
// many as there are buffers.
func (ga *gatherer) get() *gatherBuf { return <-ga.pool }

func (ga *gatherer) put(b *gatherBuf) { ga.pool <- b }

// gather copies the records of customers lo..hi-1 into b.words, customer
// g's at (g-lo)·stride, reading them in the arena's order, bucket by
// bucket (a counting sort of the block by where its records lie), and
// returns b.
func (ga *gatherer) gather(c *computer, lo, hi int, b *gatherBuf) *gatherBuf {
	m := hi - lo
	if cap(b.words) < m*ga.stride {
		b.words = hugemem.Fresh(make([]uint64, m*ga.stride))
		b.bkt = make([]uint32, m)
		b.order = make([]int32, m)
	}
	if len(b.count) != ga.nb+1 {
		b.count = make([]int32, ga.nb+1)
	}
	words, bkt, order, count := b.words[:m*ga.stride], b.bkt[:m], b.order[:m], b.count
	clear(count)
	loc := c.loc[lo:hi]
	for i, l := range loc {
		k := uint32((ga.base[l>>32] + int(uint32(l))) >> gatherShift)
		bkt[i] = k
		count[k+1]++
	}
	for k := 1; k < len(count); k++ {
		count[k] += count[k-1]
	}
	for i, k := range bkt {
		order[count[k]] = int32(i)
		count[k]++
	}
	shards := c.a.shards
	for j, i := range order {
		if j+gatherAhead < m {
			c.prefetchCustomer(loc[order[j+gatherAhead]])
		}
		l := loc[i]
		copy(words[int(i)*ga.stride:], shards[l>>32].rec.at(int(uint32(l))))
	}
	return b
}
