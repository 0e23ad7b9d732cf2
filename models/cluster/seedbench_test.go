package cluster

import (
	"context"
	"testing"
)

// BenchmarkSeedE2E is the k-means++ seeding of BenchmarkKMeansE2E alone:
// 1M rows, d = 3, k = 8, 10 restarts two at a time (maxSlots(3)), one
// worker, seeds only.
func BenchmarkSeedE2E(b *testing.B) {
	const n, d, k, nInit = 1_000_000, 3, 8, 10
	X := customerLike(n, d)
	p := fitParams{k: k, kern: newKernel(d), algo: Lloyd}
	b.ResetTimer()
	for b.Loop() {
		r := 0
		err := runJobs(context.Background(), X, 1, maxSlots(d), func(mem *jobMem) *job {
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
