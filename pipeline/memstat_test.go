package pipeline

import (
	"math"
	"runtime"
	"syscall"
	"testing"
)

// TestPeakRSSFollowsAllocation touches 256 MiB mapped outside the Go heap
// and unmaps it, so that neither the collector, the scavenger nor the race
// detector's shadow memory decides what the kernel counts: the high-water
// mark must rise by the touched pages, and a reset must bring it back
// down to what is resident now.
func TestPeakRSSFollowsAllocation(t *testing.T) {
	if runtime.GOOS != "linux" {
		if peakRSSMiB() != -1 {
			t.Fatal("no /proc: want -1")
		}
		return
	}
	const size = 256 << 20
	before := peakRSSMiB()
	if before <= 0 {
		t.Fatalf("peak RSS %v", before)
	}
	buf, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	grown := peakRSSMiB()
	if grown < before+200 {
		t.Fatalf("peak RSS %v MiB after touching 256 MiB, %v before", grown, before)
	}
	if err := syscall.Munmap(buf); err != nil {
		t.Fatal(err)
	}
	resetPeakRSS()
	if after := peakRSSMiB(); after > grown-200 {
		t.Errorf("peak RSS %v MiB after unmapping and a reset; %v at the peak", after, grown)
	}
}

func TestRunPeakIsTheLargestStage(t *testing.T) {
	r := &Result{Stages: []StageTiming{{Stage: "extract", PeakRSSMiB: 120}, {Stage: "features", PeakRSSMiB: 380}, {Stage: "publish", PeakRSSMiB: 95}}}
	if got := r.PeakRSSMiB(); got != 380 {
		t.Errorf("run peak %v, want 380", got)
	}
	if got := (&Result{Stages: []StageTiming{{PeakRSSMiB: -1}}}).PeakRSSMiB(); got != 0 {
		t.Errorf("run peak without figures %v, want 0", got)
	}
}

func TestMemoryRisk(t *testing.T) {
	cases := []struct {
		name      string
		customers int
		limit     int64
		risky     bool
	}{
		{"no limit", 20_000_000, math.MaxInt64, false},
		{"1M customers in 2 GiB", 1_000_000, 2 << 30, false},
		{"1M customers in 256 MiB", 1_000_000, 256 << 20, true},
		{"20M customers in 8 GiB", 20_000_000, 8 << 30, true},
		{"small shop in 128 MiB", 3_000, 128 << 20, false},
	}
	for _, c := range cases {
		need, risky := memoryRisk(c.customers, c.limit)
		if risky != c.risky {
			t.Errorf("%s: need %d MiB, limit %d MiB: risky %v, want %v", c.name, need>>20, c.limit>>20, risky, c.risky)
		}
	}
	// The estimate covers what bench/e2e measured: 377 MiB at 1M.
	if need := memoryNeed(1_000_000); need < 377<<20 {
		t.Errorf("need at 1M customers %d MiB, below the measured peak", need>>20)
	}
}
