package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/strata-oss/strata/internal/memlimit"
)

// TestLogsMemoryLimit: a process under a cgroup memory limit says so at
// its start, with the figures and where the limit was found.
func TestLogsMemoryLimit(t *testing.T) {
	var stdout, stderr bytes.Buffer
	limit := memlimit.Found{Cgroup: 1 << 30, Soft: 966367641, File: "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes"}
	if code := runLimited(context.Background(), []string{"version", "--log-format", "json"}, &stdout, &stderr, limit, true); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{`"cgroup_limit_bytes":1073741824`, `"soft_limit_bytes":966367641`, `"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log %q lacks %s", stderr.String(), want)
		}
	}
}
