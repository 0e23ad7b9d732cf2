package pipeline

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/configs"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/synth"
)

// TestPlanRunPredictsAttempt holds PlanRun to Run: for every situation a
// scheduler meets, the attempt id planned from listings alone is the one
// the run publishes under, and UpToDate is true exactly when re-running
// would publish the same thing.
func TestPlanRunPredictsAttempt(t *testing.T) {
	ctx := context.Background()
	in, out := objstore.NewMem(), objstore.NewMem()
	_, err := synth.Generate(ctx, in, synth.Config{Customers: 300, Seed: 7,
		Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(configs.Demo, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster.KRange = []int{3, 4}
	// A Hive partition dated after some as-of dates: pruned from those
	// runs' inputs, part of later ones'.
	part, err := objstore.ReadAll(ctx, in, "orders/part-00000.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Upload(ctx, "orders/dt=2025-07-15/part-00000.parquet", bytes.NewReader(part)); err != nil {
		t.Fatal(err)
	}
	date := func(s string) time.Time { d, _ := time.Parse(DateLayout, s); return d }
	opt := func(asOf string) Options {
		return Options{AsOf: date(asOf), Version: "test", RunID: "r-" + asOf, Logger: zerolog.Nop(), Input: in, Output: out}
	}
	steps := []struct {
		name     string
		asOf     string
		before   func(t *testing.T) // changes the world before planning
		upToDate bool               // what the plan must say before the run
		run      bool
	}{
		{"first date: no previous run", "2025-06-30", nil, false, true},
		{"same date again: up to date", "2025-06-30", nil, true, false},
		{"next date chains to the previous run's model", "2025-07-01", nil, false, true},
		{"a date after the late partition reads it", "2025-07-20", nil, false, true},
		{"an earlier date published later changes nothing before it", "2025-06-29", nil, false, true},
		{"the date after it now chains to a different previous run", "2025-06-30", nil, false, true},
		{"an input re-uploaded with the same bytes keeps its fingerprint", "2025-07-20", func(t *testing.T) {
			if err := in.Upload(ctx, "orders/dt=2025-07-15/part-00000.parquet", bytes.NewReader(part)); err != nil {
				t.Fatal(err)
			}
		}, true, false},
		{"an input is added", "2025-07-20", func(t *testing.T) {
			if err := in.Upload(ctx, "orders/dt=2025-07-16/part-00000.parquet", bytes.NewReader(part)); err != nil {
				t.Fatal(err)
			}
		}, false, true},
		{"the configuration changes", "2025-07-20", func(t *testing.T) { cfg.Seed++ }, false, true},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before(t)
		}
		plan, err := PlanRun(ctx, cfg, opt(s.asOf))
		if err != nil {
			t.Fatalf("%s: plan: %v", s.name, err)
		}
		if plan.UpToDate() != s.upToDate {
			t.Errorf("%s: UpToDate = %v, want %v", s.name, plan.UpToDate(), s.upToDate)
		}
		if !s.run {
			continue
		}
		res, err := Run(ctx, cfg, opt(s.asOf))
		if err != nil {
			t.Fatalf("%s: run: %v", s.name, err)
		}
		if res.Attempt != plan.Attempt {
			t.Errorf("%s: planned attempt %s, the run's is %s\nplanned inputs %+v\nrun's inputs   %+v",
				s.name, plan.Attempt, res.Attempt, plan.Inputs, res.Inputs)
		}
		after, err := PlanRun(ctx, cfg, opt(s.asOf))
		if err != nil {
			t.Fatal(err)
		}
		if !after.UpToDate() || after.Published.RunID != "r-"+s.asOf {
			t.Errorf("%s: after the run the plan is not up to date (published %+v)", s.name, after.Published)
		}
	}
}
