// Package daemon is `strata serve`: it runs the configured schedule with
// gocron, serves the HTTP API (runs, backfills, health, Prometheus
// metrics) and shuts down without ever leaving half a run behind.
//
// Every run goes through jobs.Runner, so it holds its date's lease (two
// daemons on one output location never run a date at once; the loser
// skips), is recorded in the run ledger, and is skipped when the date is
// already published with the same configuration and inputs.
//
// On shutdown (the context passed to Run ends: SIGTERM, Ctrl-C) the
// daemon stops being ready, starts nothing new, and gives running runs
// the grace period to finish; then it cancels them, which aborts them
// before their commit point, so they publish nothing, and the ledger says
// so.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/jobs/notify"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
)

// JobName is the scheduled job's name in gocron and in logs.
const JobName = "strata-scheduled-run"

// abortWait bounds the wait for cancelled runs to return.
const abortWait = 30 * time.Second

// Options configure a daemon. Only Listen or Listener is required.
type Options struct {
	// Listen is the API's address; default the config's api.listen.
	Listen string
	// Listener, if set, is used instead of listening on Listen (tests).
	Listener net.Listener
	// Token guards the mutating endpoints; empty disables them. TokenEnv
	// names where it came from, for the message that says how to enable
	// them.
	Token, TokenEnv string
	Logger          zerolog.Logger
	// Runner configures the runs; its Logger is replaced by Logger.
	Runner jobs.RunnerOptions
	// Clock drives the schedule and stamps API runs; default the real
	// clock. Tests pass a fake one and advance it, so that a firing is an
	// event they cause rather than a moment they wait for.
	Clock clockwork.Clock
	// AsOfFor maps the time a scheduled run fires to the date it
	// processes; default AsOfFor(fired, schedule zone, lag_days). Tests
	// compress days into seconds with it.
	AsOfFor func(fired time.Time) time.Time
	// Grace overrides schedule.grace_period (tests).
	Grace *time.Duration
	// Notify tunes the delivery of the config's notify: webhooks; its
	// Logger is replaced by Logger.
	Notify notify.Options
}

// Daemon is a running `strata serve`.
type Daemon struct {
	cfg     *config.Config
	opt     Options
	log     zerolog.Logger
	runner  *jobs.Runner
	metrics *metrics
	clock   clockwork.Clock
	asOfFor func(time.Time) time.Time
	grace   time.Duration

	ready atomic.Bool
	// runCtx is the parent of every run; it is not the context Run was
	// given, so that a shutdown signal does not cancel runs before their
	// grace period.
	runCtx    context.Context
	cancelRun context.CancelCauseFunc

	// scheduledBusy makes scheduled runs singletons: a firing that comes
	// while the previous scheduled run (or its retries) is going is
	// skipped. It is ours rather than gocron's singleton mode so that the
	// run is over, for anyone who waits on it, when the task returns.
	scheduledBusy atomic.Bool
	// active counts units of work (scheduled runs, API runs, backfills);
	// firings counts the schedule's firings handled to their end.
	active, firings atomic.Int64

	// notifier sends the config's alerts; lockedStreak counts the
	// consecutive scheduled firings whose date was locked.
	notifier     *notify.Notifier
	lockedStreak atomic.Int64
	// apiSlots bounds the runs and backfills started through the API
	// (api.max_concurrent_runs).
	apiSlots chan struct{}
	// caughtUp is closed when the catch-up at start is over.
	caughtUp chan struct{}

	mu        sync.Mutex
	draining  bool
	wg        sync.WaitGroup
	pending   map[string]*ledger.Record // accepted API runs not yet in the ledger
	backfills map[string]*jobs.BackfillProgress
}

// AsOfFor is the date a run fired at fired processes: the calendar day of
// fired in loc, minus lag days.
func AsOfFor(fired time.Time, loc *time.Location, lag int) time.Time {
	y, m, d := fired.In(loc).Date()
	return time.Date(y, m, d-lag, 0, 0, 0, 0, time.UTC)
}

// New prepares a daemon for cfg: it opens the storage and checks the
// schedule, but starts nothing.
func New(ctx context.Context, cfg *config.Config, opt Options) (*Daemon, error) {
	if cfg.Schedule.Cron == "" {
		return nil, &jobs.UsageError{Msg: `schedule.cron is not set: strata serve needs a schedule, e.g. schedule: {cron: "0 3 * * *"}`}
	}
	d := &Daemon{cfg: cfg, opt: opt, log: opt.Logger, metrics: newMetrics(), clock: opt.Clock, asOfFor: opt.AsOfFor,
		grace: cfg.Schedule.Grace(), pending: map[string]*ledger.Record{}, backfills: map[string]*jobs.BackfillProgress{}}
	if d.clock == nil {
		d.clock = clockwork.NewRealClock()
	}
	if d.asOfFor == nil {
		loc, lag := cfg.ScheduleLocation(), cfg.Schedule.Lag()
		d.asOfFor = func(fired time.Time) time.Time { return AsOfFor(fired, loc, lag) }
	}
	if opt.Grace != nil {
		d.grace = *opt.Grace
	}
	d.apiSlots = make(chan struct{}, cfg.MaxRuns())
	d.caughtUp = make(chan struct{})
	no := opt.Notify
	no.Logger = opt.Logger
	if no.Host == "" {
		no.Host, _ = os.Hostname()
	}
	d.notifier = notify.New(cfg.Notify, no)
	ro := opt.Runner
	onFinish, onDone := ro.OnFinish, ro.OnDone
	ro.OnDone = func(rec *ledger.Record, err error) {
		d.alertDone(rec, err)
		if onDone != nil {
			onDone(rec, err)
		}
	}
	ro.OnFinish = func(rec *ledger.Record) {
		d.metrics.observe(rec)
		d.alertDrift(rec)
		if onFinish != nil {
			onFinish(rec)
		}
	}
	ro.Logger = opt.Logger
	if ro.Now == nil {
		// One clock for the schedule, the ledger and the leases: the
		// catch-up compares firings with ledger times.
		ro.Now = d.clock.Now
	}
	var err error
	if d.runner, err = jobs.NewRunner(ctx, cfg, ro); err != nil {
		return nil, err
	}
	d.runCtx, d.cancelRun = context.WithCancelCause(context.WithoutCancel(ctx))
	d.restoreMetrics(ctx)
	return d, nil
}

// Handler is the daemon's HTTP API.
func (d *Daemon) Handler() http.Handler { return d.routes() }

// Run schedules runs and serves the API until ctx ends, then shuts down
// gracefully (see the package doc). It returns nil after a clean shutdown.
func (d *Daemon) Run(ctx context.Context) error {
	ln := d.opt.Listener
	if ln == nil {
		addr := d.opt.Listen
		if addr == "" {
			addr = d.cfg.API.ListenAddr()
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	srv := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// Runs are drained by shutdown before the scheduler stops, so its
	// own wait for running jobs is short.
	s, err := gocron.NewScheduler(gocron.WithLocation(d.cfg.ScheduleLocation()), gocron.WithStopTimeout(5*time.Second),
		gocron.WithClock(d.clock))
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("scheduler: %w", err)
	}
	job, err := s.NewJob(gocron.CronJob(d.cfg.Schedule.Cron, true), gocron.NewTask(d.scheduled),
		gocron.WithName(JobName))
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("schedule %q: %w", d.cfg.Schedule.Cron, err)
	}
	// The catch-up holds the scheduled runs' singleton flag, so a firing
	// during it is skipped (and reported missed) rather than run beside it.
	d.scheduledBusy.Store(true)
	if d.begin() {
		go func() {
			// Deferred calls run last first: caughtUp closes once the flag
			// is clear and the slot free, so whoever waits on it finds
			// the next firing taken, not skipped as if the catch-up still
			// ran.
			defer close(d.caughtUp)
			defer d.end()
			defer d.scheduledBusy.Store(false)
			d.catchUp()
		}()
	} else {
		d.scheduledBusy.Store(false)
		close(d.caughtUp)
	}
	s.Start()
	d.ready.Store(true)
	d.metrics.ready.Set(1)
	ev := d.log.Info().Str("listen", ln.Addr().String()).Str("cron", d.cfg.Schedule.Cron).
		Str("timezone", d.cfg.ScheduleLocation().String()).Int("lag_days", d.cfg.Schedule.Lag()).Str("job", JobName)
	if next, err := job.NextRun(); err == nil {
		ev = ev.Time("next_run", next)
	}
	ev.Bool("api_mutations", d.opt.Token != "").Msg("strata serve started")

	select {
	case <-ctx.Done():
	case err := <-served:
		d.log.Error().Err(err).Msg("the API server stopped; shutting down")
	}
	d.shutdown(s)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("API server: %w", err)
	}
	nctx, ncancel := context.WithTimeout(context.Background(), 10*time.Second)
	d.notifier.Close(nctx)
	ncancel()
	d.log.Info().Msg("strata serve stopped")
	return nil
}

// shutdown stops new work, waits the grace period for running work, then
// cancels what is left and waits for it to abort.
func (d *Daemon) shutdown(s gocron.Scheduler) {
	d.ready.Store(false)
	d.metrics.ready.Set(0)
	d.mu.Lock()
	d.draining = true
	d.mu.Unlock()
	d.log.Info().Float64("grace_period_seconds", d.grace.Seconds()).Msg("shutting down: not ready, no new runs; waiting for running ones")
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-d.clock.After(d.grace):
		d.log.Warn().Msg("grace period over: cancelling running runs; they stop before publishing")
		d.cancelRun(errors.New("strata serve is shutting down and the grace period is over"))
		// A stage deep in computation notices cancellation only at its
		// next check. Past this bound the process exits anyway: a run
		// killed before its commit point publishes nothing either.
		select {
		case <-done:
		case <-d.clock.After(abortWait):
			d.log.Error().Float64("waited_seconds", abortWait.Seconds()).
				Msg("runs did not stop after cancellation; exiting without them (they had not committed; the next run of their dates marks them abandoned)")
		}
	}
	if err := s.Shutdown(); err != nil {
		d.log.Warn().Err(err).Msg("scheduler shutdown")
	}
}

// begin registers a unit of work unless the daemon is draining.
func (d *Daemon) begin() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining {
		return false
	}
	d.startLocked()
	return true
}

// startLocked counts a unit of work in; d.mu is held and the daemon is
// not draining. end counts it out.
func (d *Daemon) startLocked() {
	d.wg.Add(1)
	d.active.Add(1)
	d.metrics.inProgress.Inc()
}

func (d *Daemon) end() {
	d.metrics.inProgress.Dec()
	d.active.Add(-1)
	d.wg.Done()
}

// idle reports whether no run or backfill is in progress.
func (d *Daemon) idle() bool { return d.active.Load() == 0 }

// scheduled is the gocron task.
func (d *Daemon) scheduled() {
	defer d.firings.Add(1)
	fired := d.clock.Now()
	asOf := d.asOfFor(fired)
	// Singleton: a run still going when the next firing comes makes
	// that firing a no-op rather than a second run.
	if !d.scheduledBusy.CompareAndSwap(false, true) {
		d.log.Warn().Str("as_of", asOf.Format(pipeline.DateLayout)).Time("fired", fired).
			Msg("the previous scheduled run is still going; this firing is skipped")
		d.alertMissed([]string{asOf.Format(pipeline.DateLayout)}, "the previous scheduled run (or the catch-up) was still going")
		return
	}
	if !d.begin() {
		d.scheduledBusy.Store(false)
		return
	}
	// Deferred calls run last first: the flag is cleared before end, so a
	// daemon that is idle takes the next firing.
	defer d.end()
	defer d.scheduledBusy.Store(false)
	sch := d.cfg.Schedule
	out, err := d.runner.Run(d.runCtx, jobs.Request{AsOf: asOf, Trigger: ledger.Schedule,
		Retries: sch.RetryLimit(), Backoff: sch.FirstBackoff()})
	d.alertLocked(out, err)
	if err != nil && jobs.ExitCode(err) != jobs.ExitLocked {
		d.log.Error().Err(err).Str("as_of", asOf.Format(pipeline.DateLayout)).Msg("scheduled run failed")
	}
}

// Ready reports whether the daemon accepts new runs.
func (d *Daemon) Ready() bool { return d.ready.Load() }
