package pipeline

import (
	"runtime"
	"testing"
	"time"
)

func TestStageCPU(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after time.Duration
		want          float64
	}{
		{"both known", 2 * time.Second, 3500 * time.Millisecond, 1.5},
		{"nothing spent", time.Second, time.Second, 0},
		{"before unknown", -1, time.Second, -1},
		{"after unknown", time.Second, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stageCPU(tc.before, tc.after); got != tc.want {
				t.Errorf("stageCPU(%v, %v) = %v, want %v", tc.before, tc.after, got, tc.want)
			}
		})
	}
}

// TestProcessCPUCounts: busy work shows in the process's processor time
// (waited for, up to a few seconds: a loaded machine gives the test little
// of a processor).
func TestProcessCPUCounts(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no processor time here")
	}
	before := processCPU()
	if before < 0 {
		t.Fatal("no processor time")
	}
	x := 0.0
	for deadline := time.Now().Add(10 * time.Second); processCPU()-before < 20*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("processor time still %v after 10 s of work (%v)", processCPU()-before, x)
		}
		for i := range 100000 {
			x += float64(i)
		}
	}
}
