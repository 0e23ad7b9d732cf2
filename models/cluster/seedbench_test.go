package cluster

import (
	"context"
	"testing"
)

// BenchmarkSeedE2E is the k-means++ seeding of BenchmarkKMeansE2E alone:
// 1M rows, d = 3, k = 8, 10 restarts two at a time (maxSlots(3)), one
// worker, seeds only. In a fit the two slots seed together only at the
// start: later a restart seeds while the other iterates, as in /alone.
func BenchmarkSeedE2E(b *testing.B) {
	b.Run("paired", func(b *testing.B) { benchSeed(b, maxSlots(3)) })
	b.Run("alone", func(b *testing.B) { benchSeed(b, 1) })
}

func benchSeed(b *testing.B, slots int) {
	const n, d, k, nInit = 1_000_000, 3, 8, 10
	X := customerLike(n, d)
	p := fitParams{k: k, kern: newKernel(d), algo: Lloyd}
	b.ResetTimer()
	for b.Loop() {
		r := 0
		err := runJobs(context.Background(), X, 1, slots, func(mem *jobMem) *job {
			if r == nInit {
				return nil
			}
			jb := newJob(X, p, r, newRestartRNG(1, r), nil, mem)
			jb.seedOnly = true
			r++
			return jb
		}, func(*job) {})
		if err != nil {
			b.Fatal(err)
		}
	}
}
