package clv

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// evalChunk is the number of rows per partial sum in likelihood
// evaluations. It is a constant, not derived from the number of workers,
// so that each chunk's partial sum and the fixed-order sum of the partials
// are the same whatever the parallelism: a fit is bit-identical for any
// GOMAXPROCS. 512 rows make the per-chunk overhead (a few atomic operations)
// negligible while giving two cores enough chunks to balance.
const evalChunk = 512

// pool runs loops over chunks of rows on a fixed number of goroutines.
// It spawns them per call: a fit makes a few dozen calls, and a goroutine
// costs well under a microsecond, so a long-lived pool would only add a
// lifecycle to manage.
type pool struct{ workers int }

func newPool(workers int) pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return pool{workers: workers}
}

// each calls fn(c, lo, hi) for every chunk c = [lo, hi) of [0, n), in
// parallel. fn must write only to state owned by its chunk.
func (p pool) each(n, chunk int, fn func(c, lo, hi int)) {
	nc := (n + chunk - 1) / chunk
	run := func(c int) { fn(c, c*chunk, min((c+1)*chunk, n)) }
	w := min(p.workers, nc)
	if w <= 1 {
		for c := range nc {
			run(c)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	work := func() {
		for {
			c := int(next.Add(1) - 1)
			if c >= nc {
				return
			}
			run(c)
		}
	}
	wg.Add(w - 1)
	for range w - 1 {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// sum evaluates fn over chunks of [0, n) into per-chunk accumulators of
// length len(dst) and adds them into dst (after clearing it) in chunk
// order. buf is reused scratch space; the grown buffer is returned.
func (p pool) sum(n int, dst, buf []float64, fn func(lo, hi int, acc []float64)) []float64 {
	k := len(dst)
	nc := (n + evalChunk - 1) / evalChunk
	if cap(buf) < nc*k {
		buf = make([]float64, nc*k)
	}
	buf = buf[:nc*k]
	clear(buf)
	p.each(n, evalChunk, func(c, lo, hi int) { fn(lo, hi, buf[c*k:(c+1)*k]) })
	clear(dst)
	for c := range nc {
		for j, v := range buf[c*k : (c+1)*k] {
			dst[j] += v
		}
	}
	return buf
}
