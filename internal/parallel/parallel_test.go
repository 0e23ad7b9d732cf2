package parallel

import (
	"sync"
	"testing"
)

// TestRangesCoverOnce: every index is in exactly one range, the ranges
// are chunk long but the last, for any number of workers.
func TestRangesCoverOnce(t *testing.T) {
	for _, tc := range []struct{ n, chunk, workers int }{
		{0, 4, 2}, {1, 4, 2}, {4, 4, 3}, {17, 4, 1}, {17, 4, 2}, {17, 4, 8}, {1000, 7, 0},
	} {
		seen := make([]int, tc.n)
		var mu sync.Mutex
		Ranges(tc.n, tc.chunk, tc.workers, func(lo, hi int) {
			if lo%tc.chunk != 0 || (hi-lo != tc.chunk && hi != tc.n) || hi <= lo {
				t.Errorf("%+v: range [%d, %d)", tc, lo, hi)
			}
			mu.Lock()
			defer mu.Unlock()
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		for i, k := range seen {
			if k != 1 {
				t.Fatalf("%+v: index %d covered %d times", tc, i, k)
			}
		}
	}
}
