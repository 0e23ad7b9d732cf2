package cluster

import (
	"context"
	"math"
	"math/rand/v2"
)

// newRestartRNG returns the random stream of restart r. Each restart owns
// its stream so that running restarts in any order or concurrency gives the
// same draws; the restart index goes through splitmix64 so that nearby
// (seed, r) pairs do not give correlated PCG states.
func newRestartRNG(seed uint64, r int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, splitmix64(uint64(r)+0x9e3779b97f4a7c15)))
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// seedPlusPlus returns k centres (k×d, row-major) chosen by greedy k-means++
// (Arthur & Vassilvitskii 2007, with sklearn's greedy variant): at each step
// 2+⌊ln k⌋ candidates are drawn with probability proportional to the squared
// distance to the closest centre so far, and the one that lowers the
// potential the most is kept (lowest candidate on ties). given holds
// centres (row-major) that are kept as the first ones, for warm starts.
//
// closest is scratch of length X.N.
func seedPlusPlus(ctx context.Context, X Matrix, k int, given []float64, rng *rand.Rand, workers int, closest []float64) ([]float64, error) {
	n, d := X.N, X.D
	C := make([]float64, k*d)
	g := copy(C, given) / d
	if g == k {
		return C, nil
	}
	if g == 0 {
		copy(C[:d], X.Row(rng.IntN(n)))
		g = 1
	}
	nc := numChunks(n)
	part := make([]float64, nc)
	err := forChunks(ctx, n, workers, func(c, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			_, closest[i] = nearest(X.Data[i*d:i*d+d:i*d+d], C, g)
			s += closest[i]
		}
		part[c] = s
	})
	if err != nil {
		return nil, err
	}
	trials := 2 + int(math.Log(float64(k)))
	cand := make([]int, trials)
	candC := make([]float64, trials*d)
	candPart := make([]float64, nc*trials)
	prefix := make([]float64, nc+1)
	for j := g; j < k; j++ {
		for c := 0; c < nc; c++ {
			prefix[c+1] = prefix[c] + part[c]
		}
		pot := prefix[nc]
		for t := range cand {
			cand[t] = sampleD2(closest, prefix, rng.Float64()*pot, rng)
			copy(candC[t*d:], X.Row(cand[t]))
		}
		err := forChunks(ctx, n, workers, func(c, lo, hi int) {
			acc := candPart[c*trials : (c+1)*trials]
			clear(acc)
			dist := make([]float64, trials)
			for i := lo; i < hi; i++ {
				sqDists(X.Data[i*d:i*d+d:i*d+d], candC, dist)
				for t, v := range dist {
					acc[t] += min(closest[i], v)
				}
			}
		})
		if err != nil {
			return nil, err
		}
		bestT, bestPot := 0, math.Inf(1)
		for t := range cand {
			var s float64
			for c := 0; c < nc; c++ {
				s += candPart[c*trials+t]
			}
			if s < bestPot {
				bestT, bestPot = t, s
			}
		}
		y := X.Row(cand[bestT])
		copy(C[j*d:], y)
		err = forChunks(ctx, n, workers, func(c, lo, hi int) {
			var s float64
			var dist [1]float64
			for i := lo; i < hi; i++ {
				sqDists(X.Data[i*d:i*d+d:i*d+d], y, dist[:])
				closest[i] = min(closest[i], dist[0])
				s += closest[i]
			}
			part[c] = s
		})
		if err != nil {
			return nil, err
		}
	}
	return C, nil
}

// sampleD2 returns the first row whose cumulative weight exceeds r, where
// the cumulative weight is the chunk prefix plus a running sum inside the
// chunk: a definition that does not depend on how chunks were scheduled.
func sampleD2(w, prefix []float64, r float64, rng *rand.Rand) int {
	nc := len(prefix) - 1
	if !(prefix[nc] > 0) {
		// Every row coincides with a centre; any row is as good as another.
		return rng.IntN(len(w))
	}
	lo, hi := 0, nc-1 // last chunk c with prefix[c] <= r
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if prefix[mid] <= r {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	for c := lo; c < nc; c++ {
		s := prefix[c]
		a, b := chunkBounds(c, len(w))
		for i := a; i < b; i++ {
			s += w[i]
			if s > r && w[i] > 0 {
				return i
			}
		}
	}
	// Rounding left r at or above the total: take the last row with weight.
	for i := len(w) - 1; i > 0; i-- {
		if w[i] > 0 {
			return i
		}
	}
	return 0
}
