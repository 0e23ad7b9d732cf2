package pipeline

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
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
