package cluster

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Matrix is a dense row-major matrix: row i is Data[i*D : (i+1)*D].
type Matrix struct {
	Data []float64
	N, D int
}

// NewMatrix returns a zeroed n×d matrix.
func NewMatrix(n, d int) Matrix {
	return Matrix{Data: make([]float64, n*d), N: n, D: d}
}

// MatrixFromRows copies rows, which must all have the same length, into a
// Matrix.
func MatrixFromRows(rows [][]float64) (Matrix, error) {
	if len(rows) == 0 {
		return Matrix{}, nil
	}
	d := len(rows[0])
	m := NewMatrix(len(rows), d)
	for i, r := range rows {
		if len(r) != d {
			return Matrix{}, fmt.Errorf("row %d has %d columns, row 0 has %d", i, len(r), d)
		}
		copy(m.Data[i*d:], r)
	}
	return m, nil
}

// Row returns row i, sharing memory with m.
func (m Matrix) Row(i int) []float64 { return m.Data[i*m.D : (i+1)*m.D : (i+1)*m.D] }

// Rows returns the rows as slices sharing memory with m.
func (m Matrix) Rows() [][]float64 {
	out := make([][]float64, m.N)
	for i := range out {
		out[i] = m.Row(i)
	}
	return out
}

func (m Matrix) validate(what string) error {
	if m.N < 0 || m.D <= 0 {
		return fmt.Errorf("%s: invalid shape %d×%d", what, m.N, m.D)
	}
	if len(m.Data) != m.N*m.D {
		return fmt.Errorf("%s: %d values for a %d×%d matrix", what, len(m.Data), m.N, m.D)
	}
	return nil
}

// validateFinite additionally rejects NaN and ±Inf: one of them poisons every
// centre it touches, and the branch-free argmin relies on ordered values.
func (m Matrix) validateFinite(what string) error {
	if err := m.validate(what); err != nil {
		return err
	}
	for i, v := range m.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: non-finite value %v at row %d, column %d", what, v, i/m.D, i%m.D)
		}
	}
	return nil
}

func checkLabels(labels []int32, n, k int) error {
	if len(labels) != n {
		return fmt.Errorf("%d labels for %d rows", len(labels), n)
	}
	for i, l := range labels {
		if l < 0 || int(l) >= k {
			return fmt.Errorf("label %d of row %d outside [0,%d)", l, i, k)
		}
	}
	return nil
}

// chunkRows is the unit of every parallel reduction. It is a constant, not a
// function of the worker count, so that partial sums and their merge order
// (and hence every rounding) are the same whatever the parallelism. 8192 rows
// keep a chunk's rows in L2 for d up to ~16 and leave 100+ chunks at 1M rows
// for load balancing.
const chunkRows = 8192

func numChunks(n int) int { return (n + chunkRows - 1) / chunkRows }

func chunkBounds(c, n int) (lo, hi int) { return c * chunkRows, min(n, (c+1)*chunkRows) }

func resolveWorkers(w int) int {
	if w <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return w
}

// forChunks calls fn once for every chunk of [0, n) on up to workers
// goroutines. Chunks are handed out dynamically; fn must write only to state
// owned by its chunk index so that the result does not depend on who ran it.
// w < workers numbers the goroutine, so that fn can reuse per-goroutine
// scratch memory instead of allocating per chunk.
func forChunks(ctx context.Context, n, workers int, fn func(w, c, lo, hi int)) error {
	return forBlocks(ctx, n, chunkRows, workers, fn)
}

// forBlocks is forChunks with blocks of the given size, for work whose cost
// per row is large enough that chunkRows would leave too few blocks to
// balance.
func forBlocks(ctx context.Context, n, block, workers int, fn func(w, c, lo, hi int)) error {
	nc := (n + block - 1) / block
	chunkBounds := func(c, n int) (int, int) { return c * block, min(n, (c+1)*block) }
	workers = min(workers, nc)
	if workers <= 1 {
		for c := 0; c < nc; c++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			lo, hi := chunkBounds(c, n)
			fn(0, c, lo, hi)
		}
		return ctx.Err()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1) - 1)
				if c >= nc || ctx.Err() != nil {
					return
				}
				lo, hi := chunkBounds(c, n)
				fn(w, c, lo, hi)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// columnVarianceMean returns the mean over columns of the population
// variance, the scale sklearn uses to make the tolerance unit-free.
func columnVarianceMean(ctx context.Context, X Matrix, workers int) (float64, error) {
	d := X.D
	nc := numChunks(X.N)
	part := make([]float64, nc*d)
	if err := forChunks(ctx, X.N, workers, func(_, c, lo, hi int) {
		p := part[c*d : c*d+d]
		for i := lo; i < hi; i++ {
			for t, v := range X.Data[i*d : i*d+d] {
				p[t] += v
			}
		}
	}); err != nil {
		return 0, err
	}
	mean := make([]float64, d)
	for c := 0; c < nc; c++ {
		for t := range mean {
			mean[t] += part[c*d+t]
		}
	}
	for t := range mean {
		mean[t] /= float64(X.N)
	}
	clear(part)
	if err := forChunks(ctx, X.N, workers, func(_, c, lo, hi int) {
		p := part[c*d : c*d+d]
		for i := lo; i < hi; i++ {
			for t, v := range X.Data[i*d : i*d+d] {
				e := v - mean[t]
				p[t] += e * e
			}
		}
	}); err != nil {
		return 0, err
	}
	var s float64
	for t := 0; t < d; t++ {
		var v float64
		for c := 0; c < nc; c++ {
			v += part[c*d+t]
		}
		s += v / float64(X.N)
	}
	return s / float64(d), nil
}
