package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// Schedule configures `strata serve`: when runs start and how failures
// are retried. None of it can change an output, so Hash ignores it.
type Schedule struct {
	// Cron is a cron expression: five fields (minute hour day month
	// weekday), or six with seconds first. Required by `strata serve`.
	Cron string `yaml:"cron"`
	// Timezone the cron expression and "today" are read in; default the
	// config's timezone, so a run's day and the schedule's day agree.
	Timezone string `yaml:"timezone"`
	// LagDays: a scheduled run processes today minus LagDays; default 1
	// (yesterday, the last complete day).
	LagDays *int `yaml:"lag_days"`
	// Retries of a run that failed transiently (storage timeouts, 5xx,
	// network); default 3. Configuration, schema and data-quality
	// failures are never retried: trying again cannot fix them.
	Retries *int `yaml:"retries"`
	// Backoff is the wait before the first retry, doubled before each next
	// one (at most MaxBackoff); a Go duration, default 1m.
	Backoff string `yaml:"backoff"`
	// GracePeriod is how long a stopping daemon (SIGTERM) lets a running
	// run finish before cancelling it, unpublished; default 30s. Keep it
	// below the supervisor's kill timeout.
	GracePeriod string `yaml:"grace_period"`
	// CatchUpDays: on start, the daemon runs the firings of the last
	// CatchUpDays days it missed (no ledger record of a scheduled run for
	// their date), oldest first; default 0, none. Older missed firings
	// are reported (notify: missed), not run.
	CatchUpDays *int `yaml:"catch_up_days"`
}

// API configures the daemon's HTTP API.
type API struct {
	// Listen is the address the API and /metrics listen on; default
	// 127.0.0.1:8080. `strata serve --listen` wins.
	Listen string `yaml:"listen"`
	// TokenEnv names the environment variable holding the bearer token of
	// the mutating endpoints; default STRATA_API_TOKEN. Unset or empty
	// disables them. The token itself never appears in a config file.
	TokenEnv string `yaml:"token_env"`
	// MaxConcurrentRuns bounds the runs and backfills started through the
	// API that run at once; beyond it, POSTs answer 429. Default 1 when
	// clustering is on (its dates chain, so they run one at a time
	// anyway), else 2.
	MaxConcurrentRuns *int `yaml:"max_concurrent_runs"`
}

// Schedule and API defaults.
const (
	DefaultLagDays     = 1
	DefaultRetries     = 3
	DefaultBackoff     = time.Minute
	MaxBackoff         = 30 * time.Minute
	DefaultGracePeriod = 30 * time.Second
	DefaultListen      = "127.0.0.1:8080"
	DefaultTokenEnv    = "STRATA_API_TOKEN"
	DefaultCatchUpDays = 0
	MaxCatchUpDays     = 31
)

// Lag returns LagDays with its default.
func (s Schedule) Lag() int {
	if s.LagDays == nil {
		return DefaultLagDays
	}
	return *s.LagDays
}

// RetryLimit returns Retries with its default.
func (s Schedule) RetryLimit() int {
	if s.Retries == nil {
		return DefaultRetries
	}
	return *s.Retries
}

// FirstBackoff returns Backoff with its default.
func (s Schedule) FirstBackoff() time.Duration { return durationOr(s.Backoff, DefaultBackoff) }

// Grace returns GracePeriod with its default.
func (s Schedule) Grace() time.Duration { return durationOr(s.GracePeriod, DefaultGracePeriod) }

// CatchUp returns CatchUpDays with its default.
func (s Schedule) CatchUp() int {
	if s.CatchUpDays == nil {
		return DefaultCatchUpDays
	}
	return *s.CatchUpDays
}

// MaxRuns returns api.max_concurrent_runs with its default.
func (c *Config) MaxRuns() int {
	if c.API.MaxConcurrentRuns != nil {
		return *c.API.MaxConcurrentRuns
	}
	if c.Cluster.On() {
		return 1
	}
	return 2
}

// ScheduleLocation returns the schedule's time zone: its own, else the
// config's.
func (c *Config) ScheduleLocation() *time.Location {
	if c.Schedule.Timezone == "" {
		return c.Location()
	}
	loc, err := time.LoadLocation(c.Schedule.Timezone)
	if err != nil {
		return time.UTC // validate rejects this before anything runs.
	}
	return loc
}

// ListenAddr returns Listen with its default.
func (a API) ListenAddr() string { return cmpOr(a.Listen, DefaultListen) }

// TokenVar returns TokenEnv with its default.
func (a API) TokenVar() string { return cmpOr(a.TokenEnv, DefaultTokenEnv) }

// CheckCron reports whether expr is a cron expression the daemon accepts
// (five fields, or six with seconds first, or a descriptor like @daily).
func CheckCron(expr string, loc *time.Location) error {
	// The seconds-optional parser takes both forms, so users need not
	// say which one they wrote.
	if err := gocron.NewDefaultCron(true).IsValid(expr, loc, time.Now()); err != nil {
		// gocron joins its own wording and the parser's on two lines;
		// the parser's says what is wrong.
		msg := err.Error()
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return fmt.Errorf("bad cron expression %q (%s): want five fields (minute hour day-of-month month day-of-week), six with seconds first, or a descriptor such as @daily", expr, msg)
	}
	return nil
}

func durationOr(s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return def // validate rejects this before anything runs.
	}
	return d
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *Config) validateSchedule(add func(path, msg string, args ...any)) {
	s := c.Schedule
	loc := c.Location()
	if s.Timezone != "" {
		var err error
		if loc, err = time.LoadLocation(s.Timezone); err != nil {
			add("schedule.timezone", "unknown time zone %q", s.Timezone)
			loc = time.UTC
		}
	}
	if s.Cron != "" {
		if err := CheckCron(s.Cron, loc); err != nil {
			add("schedule.cron", "%v", err)
		}
	}
	if l := s.Lag(); l < 0 || l > 366 {
		add("schedule.lag_days", "must be between 0 (today) and 366, got %d", l)
	}
	if r := s.RetryLimit(); r < 0 || r > 100 {
		add("schedule.retries", "must be between 0 and 100, got %d", r)
	}
	for _, d := range []struct{ path, val string }{{"schedule.backoff", s.Backoff}, {"schedule.grace_period", s.GracePeriod}} {
		if d.val == "" {
			continue
		}
		if v, err := time.ParseDuration(d.val); err != nil || v < 0 {
			add(d.path, "must be a duration such as 30s, 5m or 1h, got %q", d.val)
		}
	}
	if a := c.API.Listen; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			add("api.listen", "must be host:port (e.g. 127.0.0.1:8080 or :8080), got %q", a)
		}
	}
	if e := c.API.TokenEnv; e != "" && !envName.MatchString(e) {
		add("api.token_env", "must be the name of an environment variable (letters, digits, _), got %q", e)
	}
	if n := s.CatchUp(); n < 0 || n > MaxCatchUpDays {
		add("schedule.catch_up_days", "must be between 0 (no catch-up) and %d, got %d", MaxCatchUpDays, n)
	}
	if m := c.API.MaxConcurrentRuns; m != nil && (*m < 1 || *m > 64) {
		add("api.max_concurrent_runs", "must be between 1 and 64, got %d", *m)
	}
	c.validateNotify(add)
}
