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
// Each step is one pass over the data (job.seedRows): it folds the previous
// step's centre into the closest distances and sums, per chunk, the
// potential every candidate would leave. The chosen candidate's sums are
// then the next step's chunk potentials, so sampling needs no pass of its
// own. Fits seed inside the lockstep engine; this is the same job run
// alone, for mini-batch and tests.
func seedPlusPlus(ctx context.Context, X Matrix, kn kernel, k int, given []float64, rng *rand.Rand, workers int) ([]float64, error) {
	p := fitParams{k: k, kern: kn, algo: Lloyd}
	var C []float64
	started := false
	err := runJobs(ctx, X, workers, 1, func(mem *jobMem) *job {
		if started {
			return nil
		}
		started = true
		jb := newJob(X, p, 0, rng, given, mem)
		jb.seedOnly = true
		if jb.phase == phaseIterate { // all k given
			jb.phase = phaseDone
		}
		return jb
	}, func(jb *job) { C = jb.C })
	if err != nil {
		return nil, err
	}
	return C, nil
}

// minDist is min for squared distances (≥ +0, never NaN): comparing bit
// patterns as integers compiles to a conditional move, where the float min
// needs extra instructions for NaN and signed zeros.
func minDist(a, b float64) float64 {
	ka, kb := int64(math.Float64bits(a)), int64(math.Float64bits(b))
	if kb < ka {
		ka = kb
	}
	return math.Float64frombits(uint64(ka))
}

// sampleD2 returns the first row whose cumulative weight exceeds r, where
// the cumulative weight is the chunk prefix plus a running sum inside the
// chunk: a definition that does not depend on how chunks were scheduled.
// weights(c) gives the weights of chunk c's rows.
func sampleD2(prefix []float64, r float64, n int, rng *rand.Rand, weights func(c int) []float64) int {
	nc := len(prefix) - 1
	if !(prefix[nc] > 0) {
		// Every row coincides with a centre; any row is as good as another.
		return rng.IntN(n)
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
		a, _ := chunkBounds(c, n)
		for q, v := range weights(c) {
			s += v
			if s > r && v > 0 {
				return a + q
			}
		}
	}
	// Rounding left r at or above the total: take the last row with weight.
	for c := nc - 1; c >= 0; c-- {
		a, _ := chunkBounds(c, n)
		w := weights(c)
		for q := len(w) - 1; q >= 0; q-- {
			if w[q] > 0 {
				return a + q
			}
		}
	}
	return 0
}
