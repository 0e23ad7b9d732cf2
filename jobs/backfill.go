package jobs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline"
)

// MaxBackfillDays bounds one backfill, so that a typo in a year does not
// queue a century of runs.
const MaxBackfillDays = 3660

// BackfillRequest is a range of dates to run.
type BackfillRequest struct {
	From, To time.Time // inclusive
	// Parallel is how many dates run at once (default 1). When clustering
	// is on, each date's cluster ids continue the previous date's, so the
	// dates run in order, one at a time, whatever Parallel says: that is
	// what makes a backfill's result independent of its parallelism.
	Parallel int
	// Force re-runs dates already published with the same configuration
	// and inputs.
	Force   bool
	Trigger ledger.Trigger // default ledger.Backfill
	ID      string         // groups the runs in the ledger; generated when empty
	Retries int
	Backoff time.Duration
}

// BackfillDates returns the dates from..to inclusive, checking the range.
func BackfillDates(from, to time.Time) ([]time.Time, error) {
	from, to = day(from), day(to)
	if to.Before(from) {
		return nil, &UsageError{Msg: fmt.Sprintf("backfill range %s … %s is empty: from must not be after to",
			from.Format(pipeline.DateLayout), to.Format(pipeline.DateLayout))}
	}
	var dates []time.Time
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		if len(dates) == MaxBackfillDays {
			return nil, &UsageError{Msg: fmt.Sprintf("backfill range %s … %s is longer than %d days; split it",
				from.Format(pipeline.DateLayout), to.Format(pipeline.DateLayout), MaxBackfillDays)}
		}
		dates = append(dates, d)
	}
	return dates, nil
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// BackfillProgress is where a backfill is.
type BackfillProgress struct {
	ID        string    `json:"id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Parallel  int       `json:"parallel"` // the parallelism in effect
	Total     int       `json:"total"`
	Done      int       `json:"done"`
	Succeeded int       `json:"succeeded"`
	Skipped   int       `json:"skipped"` // already published, unchanged
	Locked    int       `json:"locked"`  // another process was on the date
	Failed    int       `json:"failed"`
	StartedAt time.Time `json:"started_at"`
	// Last is the record of the date that just finished (nil at start).
	Last     *ledger.Record `json:"-"`
	Finished bool           `json:"finished"`
	Error    string         `json:"error,omitempty"`
}

// BackfillError says some dates of a backfill did not publish.
type BackfillError struct {
	Failed, Locked int
	// Errs are the failed dates' errors, in date order.
	Errs []error
}

func (e *BackfillError) Error() string {
	msg := fmt.Sprintf("backfill: %d date(s) failed, %d locked by another process", e.Failed, e.Locked)
	if len(e.Errs) > 0 {
		msg += "; first failure: " + e.Errs[0].Error()
	}
	return msg
}

func (e *BackfillError) Unwrap() []error { return e.Errs }

// ExitCode is the exit code of the first date that failed, or ExitLocked
// when none failed but some were locked.
func (e *BackfillError) ExitCode() int {
	for _, err := range e.Errs {
		if c := ExitCode(err); c != ExitLocked {
			return c
		}
	}
	return ExitLocked
}

// Backfill runs every date of req, at most req.Parallel at a time, in
// date order, each through Run: skipped when already published unchanged
// (so a backfill that stopped half way resumes where it was), locked dates
// left to whoever holds them. progress, if not nil, is called at the start
// and after every date, from one goroutine at a time. A configuration or
// schema error stops the backfill, since every date would fail the same
// way; other failures do not.
func (r *Runner) Backfill(ctx context.Context, req BackfillRequest, progress func(BackfillProgress)) (*BackfillProgress, error) {
	dates, err := BackfillDates(req.From, req.To)
	if err != nil {
		return nil, err
	}
	if req.ID == "" {
		req.ID = "bf-" + NewRunID(r.now())
	}
	if req.Trigger == "" {
		req.Trigger = ledger.Backfill
	}
	par := max(req.Parallel, 1)
	log := r.log.With().Str("backfill_id", req.ID).Logger()
	if par > 1 && r.cfg.Cluster.On() {
		log.Info().Int("parallel", par).
			Msg("clustering continues each date's cluster ids from the previous date, so dates run in order, one at a time")
		par = 1
	}
	p := BackfillProgress{ID: req.ID, From: dates[0].Format(pipeline.DateLayout), To: dates[len(dates)-1].Format(pipeline.DateLayout),
		Parallel: par, Total: len(dates), StartedAt: r.now().UTC()}
	var mu sync.Mutex
	report := func() {
		if progress != nil {
			progress(p)
		}
	}
	report()
	log.Info().Str("from", p.From).Str("to", p.To).Int("dates", p.Total).Int("parallel", par).Bool("force", req.Force).Msg("backfill started")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(dates))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var stopErr error
loop:
	for i, d := range dates {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		// A date that stopped the backfill frees its slot after it
		// cancelled ctx: with both ready, select may take the slot, so the
		// stop is checked again before starting another date.
		if ctx.Err() != nil {
			<-sem
			break loop
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out, err := r.Run(ctx, Request{AsOf: d, Trigger: req.Trigger, Force: req.Force,
				Retries: req.Retries, Backoff: req.Backoff, BackfillID: req.ID})
			mu.Lock()
			defer mu.Unlock()
			p.Done++
			p.Last = out.Record
			switch {
			case err == nil && out.Record.Status == ledger.Skipped:
				p.Skipped++
			case err == nil:
				p.Succeeded++
			case ExitCode(err) == ExitLocked:
				p.Locked++
				errs[i] = err
			default:
				p.Failed++
				errs[i] = fmt.Errorf("%s: %w", d.Format(pipeline.DateLayout), err)
				if ExitCode(err) == ExitUsage && stopErr == nil {
					stopErr = err
					cancel()
				}
			}
			report()
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	p.Last = nil
	p.Finished = true
	var failed []error
	for _, e := range errs {
		if e != nil && ExitCode(e) != ExitLocked {
			failed = append(failed, e)
		}
	}
	for _, e := range errs {
		if e != nil && ExitCode(e) == ExitLocked {
			failed = append(failed, e)
		}
	}
	var result error
	switch {
	case stopErr != nil:
		result = fmt.Errorf("backfill stopped after %d of %d dates: %w", p.Done, p.Total, stopErr)
	case ctx.Err() != nil && p.Done < p.Total:
		result = fmt.Errorf("backfill stopped after %d of %d dates: %w", p.Done, p.Total, context.Cause(ctx))
	case len(failed) > 0:
		result = &BackfillError{Failed: p.Failed, Locked: p.Locked, Errs: failed}
	}
	if result != nil {
		p.Error = result.Error()
	}
	log.Info().Int("succeeded", p.Succeeded).Int("skipped", p.Skipped).Int("locked", p.Locked).Int("failed", p.Failed).
		Dur("duration", r.now().Sub(p.StartedAt)).Msg("backfill finished")
	report()
	return &p, result
}
