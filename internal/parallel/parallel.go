// Package parallel shares a range of indexes out among goroutines.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Ranges calls f for consecutive ranges [lo, hi) of [0, n), each chunk
// long but the last, that together cover it once, from up to workers
// goroutines (≤ 0: GOMAXPROCS), and returns when every call has. The
// goroutines take the next range as they finish one, so they end
// together; which goroutine takes which range varies, so f must give the
// same result whatever the order (write to its own range, or add
// integers).
func Ranges(n, chunk, workers int, f func(lo, hi int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	chunks := (n + chunk - 1) / chunk
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, chunks) {
		wg.Go(func() {
			for k := int(next.Add(1)) - 1; k < chunks; k = int(next.Add(1)) - 1 {
				f(k*chunk, min((k+1)*chunk, n))
			}
		})
	}
	wg.Wait()
}
