package memlimit

import (
	"errors"
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
