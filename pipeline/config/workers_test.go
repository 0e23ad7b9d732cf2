package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestWorkersBound: workers up to WorkersPerCore × GOMAXPROCS pass;
// more, or a billion, fail validation naming the path, its line and the
// limit.
func TestWorkersBound(t *testing.T) {
	limit := MaxWorkers()
	cases := []struct {
		workers int
		ok      bool
	}{
		{0, true},
		{1, true},
		{limit, true},
		{limit + 1, false},
		{300, 300 <= limit},
		{1_000_000_000, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.workers), func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(valid, "version: 1", fmt.Sprintf("version: 1\nworkers: %d", c.workers), 1)), noEnv)
			if c.ok {
				if err != nil {
					t.Fatalf("workers %d: %v", c.workers, err)
				}
				return
			}
			want := fmt.Sprintf("workers (line 3): must be at most %d", limit)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("workers %d: error %v, want %q", c.workers, err, want)
			}
		})
	}
}
