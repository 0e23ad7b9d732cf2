package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/internal/ctxsleep"
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
	onDone   func(*ledger.Record, error)
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
	// OnDone is called once per Run, after its retries, with the last
	// try's record and Run's error (alerts).
	OnDone func(*ledger.Record, error)
	// Holder names this process in leases and the ledger; default
	// "<hostname> pid <pid>".
	Holder string
}

// NewRunner opens cfg's locations and returns a Runner on them.
func NewRunner(ctx context.Context, cfg *config.Config, opt RunnerOptions) (*Runner, error) {
	r := &Runner{cfg: cfg, version: opt.Version, log: opt.Logger, in: opt.Input, out: opt.Output,
		now: opt.Now, onFinish: opt.OnFinish, onDone: opt.OnDone}
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
	r.ledger = ledger.New(r.out).WithLogger(r.log)
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
//
// A lease that lapsed because the lock store could not be reached (or a
// lock that could not be taken for the same reason) is a transient
// failure: the date is locked again and tried again, within req.Retries.
func (r *Runner) Run(ctx context.Context, req Request) (*Outcome, error) {
	for restart := 1; ; restart++ {
		out, err, leaseFault := r.run(ctx, req)
		if !leaseFault || restart > req.Retries || ctx.Err() != nil {
			if r.onDone != nil {
				r.onDone(out.Record, err)
			}
			return out, err
		}
		wait := Backoff(req.Backoff, restart)
		r.log.Warn().Err(err).Str("as_of", req.AsOf.Format(pipeline.DateLayout)).Int("restart", restart).
			Float64("retry_in_seconds", wait.Seconds()).Msg("the lock store could not be reached; will lock the date again and retry")
		if serr := ctxsleep.Sleep(ctx, wait); serr != nil {
			return out, err
		}
		req.RunID = ""
	}
}

// run is Run but for the retries of a lease fault, which it reports.
func (r *Runner) run(ctx context.Context, req Request) (_ *Outcome, _ error, leaseFault bool) {
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
				return out, err, false
			}
			err = fmt.Errorf("lock %s: %w", asOf, err)
			r.finish(ctx, log, rec, ledger.Failed, err)
			return out, err, Retryable(err)
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
		// One of them may have died after its commit point: the run the
		// committed manifest names is published, not abandoned.
		marked, err := r.ledger.Abandoned(ctx, asOf, id, r.publishedRunID(ctx, asOf), r.now())
		if err != nil {
			log.Warn().Err(err).Msg("could not check the ledger for abandoned runs")
		}
		for _, m := range marked {
			if m.Status == ledger.Succeeded {
				log.Warn().Str("published_run_id", m.ID).Str("holder", m.Holder).Msg("marked a run that died after its commit as published")
				continue
			}
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
			return out, nil, false
		}
		if cause := context.Cause(ctx); errors.Is(cause, lease.ErrLost) {
			return out, cause, false
		} else if errors.Is(cause, lease.ErrExpired) {
			return out, cause, true
		}
		if !Retryable(err) || try > req.Retries || ctx.Err() != nil {
			return out, err, false
		}
		wait := Backoff(req.Backoff, try)
		log.Warn().Err(err).Int("try", try).Float64("retry_in_seconds", wait.Seconds()).Msg("transient failure; will retry")
		if serr := ctxsleep.Sleep(ctx, wait); serr != nil {
			return out, err, false
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
	if err := r.completePublished(ctx, log, plan); err != nil {
		if plan.UpToDate() && !req.Force {
			// "Up to date" would leave the date half finished.
			r.finish(ctx, log, rec, ledger.Failed, err)
			return nil, err
		}
		log.Warn().Err(err).Msg("could not finish the date's published run; this run's commit will")
	}
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
		if m, merr := r.readManifestSettling(ctx, rec.AsOf); merr == nil && m.RunID == rec.ID {
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
		rec.PeakRSSMiB = res.PeakRSSMiB()
		rec.Customers, rec.Orders = res.Customers, res.Orders
		if dr := res.Drift; dr != nil {
			rec.Drift = &ledger.Drift{PreviousAsOf: dr.Previous.AsOf, PSI: map[string]float64{}}
			for _, f := range dr.Features {
				rec.Drift.PSI[f.Feature] = f.PSI
			}
			for _, b := range dr.Breaches {
				rec.Drift.Breaches = append(rec.Drift.Breaches, b.Message)
			}
		}
		for _, s := range res.Segments {
			if s.SegmentType == "rfm" {
				if rec.SegmentShares == nil {
					rec.SegmentShares = map[string]float64{}
				}
				rec.SegmentShares[s.Segment] = s.Share
			}
		}
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

// publishedRunID is the run id of asOf's committed manifest, "" if there
// is none or it can't be read (then no record is taken for published).
func (r *Runner) publishedRunID(ctx context.Context, asOf string) string {
	m, err := publish.ReadManifest(ctx, r.out, asOf)
	if err != nil {
		return ""
	}
	return m.RunID
}

// readManifestSettling reads asOf's manifest after a run failed, on a
// context of its own: a cancelled run must still learn whether its
// commit landed.
func (r *Runner) readManifestSettling(ctx context.Context, asOf string) (*publish.Manifest, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publish.SettleTimeout)
	defer cancel()
	return publish.ReadManifest(sctx, r.out, asOf)
}

// completePublished settles the date's committed run before this run
// decides anything about it: the ledger records it as published if its
// process stopped after its commit point, and a publication that process
// did not finish (leftovers of the run it replaced or of runs that never
// committed, fixed-name copies of the previous run) is finished. Objects
// of the attempt this run would publish are kept even when the manifest
// does not name them: a sharded run's shards (which hold no lease) may be
// writing them for a finishing step to commit, forced or not; the next
// commit removes them if no commit names them. The caller holds the
// date's lease.
func (r *Runner) completePublished(ctx context.Context, log zerolog.Logger, plan *pipeline.Plan) error {
	m := plan.Published
	if m == nil {
		return nil
	}
	rows := make(map[string]int64, len(m.Tables))
	for t, f := range m.Tables {
		rows[t] = f.Rows
	}
	fixed, err := r.ledger.Published(ctx, plan.AsOf, m.RunID, rows, r.now())
	if err != nil {
		return fmt.Errorf("record run %s of %s as published: %w", m.RunID, plan.AsOf, err)
	}
	if fixed != nil {
		log.Warn().Str("published_run_id", m.RunID).Msg("recorded as published a run whose commit landed after it stopped or failed")
	}
	done, err := publish.Complete(ctx, r.out, m, plan.Attempt)
	if !done.Done() {
		log.Warn().Str("published_run_id", m.RunID).Strs("deleted", done.Deleted).Strs("copied", done.Copied).
			Msg("finished the publication of a run that stopped before finishing it")
	}
	if err != nil {
		return fmt.Errorf("finish the publication of %s (run %s): %w", plan.AsOf, m.RunID, err)
	}
	return nil
}

// finish writes rec's final state. The write outlives a cancelled ctx: a
// run stopped by shutdown must still say so in the ledger.
func (r *Runner) finish(ctx context.Context, log zerolog.Logger, rec *ledger.Record, status ledger.Status, err error) {
	rec.Finish(status, r.now())
	rec.ExitCode = ExitCode(err)
	if err != nil && status != ledger.Skipped { // a skip says why in Reason
		rec.Error = err.Error()
		switch {
		case status != ledger.Failed:
		case errors.Is(err, publish.ErrCommitUncertain):
			rec.Error = "stopped during its commit: whether its manifest landed is not known yet; " +
				"the next run of the date settles it and corrects this record: " + rec.Error
		case ctx.Err() != nil:
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
