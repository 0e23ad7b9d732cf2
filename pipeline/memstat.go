package pipeline

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/rs/zerolog"
)

// The stage logs carry the process's peak resident memory during each
// stage, which is what an operator sizing a pod needs, per stage: Linux
// keeps the high-water mark in /proc/self/status (VmHWM), and writing 5 to
// /proc/self/clear_refs resets it. Elsewhere, or where /proc is not
// writable, the figure is the peak since the process started, or absent.
// With several runs in one process (a backfill with --parallel) the figure
// is the process's, not the stage's alone. The kernel's maximum resident
// size in getrusage (what GNU time prints) is reset with it, so GNU time
// reports the last stage's peak; the run's peak is the largest stage's,
// which Result.PeakRSSMiB, the last stage's log line (run_peak_rss_mib)
// and the ledger (peak_rss_mib) give.

// resetPeakRSS starts a new high-water mark; it is advice.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMiB is the high-water mark of resident memory in MiB, or -1.
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "VmHWM:" {
			kb, err := strconv.ParseFloat(string(f[1]), 64)
			if err != nil {
				return -1
			}
			return kb / 1024
		}
	}
	return -1
}

// A run's peak resident memory grows with its customers: bench/e2e peaks
// at 377 MiB for 1M customers and 20M orders (docs/performance.md), about
// 395 bytes a customer; the estimate adds a sixth and a base for the
// process itself. It is a warning's threshold, not a promise.
const (
	needPerCustomer = 460
	needBase        = 64 << 20
)

// memoryNeed is the estimated peak of a run over customers.
func memoryNeed(customers int) int64 { return needBase + int64(customers)*needPerCustomer }

// memoryRisk reports the estimated need of a run over customers when the
// soft memory limit (debug.SetMemoryLimit's; math.MaxInt64 when none) is
// below it: the collector then runs without pause and, under a cgroup
// limit, the kernel kills the process without a word of its own.
func memoryRisk(customers int, limit int64) (need int64, risky bool) {
	need = memoryNeed(customers)
	return need, limit < need
}

// warnMemory logs the OOM risk of a run over customers, if any.
func warnMemory(l zerolog.Logger, customers int) {
	limit := debug.SetMemoryLimit(-1)
	if need, risky := memoryRisk(customers, limit); risky {
		l.Warn().Int("customers", customers).Float64("soft_limit_mib", float64(limit)/(1<<20)).
			Float64("estimated_need_mib", float64(need)/(1<<20)).
			Msg("the memory limit is below this run's estimated need: expect the collector to run without pause, or an OOM kill; raise the container's memory limit (or GOMEMLIMIT), or shard the run")
	}
}
