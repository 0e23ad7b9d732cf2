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

// TestProcessCPUCounts: busy work shows in the process's processor time.
// It works until the count moves, however long a loaded machine takes to
// give it 20 ms of a processor (go test's timeout is the guard), rather
// than against a wall-clock deadline.
func TestProcessCPUCounts(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no processor time here")
	}
	before := processCPU()
	if before < 0 {
		t.Fatal("no processor time")
	}
	x := 0.0
	for processCPU()-before < 20*time.Millisecond {
		for i := range 100000 {
			x += float64(i)
		}
	}
	if x <= 0 {
		t.Fatal("the work did nothing")
	}
}
