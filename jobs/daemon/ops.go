package daemon

// What makes the daemon an operator's: alerts (notify:), metrics that
// survive a restart, and the catch-up of firings missed while it was down.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/jobs/notify"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
)

// Staler is implemented by errors that say a run's inputs are stale (the
// quality gate's staleness check, pipeline.QualityError): a run failing
// with one raises the "stale" event as well as "failed".
type Staler interface{ IsStale() bool }

// isStale reports whether err says the inputs are stale.
func isStale(err error) bool {
	var s Staler
	return errors.As(err, &s) && s.IsStale()
}

// alertDone sends "failed" (and "stale") for a run that ended in a
// failure, after its retries. Locked dates are alertLocked's; runs
// cancelled by a shutdown are not failures anyone need act on.
func (d *Daemon) alertDone(rec *ledger.Record, err error) {
	if err == nil || rec == nil || jobs.ExitCode(err) == jobs.ExitLocked || d.runCtx.Err() != nil {
		return
	}
	code := jobs.ExitCode(err)
	ev := notify.Event{Event: config.EventFailed, Time: d.clock.Now().UTC(), AsOf: rec.AsOf, RunID: rec.ID,
		Trigger: string(rec.Trigger), ExitCode: code, Error: err.Error(),
		Summary: fmt.Sprintf("strata: the %s run of %s failed (exit %d, try %d): %s", rec.Trigger, rec.AsOf, code, rec.Try, oneLine(err.Error()))}
	d.notifier.Send(ev)
	if isStale(err) {
		ev.Event = config.EventStale
		ev.Summary = fmt.Sprintf("strata: the inputs of %s are stale; nothing was published: %s", rec.AsOf, oneLine(err.Error()))
		d.notifier.Send(ev)
	}
}

// alertLocked counts the scheduled firings in a row whose date another
// process held, and sends "locked" when they reach config.LockedFirings.
func (d *Daemon) alertLocked(out *jobs.Outcome, err error) {
	if jobs.ExitCode(err) != jobs.ExitLocked {
		d.lockedStreak.Store(0)
		return
	}
	if n := d.lockedStreak.Add(1); n != config.LockedFirings {
		return
	}
	ev := notify.Event{Event: config.EventLocked, Time: d.clock.Now().UTC(), Error: err.Error(),
		Summary: fmt.Sprintf("strata: %d scheduled runs in a row were skipped because another process held their date: %s",
			config.LockedFirings, oneLine(err.Error()))}
	if out != nil && out.Record != nil {
		ev.AsOf, ev.RunID, ev.Trigger = out.Record.AsOf, out.Record.ID, string(out.Record.Trigger)
	}
	d.notifier.Send(ev)
}

// alertMissed sends "missed" for scheduled dates that were not run.
func (d *Daemon) alertMissed(dates []string, why string) {
	if len(dates) == 0 {
		return
	}
	d.notifier.Send(notify.Event{Event: config.EventMissed, Time: d.clock.Now().UTC(), AsOf: dates[len(dates)-1], Dates: dates,
		Summary: fmt.Sprintf("strata: the scheduled run of %s did not run: %s", strings.Join(dates, ", "), why)})
}

// alertDrift sends the "drift" event for a run whose drift check found
// breaches (drift.action warn: published; fail: the run failed, and the
// "failed" event says so too).
func (d *Daemon) alertDrift(rec *ledger.Record) {
	if rec == nil || rec.Drift == nil || len(rec.Drift.Breaches) == 0 {
		return
	}
	d.notifier.Send(notify.Event{Event: config.EventDrift, Time: d.clock.Now().UTC(), AsOf: rec.AsOf, RunID: rec.ID,
		Trigger: string(rec.Trigger),
		Summary: fmt.Sprintf("strata: the segments of %s drifted since %s: %s", rec.AsOf, rec.Drift.PreviousAsOf,
			oneLine(strings.Join(rec.Drift.Breaches, "; ")))})
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 500 {
		s = s[:499] + "…"
	}
	return s
}

// restoreMetrics sets the metrics that describe what is published (last
// success, customers, rows per table) from the newest succeeded run in the
// ledger, so that a restarted daemon does not report 0 (and page whoever
// watches strata_last_success_timestamp_seconds) until its next run.
func (d *Daemon) restoreMetrics(ctx context.Context) {
	rec, err := d.newest(ctx, func(r *ledger.Record) bool { return r.Status == ledger.Succeeded && r.FinishedAt != nil })
	if err != nil {
		d.log.Warn().Err(err).Msg("could not read the ledger to restore the published-state metrics; they start at 0")
		return
	}
	if rec == nil {
		return
	}
	d.metrics.restore(rec)
	d.log.Info().Str("run_id", rec.ID).Str("as_of", rec.AsOf).Time("finished_at", *rec.FinishedAt).
		Msg("restored the published-state metrics from the ledger")
}

// newest returns the ledger's newest record (by start) that ok accepts:
// it reads the newest few hundred first, and all only if none of those do.
func (d *Daemon) newest(ctx context.Context, ok func(*ledger.Record) bool) (*ledger.Record, error) {
	for _, limit := range []int{200, 0} {
		recs, err := d.runner.Ledger().List(ctx, ledger.Query{Limit: limit})
		if err != nil {
			return nil, err
		}
		var best *ledger.Record
		for _, r := range recs {
			if ok(r) && (best == nil || later(r, best)) {
				best = r
			}
		}
		if best != nil || len(recs) < limit || limit == 0 {
			return best, nil
		}
	}
	return nil, nil
}

func later(a, b *ledger.Record) bool {
	if a.FinishedAt != nil && b.FinishedAt != nil {
		return a.FinishedAt.After(*b.FinishedAt)
	}
	return a.StartedAt.After(b.StartedAt)
}

// maxFirings bounds the firings the catch-up looks at (a cron firing
// every minute, down for a month).
const maxFirings = 10_000

// catchUp runs, oldest first, the dates of the schedule's firings since
// the last scheduled run in the ledger that have no scheduled run in the
// ledger, if they fired within schedule.catch_up_days; older ones are
// reported missed. A daemon whose ledger has no scheduled run yet (a new
// installation) has missed nothing.
func (d *Daemon) catchUp() {
	ctx := d.runCtx
	now := d.clock.Now()
	last, err := d.newest(ctx, func(r *ledger.Record) bool { return r.Trigger == ledger.Schedule })
	if err != nil {
		d.log.Warn().Err(err).Msg("catch-up: could not read the ledger; missed firings are not run")
		return
	}
	if last == nil {
		return
	}
	cron := gocron.NewDefaultCron(true)
	if err := cron.IsValid(d.cfg.Schedule.Cron, d.cfg.ScheduleLocation(), now); err != nil {
		return // New checked it
	}
	window := now.AddDate(0, 0, -d.cfg.Schedule.CatchUp())
	var run []time.Time
	var missed []string
	seen := map[string]bool{last.AsOf: true}
	for t, n := cron.Next(last.StartedAt), 0; !t.IsZero() && !t.After(now) && n < maxFirings; t, n = cron.Next(t), n+1 {
		asOf := d.asOfFor(t)
		day := asOf.Format(pipeline.DateLayout)
		if seen[day] {
			continue
		}
		seen[day] = true
		recs, err := d.runner.Ledger().List(ctx, ledger.Query{AsOf: day})
		if err != nil {
			d.log.Warn().Err(err).Str("as_of", day).Msg("catch-up: could not read the ledger")
			return
		}
		if slices.ContainsFunc(recs, func(r *ledger.Record) bool { return r.Trigger == ledger.Schedule }) {
			continue
		}
		if t.Before(window) {
			missed = append(missed, day)
			continue
		}
		run = append(run, asOf)
	}
	if len(missed) > 0 {
		d.log.Warn().Strs("dates", missed).Int("catch_up_days", d.cfg.Schedule.CatchUp()).
			Msg("scheduled firings were missed while the daemon was down, longer ago than schedule.catch_up_days; they are not run (strata backfill runs them)")
		d.alertMissed(missed, fmt.Sprintf("the daemon was down, longer ago than schedule.catch_up_days (%d); `strata backfill` runs them", d.cfg.Schedule.CatchUp()))
	}
	sch := d.cfg.Schedule
	for _, asOf := range run {
		if ctx.Err() != nil {
			return
		}
		day := asOf.Format(pipeline.DateLayout)
		d.log.Info().Str("as_of", day).Msg("catch-up: running a scheduled firing missed while the daemon was down")
		_, err := d.runner.Run(ctx, jobs.Request{AsOf: asOf, Trigger: ledger.Schedule,
			Retries: sch.RetryLimit(), Backoff: sch.FirstBackoff()})
		if err != nil && jobs.ExitCode(err) != jobs.ExitLocked {
			d.log.Error().Err(err).Str("as_of", day).Msg("catch-up run failed")
		}
	}
}
