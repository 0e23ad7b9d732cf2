package memlimit

import (
	"errors"
	"runtime/debug"
	"testing"
)

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
		ok    bool
	}{
		{"cgroup v2 limit", map[string]string{"/sys/fs/cgroup/memory.max": "3221225472\n"}, 2899102924, true},
		{"cgroup v2 unlimited", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0, false},
		{"cgroup v1 limit", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824"}, 966367641, true},
		{"cgroup v1 unlimited", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, false},
		{"v2 unlimited, v1 limited", map[string]string{"/sys/fs/cgroup/memory.max": "max",
			"/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824"}, 966367641, true},
		{"no cgroup", nil, 0, false},
		{"garbage", map[string]string{"/sys/fs/cgroup/memory.max": "lots"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Limit(func(p string) ([]byte, error) {
				if s, ok := tc.files[p]; ok {
					return []byte(s), nil
				}
				return nil, errors.New("no such file")
			})
			if got != tc.want || ok != tc.ok {
				t.Errorf("Limit = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestApplySetsGCPercent: without GOGC, Apply lowers the collection
// target to GCPercent; with GOGC set, it leaves the runtime's alone.
func TestApplySetsGCPercent(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB") // keep the memory limit out of it
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	Apply()
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, GCPercent)
	}
	t.Setenv("GOGC", "100")
	Apply()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=100: GC percent %d, want it left at 100", got)
	}
}

// TestRaise: Raise lifts a lower target and restores it, leaves a higher
// one or collection off alone, and does nothing when GOGC is set.
func TestRaise(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	for _, tc := range []struct{ before, during int }{{50, 100}, {100, 100}, {200, 200}, {-1, -1}} {
		debug.SetGCPercent(tc.before)
		restore := Raise(100)
		if got := debug.SetGCPercent(tc.during); got != tc.during {
			t.Errorf("before %d: during %d, want %d", tc.before, got, tc.during)
		}
		restore()
		if got := debug.SetGCPercent(tc.before); got != tc.before {
			t.Errorf("before %d: restored to %d", tc.before, got)
		}
	}
	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	restore := Raise(100)
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("with GOGC=50: during %d, want it left at 50", got)
	}
	restore()
}
