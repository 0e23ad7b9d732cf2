package clv

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// pairGroups groups rows by their (x, T) pair, the part of a summary that
// the horizon terms of the factored models (E[Y(t)] / P(alive), the
// count distribution of AliveModel, the no-drop-out bound) depend on:
// the rows of pair p are members[start[p]:start[p+1]], ordered by t_x
// and then by row, so that rows with the same summary are adjacent. Pairs
// are ordered by x, then T. The grouping depends on the values only, not
// on the number of workers.
type pairGroups struct {
	pairX, pairT []float64
	start        []int32
	members      []int32
}

func groupByPair(x, tx, T []float64) pairGroups {
	n := len(x)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(i, j int32) int {
		if c := cmp.Compare(x[i]+0, x[j]+0); c != 0 {
			return c
		}
		if c := cmp.Compare(T[i]+0, T[j]+0); c != 0 {
			return c
		}
		if c := cmp.Compare(tx[i]+0, tx[j]+0); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	g := pairGroups{members: idx}
	for k, i := range idx {
		if k == 0 || x[i]+0 != g.pairX[len(g.pairX)-1] || T[i]+0 != g.pairT[len(g.pairT)-1] {
			g.pairX, g.pairT = append(g.pairX, x[i]+0), append(g.pairT, T[i]+0)
			g.start = append(g.start, int32(k))
		}
	}
	g.start = append(g.start, int32(n))
	return g
}

func (g *pairGroups) rows(p int) []int32 { return g.members[g.start[p]:g.start[p+1]] }

// eachGroup calls the function that newWorker returns for every group
// 0..n-1, on at most workers goroutines (workers <= 0: GOMAXPROCS), each
// with its own function (and so its own scratch space). Groups are handed
// out in small chunks, since their costs differ widely; a group's results
// must depend on the group alone, so they do not depend on workers.
func eachGroup(ctx context.Context, n, workers int, newWorker func() func(g int)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 16
	nc := (n + chunk - 1) / chunk
	var next atomic.Int64
	work := func() error {
		fn := newWorker()
		for {
			c := int(next.Add(1) - 1)
			if c >= nc {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			for g := c * chunk; g < min((c+1)*chunk, n); g++ {
				fn(g)
			}
		}
	}
	w := min(workers, nc)
	if w <= 1 {
		if err := work(); err != nil {
			return err
		}
		return ctx.Err()
	}
	var eg errgroup.Group
	for range w {
		eg.Go(work)
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// quantileSorted is quantile on an already sorted v.
func quantileSorted(v []float64, q float64) float64 {
	h := q * float64(len(v)-1)
	i := int(h)
	if i >= len(v)-1 {
		return v[len(v)-1]
	}
	return v[i] + (h-float64(i))*(v[i+1]-v[i])
}

// quantiles returns the qa- and qb-quantiles of v (as quantile), sorting
// one copy of v in buf, which it returns grown.
func quantiles(v, buf []float64, qa, qb float64) (a, b float64, grown []float64) {
	buf = append(buf[:0], v...)
	slices.Sort(buf)
	return quantileSorted(buf, qa), quantileSorted(buf, qb), buf
}
