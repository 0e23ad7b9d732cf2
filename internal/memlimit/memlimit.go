// Package memlimit sets the Go runtime's memory policy for Strata's
// processes: a collection target lower than Go's default, and a soft
// memory limit under the container's, so that a pod collects garbage
// before the kernel kills it.
//
// A run's live heap is well below its peak: the collector lets the heap
// grow to twice the live data before it runs (GOGC=100), and a run's
// stages leave hundreds of megabytes of buffers behind them. On 1M
// customers / 20M orders the live heap peaks near 795 MiB and the process
// near 1.5 GiB; with a 900 MiB soft limit it peaks at 0.87 GiB.
// Under a cgroup limit the difference is an OOM kill, so Strata sets the
// runtime's limit to a fraction of the cgroup's, unless GOMEMLIMIT says
// otherwise.
package memlimit

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fraction of the cgroup limit given to the Go heap; the rest is for
// what the runtime does not count (stacks, the binary, page cache).
const Fraction = 0.9

// GCPercent is the collector's target unless GOGC says otherwise: the
// heap may grow to 1.5× the live data between collections instead of 2×.
// Strata's heap is mostly pointer-free columns, which a collection marks
// without scanning, so collecting more often costs little, while every
// megabyte of headroom is memory the process touches for the first time —
// a page fault each 4 KiB, dear on a VM. bench/e2e, `strata run`, 2 cores:
// 1M customers / 20M orders, peak 620–639 → 476–502 MiB, wall 7.1–7.6 →
// 6.5–7.5 s; 5M / 100M, peak 3,275 → 2,150 MiB, wall 42.4 → 35.6 s
// (system time 9.9 → 2.8 s, user 52.4 → 58.9 s).
const GCPercent = 50

// cgroupFiles are where cgroup v2 and v1 keep the memory limit.
var cgroupFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// Limit returns the soft limit to set for a cgroup memory limit read from
// files through read: Fraction of the first limit found, or false when
// there is none ("max", absent, or the v1 "no limit" sentinel).
func Limit(read func(path string) ([]byte, error)) (int64, bool) {
	for _, f := range cgroupFiles {
		data, err := read(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(data))
		n, err := strconv.ParseInt(s, 10, 64)
		// cgroup v1 says "no limit" with a huge page-aligned number.
		if err != nil || n <= 0 || n >= 1<<62 {
			continue
		}
		return int64(float64(n) * Fraction), true
	}
	return 0, false
}

// Apply sets the collection target to GCPercent, unless GOGC is set, and
// the runtime's soft memory limit from the cgroup's, unless GOMEMLIMIT is
// set (the runtime has applied both already). It returns the limit set,
// or 0.
func Apply() int64 {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	n, ok := Limit(os.ReadFile)
	if !ok {
		return 0
	}
	debug.SetMemoryLimit(n)
	return n
}

// Raise lifts the collection target to percent, unless GOGC is set or the
// target is at least that already, until the returned func restores it.
// It is for stretches whose allocations all stay live to their end, as
// the publish stage's columns do: a collection in the middle of one frees
// nothing, and while it marks, every allocation pays to help it (at 1M
// customers, building the segments table's columns took 132–139 ms at
// GCPercent, which collected once in the middle, and 34–63 ms at 100; the
// stage's peak stayed at 355–387 MiB). The target is the process's, so
// runs at once in one process share it; only their speed depends on it.
func Raise(percent int) (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(percent)
	if prev < 0 || prev >= percent {
		debug.SetGCPercent(prev)
		return func() {}
	}
	return func() { debug.SetGCPercent(prev) }
}
