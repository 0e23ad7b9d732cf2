package memlimit

import (
	"runtime/debug"
	"testing"
	"testing/fstest"
)

// TestFind builds fake /proc and /sys/fs/cgroup trees: the limit is the
// tightest of the process's own cgroup (from /proc/self/cgroup, v2 or the
// v1 memory controller) and its ancestors, the roots included.
func TestFind(t *testing.T) {
	const self = "proc/self/cgroup"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
		file  string
		ok    bool
	}{
		{"cgroup v2 limit at the root (cgroupns)", map[string]string{self: "0::/\n", "sys/fs/cgroup/memory.max": "3221225472\n"},
			3221225472, "sys/fs/cgroup/memory.max", true},
		{"cgroup v2 unlimited", map[string]string{self: "0::/\n", "sys/fs/cgroup/memory.max": "max\n"}, 0, "", false},
		{"cgroup v2 limit on the process's own cgroup", map[string]string{
			self:                                    "0::/system.slice/strata.service\n",
			"sys/fs/cgroup/system.slice/memory.max": "max\n",
			"sys/fs/cgroup/system.slice/strata.service/memory.max": "536870912\n",
		}, 536870912, "sys/fs/cgroup/system.slice/strata.service/memory.max", true},
		{"cgroup v2 tighter limit on an ancestor", map[string]string{
			self:                                     "0::/kubepods/pod1/ctr\n",
			"sys/fs/cgroup/kubepods/pod1/memory.max": "1073741824",
			"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "2147483648",
			"sys/fs/cgroup/kubepods/memory.max":          "max",
		}, 1073741824, "sys/fs/cgroup/kubepods/pod1/memory.max", true},
		{"cgroup v1 memory controller", map[string]string{
			self: "12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":            "9223372036854771712",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "1073741824",
		}, 1073741824, "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", true},
		{"cgroup v1 path hidden, limit at the mount root", map[string]string{
			self: "4:memory:/docker/abc\n", "sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824",
		}, 1073741824, "sys/fs/cgroup/memory/memory.limit_in_bytes", true},
		{"cgroup v1 unlimited", map[string]string{self: "4:memory:/\n", "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, "", false},
		{"v2 unlimited, v1 limited", map[string]string{"sys/fs/cgroup/memory.max": "max",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824"}, 1073741824, "sys/fs/cgroup/memory/memory.limit_in_bytes", true},
		{"no /proc/self/cgroup: the roots", map[string]string{"sys/fs/cgroup/memory.max": "1073741824"}, 1073741824, "sys/fs/cgroup/memory.max", true},
		{"a path that climbs out", map[string]string{self: "0::/../../etc\n", "sys/fs/cgroup/memory.max": "1073741824"}, 1073741824, "sys/fs/cgroup/memory.max", true},
		{"no cgroup", nil, 0, "", false},
		{"garbage", map[string]string{self: "garbage", "sys/fs/cgroup/memory.max": "lots"}, 0, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for p, body := range tc.files {
				fsys[p] = &fstest.MapFile{Data: []byte(body)}
			}
			got, ok := Find(fsys)
			if got.Cgroup != tc.want || got.File != tc.file || ok != tc.ok {
				t.Errorf("Find = %+v, %v; want %d from %s, %v", got, ok, tc.want, tc.file, tc.ok)
			}
			if ok && got.Soft != int64(float64(tc.want)*Fraction) {
				t.Errorf("soft limit %d, want %v of %d", got.Soft, Fraction, tc.want)
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
	Apply(fstest.MapFS{})
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, GCPercent)
	}
	t.Setenv("GOGC", "100")
	Apply(fstest.MapFS{})
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
