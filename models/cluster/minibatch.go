package cluster

import (
	"context"
	"math"
)

// maxNoImprovement is sklearn's early stop: a restart ends after this many
// consecutive batches without a new minimum of the smoothed batch inertia.
const maxNoImprovement = 10

// runMiniBatch runs one restart of mini-batch k-means (Sculley 2010, with
// scikit-learn's per-centre learning rate and stopping rules):
//
//   - centres are seeded by k-means++ on 3·BatchSize rows (at least 3k)
//     drawn with replacement;
//   - each step draws BatchSize rows with replacement and moves every centre
//     to the weighted mean of its previous position (weight: rows seen so
//     far) and its rows in the batch;
//   - a restart stops after MaxIter·n/BatchSize steps, when the summed
//     squared centre shift of a step falls to the tolerance, or after 10
//     steps without improving the exponentially smoothed batch inertia;
//   - a final full pass assigns every row and computes the exact inertia,
//     which is what restarts are compared on.
//
// Steps are sequential by nature, so a restart is single-threaded except
// for the final pass; restarts run in parallel.
func runMiniBatch(ctx context.Context, X Matrix, p fitParams, r, workers int, init []float64, s *scratch) (restart, error) {
	n, d, k, b := X.N, X.D, p.k, p.batch
	if len(s.labels) != n {
		s.labels = make([]int32, n)
	}
	rng := newRestartRNG(p.seed, r)
	initN := 3 * b
	if initN < k {
		initN = 3 * k
	}
	initN = min(initN, n)
	sub := NewMatrix(initN, d)
	for i := 0; i < initN; i++ {
		copy(sub.Row(i), X.Row(rng.IntN(n)))
	}
	kn := p.kern
	wss := s.workers(max(1, workers))
	C, err := seedPlusPlus(ctx, sub, kn, k, init, rng, 1)
	if err != nil {
		return restart{}, err
	}
	steps := max(1, int(min(int64(p.maxIter)*int64(n)/int64(b), math.MaxInt32)))
	weight := make([]float64, k)
	bsum, bcount := make([]float64, k*d), make([]int64, k)
	alpha := min(1, 2*float64(b)/float64(n+1))
	var ewa, ewaMin float64
	noImprove := 0
	out := restart{}
	cs := &centres{}
	idx := make([]int32, b)
	for step := 0; step < steps; step++ {
		if step%64 == 0 {
			if err := ctx.Err(); err != nil {
				return restart{}, err
			}
		}
		clear(bsum)
		clear(bcount)
		kn.prepare(cs, C)
		for q := range idx {
			idx[q] = int32(rng.IntN(n))
		}
		var bin float64
		st := cs.stride
		dst := wss[0].outFor(st)
		for q0 := 0; q0 < b; q0 += blockRows {
			blk := idx[q0:min(b, q0+blockRows)]
			kn.distsRows(X.Data, blk, cs, dst)
			for r, i := range blk {
				j, dist := argmin(dst[r*st : r*st+k])
				bin += dist
				row := bsum[j*d : j*d+d]
				for t, v := range X.Row(int(i)) {
					row[t] += v
				}
				bcount[j]++
			}
		}
		var shift float64
		for j := 0; j < k; j++ {
			if bcount[j] == 0 {
				continue
			}
			w := weight[j] + float64(bcount[j])
			c := C[j*d : j*d+d]
			for t := range c {
				v := (c[t]*weight[j] + bsum[j*d+t]) / w
				e := v - c[t]
				shift += e * e
				c[t] = v
			}
			weight[j] = w
		}
		out.iterations = step + 1
		bin /= float64(b)
		if step == 0 {
			// The first batch's inertia measures the seeding, not the updates.
			ewa, ewaMin = bin, math.Inf(1)
			continue
		}
		ewa = ewa*(1-alpha) + bin*alpha
		if p.tolAbs > 0 && shift <= p.tolAbs {
			out.converged = true
			break
		}
		if ewa < ewaMin {
			ewaMin, noImprove = ewa, 0
		} else if noImprove++; noImprove >= maxNoImprovement {
			out.converged = true
			break
		}
	}
	out.inertia, err = assignInto(ctx, kn, X, C, s.labels, workers, wss)
	if err != nil {
		return restart{}, err
	}
	out.C, out.labels = C, s.labels
	return out, nil
}
