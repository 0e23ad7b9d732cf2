package config

import (
	"strings"
	"testing"
	"time"
)

func TestScheduleAndAPI(t *testing.T) {
	cfg, err := Parse([]byte(valid+`timezone: Europe/Berlin
schedule:
  cron: "30 2 * * *"
  lag_days: 2
  retries: 5
  backoff: 30s
  grace_period: 2m
api:
  listen: 0.0.0.0:9090
  token_env: MY_TOKEN
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Schedule
	if s.Lag() != 2 || s.RetryLimit() != 5 || s.FirstBackoff() != 30*time.Second || s.Grace() != 2*time.Minute ||
		cfg.ScheduleLocation().String() != "Europe/Berlin" || cfg.API.ListenAddr() != "0.0.0.0:9090" || cfg.API.TokenVar() != "MY_TOKEN" {
		t.Errorf("parsed %+v %+v", s, cfg.API)
	}

	def, err := Parse([]byte(valid), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if d := def.Schedule; d.Lag() != 1 || d.RetryLimit() != 3 || d.FirstBackoff() != time.Minute || d.Grace() != 30*time.Second ||
		def.ScheduleLocation() != time.UTC || def.API.ListenAddr() != "127.0.0.1:8080" || def.API.TokenVar() != "STRATA_API_TOKEN" {
		t.Errorf("defaults %+v %+v", d, def.API)
	}
	// When and how runs are scheduled cannot change an output.
	if cfg.Hash() != func() string { c := *cfg; c.Schedule, c.API = Schedule{}, API{}; return c.Hash() }() {
		t.Error("the schedule changes the config hash")
	}
	zero := 0
	lagged := *def
	lagged.Schedule.LagDays = &zero
	if lagged.Hash() != def.Hash() {
		t.Error("lag_days changes the config hash")
	}
}

func TestScheduleProblems(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"bad cron", "schedule:\n  cron: \"61 * * * *\"\n", []string{"schedule.cron (line 11): bad cron expression \"61 * * * *\""}},
		{"too many fields", "schedule:\n  cron: \"* * * * * * *\"\n", []string{"schedule.cron (line 11): bad cron expression"}},
		{"seconds are fine", "schedule:\n  cron: \"*/10 * * * * *\"\n", nil},
		{"descriptor", "schedule:\n  cron: \"@daily\"\n", nil},
		{"bad zone", "schedule:\n  cron: \"0 3 * * *\"\n  timezone: Moon/Base\n", []string{"schedule.timezone (line 12): unknown time zone \"Moon/Base\""}},
		{"negative lag", "schedule:\n  lag_days: -1\n", []string{"schedule.lag_days (line 11): must be between 0 (today) and 366, got -1"}},
		{"bad retries", "schedule:\n  retries: 1000\n", []string{"schedule.retries (line 11): must be between 0 and 100"}},
		{"bad backoff", "schedule:\n  backoff: 5 minutes\n", []string{"schedule.backoff (line 11): must be a duration such as 30s, 5m or 1h, got \"5 minutes\""}},
		{"negative grace", "schedule:\n  grace_period: -1s\n", []string{"schedule.grace_period (line 11): must be a duration"}},
		{"bad listen", "api:\n  listen: localhost\n", []string{"api.listen (line 11): must be host:port"}},
		{"bad env name", "api:\n  token_env: MY-TOKEN\n", []string{"api.token_env (line 11): must be the name of an environment variable"}},
		{"typo", "schedule:\n  crom: \"0 3 * * *\"\n", []string{"schedule.crom (line 11): unknown key; did you mean \"cron\"?"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(valid+tc.yaml), noEnv)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected problems: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no problem reported")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
