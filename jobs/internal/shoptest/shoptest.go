// Package shoptest makes small synthetic shops and configurations for the
// tests of the scheduler, the ledger and backfills: a few hundred
// customers, so that a run takes a fraction of a second.
package shoptest

import (
	"context"
	"testing"
	"time"

	"github.com/strata-oss/strata/configs"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/synth"
)

// Window is the generated shop's history; dates in it make good as-of
// dates.
var (
	Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	End   = time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
)

// Generate writes a shop of n customers into in.
func Generate(t testing.TB, in objstore.Bucket, n int) {
	t.Helper()
	// Seed 1: the CLV fits converge on every date of the window at this
	// size (some seeds' small shops defeat the Gamma-Gamma fit).
	if _, err := synth.Generate(context.Background(), in, synth.Config{Customers: n, Seed: 1, Start: Start, End: End}); err != nil {
		t.Fatalf("generate shop: %v", err)
	}
}

// Config is the demo configuration made fast for the tests of runs,
// commits and the daemon, which check what a run does, not its models: a
// narrow k range, one purchase model instead of auto's candidates, and no
// per-customer bounds (their draws were most of a run's time under the
// race detector). It is located at the given places (tests usually pass
// buckets to the runner instead).
func Config(t testing.TB, input, output string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(configs.Demo, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Input.Location, cfg.Output.Location = input, output
	cfg.Cluster.KRange = []int{3, 4}
	cfg.Cluster.NInit = 3
	cfg.CLV.Model = "bgnbd"
	noBounds := 0
	cfg.CLV.IntervalDraws = &noBounds
	cfg.Schedule.Backoff = "50ms"
	return cfg
}

// Date parses YYYY-MM-DD or fails t.
func Date(t testing.TB, s string) time.Time {
	t.Helper()
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
