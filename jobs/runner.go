package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/jobs/lease"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/storage"
)

// Runner runs dates the way every caller but the demo needs: under the
// date's lease, so that processes sharing an output location never run
// the same date at once; recorded in the run ledger; skipped when the
// published run is already the one a run would make; retried when a
// failure is transient.
type Runner struct {
	cfg      *config.Config
	version  string
	log      zerolog.Logger
	in, out  objstore.Bucket
	ledger   *ledger.Ledger
	locks    *lease.Locker // nil when the output store has no conditional writes
	holder   string
	now      func() time.Time
	onFinish func(*ledger.Record)
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	Version string
	Logger  zerolog.Logger
	// Input and Output override the locations of the config (tests).
	Input, Output objstore.Bucket
	// LeaseTTL is how long a date stays locked by a process that stopped
	// renewing (a crash); default lease.DefaultTTL.
	LeaseTTL time.Duration
	// Now is the clock of leases and ledger timestamps; default time.Now.
	Now func() time.Time
	// OnFinish is called with every final ledger record (metrics).
	OnFinish func(*ledger.Record)
	// Holder names this process in leases and the ledger; default
	// "<hostname> pid <pid>".
	Holder string
}

// NewRunner opens cfg's locations and returns a Runner on them.
func NewRunner(ctx context.Context, cfg *config.Config, opt RunnerOptions) (*Runner, error) {
	r := &Runner{cfg: cfg, version: opt.Version, log: opt.Logger, in: opt.Input, out: opt.Output,
		now: opt.Now, onFinish: opt.OnFinish}
	if r.now == nil {
		r.now = time.Now
	}
	var err error
	if r.in == nil {
		if r.in, err = storage.Open(ctx, cfg.Input.Location, pipeline.StorageOptions(cfg)); err != nil {
			return nil, err
		}
	}
	if r.out == nil {
		if r.out, err = storage.Create(ctx, cfg.Output.Location, pipeline.StorageOptions(cfg)); err != nil {
			return nil, err
		}
	}
	r.ledger = ledger.New(r.out)
	if cu, ok := r.out.(lockStore); ok {
		r.locks = lease.New(cu, lease.Options{TTL: opt.LeaseTTL, Now: r.now})
	} else {
		r.log.Warn().Str("output", cfg.Output.Location).
			Msg("the output store has no conditional writes: dates are not locked, so do not share this location between processes")
	}
	r.holder = opt.Holder
	if r.holder == "" {
		host, _ := os.Hostname()
		r.holder = fmt.Sprintf("%s pid %d", host, os.Getpid())
	}
	return r, nil
}

type lockStore interface {
	objstore.Bucket
	objstore.ConditionalUploader
}

// Ledger is the run ledger of the Runner's output location.
func (r *Runner) Ledger() *ledger.Ledger { return r.ledger }

// Config is the configuration the Runner runs.
func (r *Runner) Config() *config.Config { return r.cfg }

// Request is one date to run.
type Request struct {
	AsOf    time.Time
	Trigger ledger.Trigger
	// Force runs even when the published run is already the one this run
	// would make.
	Force bool
	// Retries of a transient failure, waiting Backoff, 2×Backoff, … (at
	// most config.MaxBackoff) in between.
	Retries int
	Backoff time.Duration
	// RunID is the id of the first try; generated when empty.
	RunID      string
	BackfillID string
	// Shards, when set, makes this the finishing step of a sharded run:
	// commit the parts its shards wrote (pipeline.Finish) instead of
	// running the pipeline.
	Shards int
	// Wait is how long the finishing step waits for its shards.
	Wait time.Duration
}

// Outcome is what a request did: the ledger record of its last try and,
// if the pipeline ran, its result.
type Outcome struct {
	Record *ledger.Record
	Result *pipeline.Result
}

// Run runs req. The error is the last try's, classified by ExitCode; a
// date locked by another process is an error for which ExitCode is
// ExitLocked, and a date skipped as up to date is no error.
func (r *Runner) Run(ctx context.Context, req Request) (*Outcome, error) {
	asOf := req.AsOf.Format(pipeline.DateLayout)
	id := req.RunID
	if id == "" {
		id = NewRunID(r.now())
	}
	log := r.log.With().Str("run_id", id).Str("as_of", asOf).Str("trigger", string(req.Trigger)).Logger()
	rec := r.newRecord(id, asOf, req, 1)
	out := &Outcome{Record: rec}
	var beforeCommit func(context.Context) error

	if r.locks != nil {
		ls, err := r.locks.Acquire(ctx, asOf, r.holder+" run "+id)
		if err != nil {
			if errors.Is(err, lease.ErrLocked) {
				rec.Reason = err.Error()
				log.Info().Str("reason", rec.Reason).Msg("run skipped: another process holds the date")
				r.finish(ctx, log, rec, ledger.Skipped, err)
				return out, err
			}
			r.finish(ctx, log, rec, ledger.Failed, err)
			return out, fmt.Errorf("lock %s: %w", asOf, err)
		}
		kept, stop := ls.Keep(ctx)
		defer func() {
			stop()
			if err := ls.Release(context.WithoutCancel(ctx)); err != nil {
				log.Warn().Err(err).Msg("could not release the date's lock; it expires by itself")
			}
		}()
		ctx = kept
		// Holding the lock, no other run of the date is alive: a record
		// still "running" is one whose process died.
		marked, err := r.ledger.Abandoned(ctx, asOf, id, r.now())
		if err != nil {
			log.Warn().Err(err).Msg("could not check the ledger for abandoned runs")
		}
		for _, m := range marked {
			log.Warn().Str("abandoned_run_id", m.ID).Str("holder", m.Holder).Msg("marked a run that never finished as failed")
		}
		// The last renewal before the commit point: a run that lost the
		// date meanwhile must not publish over the new holder's run.
		beforeCommit = ls.Renew
	}

	for try := 1; ; try++ {
		if try > 1 {
			id = NewRunID(r.now())
			log = r.log.With().Str("run_id", id).Str("as_of", asOf).Str("trigger", string(req.Trigger)).Logger()
			rec = r.newRecord(id, asOf, req, try)
			out.Record = rec
		}
		res, err := r.try(ctx, log, req, rec, beforeCommit)
		out.Result = res
		if err == nil {
			return out, nil
		}
		if cause := context.Cause(ctx); errors.Is(cause, lease.ErrLost) {
			return out, cause
		}
		if !Transient(err) || try > req.Retries || ctx.Err() != nil {
			return out, err
		}
		wait := Backoff(req.Backoff, try)
		log.Warn().Err(err).Int("try", try).Dur("retry_in", wait).Msg("transient failure; will retry")
		if serr := sleepCtx(ctx, wait); serr != nil {
			return out, err
		}
	}
}

// Backoff is the wait before retry number try (1-based): base doubled
// each time, capped at config.MaxBackoff.
func Backoff(base time.Duration, try int) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < try && d < config.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, config.MaxBackoff)
}

func (r *Runner) newRecord(id, asOf string, req Request, try int) *ledger.Record {
	return &ledger.Record{ID: id, AsOf: asOf, Trigger: req.Trigger, Status: ledger.Running, Try: try,
		BackfillID: req.BackfillID, Holder: r.holder, Version: r.version, ConfigHash: r.cfg.Hash(),
		StartedAt: r.now().UTC()}
}

// try is one attempt at the date, under its lease if there is one.
func (r *Runner) try(ctx context.Context, log zerolog.Logger, req Request, rec *ledger.Record, beforeCommit func(context.Context) error) (*pipeline.Result, error) {
	opt := pipeline.Options{AsOf: req.AsOf, Version: r.version, RunID: rec.ID, Logger: r.log,
		Input: r.in, Output: r.out, BeforeCommit: beforeCommit, Wait: req.Wait}
	plan, err := pipeline.PlanRun(ctx, r.cfg, opt)
	if err != nil {
		err = fmt.Errorf("plan %s: %w", rec.AsOf, err)
		r.finish(ctx, log, rec, ledger.Failed, err)
		return nil, err
	}
	rec.Attempt, rec.Inputs = plan.Attempt, plan.Inputs
	if plan.UpToDate() && !req.Force {
		rec.Reason = fmt.Sprintf("already published with the same configuration and inputs (attempt %s, run %s)",
			plan.Attempt, plan.Published.RunID)
		log.Info().Str("attempt", plan.Attempt).Msg("run skipped: " + rec.Reason)
		r.finish(ctx, log, rec, ledger.Skipped, nil)
		return nil, nil
	}
	if plan.Published != nil {
		rec.Replaces = plan.Published.RunID
	}
	if err := r.ledger.Put(ctx, rec); err != nil {
		r.finish(ctx, log, rec, ledger.Failed, err)
		return nil, err
	}
	log.Info().Int("try", rec.Try).Str("attempt", plan.Attempt).Str("replaces", rec.Replaces).Msg("run started")
	var res *pipeline.Result
	if req.Shards > 0 {
		res, err = pipeline.Finish(ctx, r.cfg, opt, req.Shards)
	} else {
		res, err = pipeline.Run(ctx, r.cfg, opt)
	}
	if cause := context.Cause(ctx); err != nil && cause != nil && cause != ctx.Err() {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	if err != nil {
		// A commit whose response was lost may have landed: the manifest
		// is the truth about what was published.
		if m, merr := publish.ReadManifest(context.WithoutCancel(ctx), r.out, rec.AsOf); merr == nil && m.RunID == rec.ID {
			log.Warn().Err(err).Msg("the run reported an error after its commit landed; it is published")
			if res == nil {
				res = &pipeline.Result{RunID: rec.ID, AsOf: rec.AsOf}
			}
			res.Manifest = *m
			err = nil
		}
	}
	if res != nil {
		for _, s := range res.Stages {
			rec.Stages = append(rec.Stages, ledger.Stage{Stage: s.Stage, Seconds: s.Duration.Seconds(), PeakRSSMiB: max(s.PeakRSSMiB, 0)})
		}
		rec.Customers, rec.Orders = res.Customers, res.Orders
		if res.Attempt != "" {
			rec.Attempt = res.Attempt
		}
		if res.Inputs != nil {
			rec.Inputs = res.Inputs
		}
		if err == nil {
			rec.Rows = map[string]int64{}
			for t, f := range res.Manifest.Tables {
				rec.Rows[t] = f.Rows
			}
		}
	}
	if err != nil {
		r.finish(ctx, log, rec, ledger.Failed, err)
		return res, err
	}
	r.finish(ctx, log, rec, ledger.Succeeded, nil)
	return res, nil
}

// finish writes rec's final state. The write outlives a cancelled ctx: a
// run stopped by shutdown must still say so in the ledger.
func (r *Runner) finish(ctx context.Context, log zerolog.Logger, rec *ledger.Record, status ledger.Status, err error) {
	rec.Finish(status, r.now())
	rec.ExitCode = ExitCode(err)
	if err != nil && status != ledger.Skipped { // a skip says why in Reason
		rec.Error = err.Error()
		if status == ledger.Failed && ctx.Err() != nil {
			rec.Error = "cancelled before publishing (nothing of this run was published): " + rec.Error
		}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if perr := r.ledger.Put(wctx, rec); perr != nil {
		log.Error().Err(perr).Msg("could not write the run's ledger record")
	}
	ev := log.Info()
	if status == ledger.Failed {
		ev = log.Error().Err(err).Int("exit_code", rec.ExitCode)
	}
	ev.Str("status", string(status)).Float64("duration_seconds", rec.DurationSeconds).Msg("run finished")
	if r.onFinish != nil {
		r.onFinish(rec)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
