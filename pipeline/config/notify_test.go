package config

import (
	"slices"
	"strings"
	"testing"
)

// TestOperationsKeys: notify, schedule.catch_up_days and
// api.max_concurrent_runs parse with their defaults, are checked, and do
// not change the config hash.
func TestOperationsKeys(t *testing.T) {
	cfg, err := Parse([]byte(valid+`schedule:
  cron: "0 3 * * *"
  catch_up_days: 3
api:
  max_concurrent_runs: 4
notify:
  - url_env: HOOK_A
  - url_env: HOOK_B
    format: slack
    on: [failed, missed]
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Schedule.CatchUp() != 3 || cfg.MaxRuns() != 4 || len(cfg.Notify) != 2 {
		t.Errorf("parsed %+v %+v %+v", cfg.Schedule, cfg.API, cfg.Notify)
	}
	if a := cfg.Notify[0]; a.FormatOr() != "json" || !slices.Equal(a.Events(), NotifyEvents) {
		t.Errorf("defaults of a webhook: %s %v", a.FormatOr(), a.Events())
	}
	if b := cfg.Notify[1]; b.FormatOr() != "slack" || !slices.Equal(b.Events(), []string{"failed", "missed"}) {
		t.Errorf("webhook %+v", b)
	}
	def, err := Parse([]byte(valid), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if def.Schedule.CatchUp() != 0 || def.MaxRuns() != 1 {
		t.Errorf("defaults: catch-up %d, max runs %d (clustering on: 1)", def.Schedule.CatchUp(), def.MaxRuns())
	}
	off := false
	def.Cluster.Enabled = &off
	if def.MaxRuns() != 2 {
		t.Errorf("max runs without clustering: %d, want 2", def.MaxRuns())
	}
	c := *cfg
	c.Schedule, c.API, c.Notify = Schedule{}, API{}, nil
	if cfg.Hash() != c.Hash() {
		t.Error("notify, catch_up_days or max_concurrent_runs change the config hash")
	}

	_, err = Parse([]byte(valid+`schedule:
  catch_up_days: 40
api:
  max_concurrent_runs: 0
notify:
  - format: teams
    on: [failed, exploded]
  - url_env: "not a name"
`), noEnv)
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("error %v", err)
	}
	msg := ps.Error()
	for _, want := range []string{"schedule.catch_up_days (line", "api.max_concurrent_runs (line", "notify[0].url_env (line 15): is required",
		`notify[0].format (line`, `notify[0].on[1] (line`, `unknown event "exploded"`, `notify[1].url_env (line`} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
}
