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
	"io/fs"
	"os"
	"path"
	"runtime/debug"
	"slices"
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

// A Found is a memory limit found in the process's cgroups.
type Found struct {
	// Cgroup is the tightest limit, in bytes, of the process's cgroup and
	// its ancestors; File the file that set it (under the file system
	// root given).
	Cgroup int64
	File   string
	// Soft is the runtime's soft limit for it: Fraction of Cgroup.
	Soft int64
}

// v1Unlimited: cgroup v1 says "no limit" with a huge page-aligned number.
const v1Unlimited = 1 << 62

// Find looks for the memory limit of the process's own cgroup in fsys, a
// file system rooted at "/" (os.DirFS("/"); a test's fake tree): the
// cgroup that /proc/self/cgroup names — the v2 unified line "0::/path",
// or the v1 line of the "memory" controller — and each of its ancestors up
// to the hierarchy's root, whose memory.max (v2) or
// memory.limit_in_bytes (v1) may each be the limit; the tightest wins.
// A container whose cgroup namespace hides the path has its own cgroup
// mounted at the root, which is read last either way. Reading the root
// alone, as before, missed a limit set on the process's cgroup in a
// shared hierarchy (systemd's MemoryMax, a v1 Docker without cgroupns):
// no soft limit, and the kernel killed runs without an error line.
// false means no limit ("max", absent files, the v1 sentinel).
func Find(fsys fs.FS) (Found, bool) {
	var best Found
	var ok bool
	consider := func(file string) {
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil || n <= 0 || n >= v1Unlimited {
			return
		}
		if !ok || n < best.Cgroup {
			best, ok = Found{Cgroup: n, File: file}, true
		}
	}
	v2, v1 := cgroupPaths(fsys)
	walk("sys/fs/cgroup", v2, "memory.max", consider)
	walk("sys/fs/cgroup/memory", v1, "memory.limit_in_bytes", consider)
	if ok {
		best.Soft = int64(float64(best.Cgroup) * Fraction)
	}
	return best, ok
}

// cgroupPaths reads the process's v2 cgroup and v1 memory cgroup from
// /proc/self/cgroup ("" when absent or unreadable: the roots are still
// read). Its lines are "hierarchy-id:controllers:path".
func cgroupPaths(fsys fs.FS) (v2, v1 string) {
	data, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return "", ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			v1 = parts[2]
		}
	}
	return v2, v1
}

// walk calls consider with file in the cgroup dir at rel under root and
// in every ancestor, up to and including root. A path that climbs out
// ("..") is read at the root only.
func walk(root, rel, file string, consider func(string)) {
	dir := path.Clean("/" + rel)
	for {
		p := path.Join(root, dir, file)
		if strings.HasPrefix(p, root+"/") {
			consider(p)
		}
		if dir == "/" {
			return
		}
		dir = path.Dir(dir)
	}
}

// Apply sets the collection target to GCPercent, unless GOGC is set, and
// the runtime's soft memory limit from the limit of the process's cgroup
// in fsys (os.DirFS("/")), unless GOMEMLIMIT is set (the runtime has
// applied both already). It returns the limit found and set, if any.
func Apply(fsys fs.FS) (Found, bool) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return Found{}, false
	}
	f, ok := Find(fsys)
	if !ok {
		return Found{}, false
	}
	debug.SetMemoryLimit(f.Soft)
	return f, true
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
