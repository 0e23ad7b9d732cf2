package pipeline

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestPeakRSSFollowsAllocation: the high-water mark grows when the process
// touches more memory, and a reset brings it back down to what is resident.
func TestPeakRSSFollowsAllocation(t *testing.T) {
	if runtime.GOOS != "linux" {
		if peakRSSMiB() != -1 {
			t.Fatal("no /proc: want -1")
		}
		return
	}
	before := peakRSSMiB()
	if before <= 0 {
		t.Fatalf("peak RSS %v", before)
	}
	buf := make([]byte, 256<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	grown := peakRSSMiB()
	if grown < before+200 {
		t.Fatalf("peak RSS %v MiB after touching 256 MiB, %v before", grown, before)
	}
	buf = nil
	runtime.GC()
	debugFreeOSMemory()
	resetPeakRSS()
	if after := peakRSSMiB(); after > grown-200 {
		t.Errorf("peak RSS %v MiB after freeing and a reset; %v at the peak", after, grown)
	}
	runtime.KeepAlive(buf)
}

func debugFreeOSMemory() { debug.FreeOSMemory() }
