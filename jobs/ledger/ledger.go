// Package ledger is the run ledger: one JSON record per run, kept in the
// output location next to what the runs published, so that every process
// sharing the location (daemons, backfills, `strata run`) reads and writes
// the same history.
//
// A record is written when a run starts and overwritten when it ends. Keys
// are _strata/runs/dt=<as-of>/<run id>.json: Hive-style, so the ledger is
// itself queryable (DuckDB: read_json('…/_strata/runs/dt=*/*.json')), and
// run ids start with their UTC start time, so keys sort by start.
package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// Prefix is where the ledger lives in an output location.
const Prefix = "_strata/runs/"

// Status is where a run is.
type Status string

// Statuses. A record stays "running" only while its run does; a process
// that died mid-run leaves one behind, and the next run of the same date
// marks it failed (see Abandoned).
const (
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Skipped   Status = "skipped"
)

// Trigger is what started a run.
type Trigger string

// Triggers.
const (
	Schedule Trigger = "schedule"
	API      Trigger = "api"
	Backfill Trigger = "backfill"
	CLI      Trigger = "cli"
)

// Record is one run.
type Record struct {
	ID      string  `json:"id"`
	AsOf    string  `json:"as_of"`
	Trigger Trigger `json:"trigger"`
	Status  Status  `json:"status"`
	// Try counts the tries of one request: a transient failure is retried
	// as a new run with the next try number.
	Try int `json:"try"`
	// BackfillID groups the runs of one backfill.
	BackfillID string `json:"backfill_id,omitempty"`
	// Holder is the process that ran it (host, pid).
	Holder  string `json:"holder"`
	Version string `json:"version"`

	ConfigHash string `json:"config_hash"`
	// Attempt is the attempt id the run publishes (or would have) under.
	Attempt string          `json:"attempt,omitempty"`
	Inputs  []extract.Input `json:"inputs,omitempty"`
	// Replaces is the run whose publication of the date this run
	// replaces, when the date was published before with other inputs,
	// configuration or version (or the run was forced).
	Replaces string `json:"replaces,omitempty"`

	StartedAt       time.Time  `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	DurationSeconds float64    `json:"duration_seconds,omitempty"`
	Stages          []Stage    `json:"stages,omitempty"`
	// PeakRSSMiB is the run's peak resident memory: the largest of its
	// stages' peaks.
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`

	Customers int `json:"customers,omitempty"`
	Orders    int `json:"orders,omitempty"`
	// Rows published per table.
	Rows map[string]int64 `json:"rows,omitempty"`
	// SegmentShares are the RFM segments' shares of the customers.
	SegmentShares map[string]float64 `json:"segment_shares,omitempty"`
	// Drift is the comparison with the previous run, when there was one.
	Drift *Drift `json:"drift,omitempty"`

	// Reason says why a run was skipped.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Note says how a later run corrected the record: a run whose
	// manifest landed after its process stopped, or after it reported a
	// failure, is published, and the run that found it says so here.
	Note     string `json:"note,omitempty"`
	ExitCode int    `json:"exit_code"`
}

// Stage is how long one pipeline stage took.
type Stage struct {
	Stage   string  `json:"stage"`
	Seconds float64 `json:"seconds"`
	// PeakRSSMiB is the process's peak resident memory during the stage,
	// when the system reports it.
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`
}

// Finished reports whether the record is final.
func (r *Record) Finished() bool { return r.Status != Running }

// Key is the object key of run id of date asOf.
func Key(asOf, id string) string {
	return Prefix + "dt=" + asOf + "/" + id + ".json"
}

// Store is what the ledger needs of an object store.
type Store interface {
	Iter(ctx context.Context, prefix string, fn func(key string) error) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Upload(ctx context.Context, key string, r io.Reader) error
}

// Ledger reads and writes run records in a store.
type Ledger struct {
	s   Store
	log zerolog.Logger
}

// New returns the ledger kept in s (an output location). It logs nothing
// until given a logger (WithLogger).
func New(s Store) *Ledger { return &Ledger{s: s, log: zerolog.Nop()} }

// WithLogger makes the ledger warn through log about the records it
// skips.
func (l *Ledger) WithLogger(log zerolog.Logger) *Ledger {
	l.log = log
	return l
}

// CorruptError says a ledger object is not a record: a torn or
// hand-edited file. Listing skips it (one bad object must not hide the
// whole history); Get of its run returns it.
type CorruptError struct {
	Key string
	Err error
}

func (e *CorruptError) Error() string { return fmt.Sprintf("decode ledger %s: %v", e.Key, e.Err) }
func (e *CorruptError) Unwrap() error { return e.Err }

// ErrNotFound says there is no record with the id asked for.
var ErrNotFound = errors.New("no such run")

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Put writes rec, replacing an earlier version of it.
func (l *Ledger) Put(ctx context.Context, rec *Record) error {
	if !validID.MatchString(rec.ID) || rec.AsOf == "" {
		return fmt.Errorf("ledger: record needs an id and an as-of date, got %q, %q", rec.ID, rec.AsOf)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode run %s: %w", rec.ID, err)
	}
	key := Key(rec.AsOf, rec.ID)
	if err := l.s.Upload(ctx, key, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write ledger %s: %w", key, err)
	}
	return nil
}

// Get returns the record of run id, or an error wrapping ErrNotFound.
func (l *Ledger) Get(ctx context.Context, id string) (*Record, error) {
	if !validID.MatchString(id) {
		return nil, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	var key string
	err := l.s.Iter(ctx, Prefix, func(k string) error {
		if path.Base(k) == id+".json" {
			key = k
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("list ledger: %w", err)
	}
	if key == "" {
		return nil, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	return l.read(ctx, key)
}

var errStop = errors.New("stop")

// Query selects records. The zero Query is every record.
type Query struct {
	AsOf  string // only this date
	Limit int    // at most this many, newest first; 0 for all
}

// List returns the records matching q, newest first. Corrupt records are
// skipped, each with a warning naming its key, and counted in a last
// warning.
func (l *Ledger) List(ctx context.Context, q Query) ([]*Record, error) {
	recs, corrupt, err := l.ListSkipping(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, c := range corrupt {
		l.log.Warn().Str("key", c.Key).Err(c.Err).Msg("ledger record is corrupt; skipped")
	}
	if len(corrupt) > 0 {
		l.log.Warn().Int("corrupt_records", len(corrupt)).Msg("ledger records skipped")
	}
	return recs, nil
}

// ListSkipping is List, returning the corrupt records it skipped instead
// of logging them.
func (l *Ledger) ListSkipping(ctx context.Context, q Query) ([]*Record, []*CorruptError, error) {
	prefix := Prefix
	if q.AsOf != "" {
		prefix += "dt=" + q.AsOf + "/"
	}
	type entry struct{ key, id string }
	var entries []entry
	err := l.s.Iter(ctx, prefix, func(k string) error {
		if id, ok := strings.CutSuffix(path.Base(k), ".json"); ok {
			entries = append(entries, entry{k, id})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list ledger: %w", err)
	}
	// Ids begin with their UTC start time, so this is newest first
	// without reading a record.
	sort.Slice(entries, func(i, j int) bool { return entries[i].id > entries[j].id })
	if q.Limit > 0 && len(entries) > q.Limit {
		entries = entries[:q.Limit]
	}
	recs := make([]*Record, len(entries))
	bad := make([]*CorruptError, len(entries))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, e := range entries {
		g.Go(func() error {
			r, err := l.read(gctx, e.key)
			if objstore.IsNotExist(err) {
				return nil // removed since listed
			}
			if errors.As(err, &bad[i]) {
				return nil
			}
			recs[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	out := recs[:0]
	for _, r := range recs {
		if r != nil {
			out = append(out, r)
		}
	}
	var corrupt []*CorruptError
	for _, c := range bad {
		if c != nil {
			corrupt = append(corrupt, c)
		}
	}
	// Ids order by the second; the records know better.
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartedAt.After(out[j].StartedAt) })
	return out, corrupt, nil
}

func (l *Ledger) read(ctx context.Context, key string) (*Record, error) {
	rc, err := l.s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, &CorruptError{Key: key, Err: err}
	}
	return &r, nil
}

// Abandoned marks every record of asOf still "running" as failed, except
// the one with id keep, and except published: the run whose manifest is
// the date's committed one, which is marked succeeded (its process died
// after its commit point). Only a holder of the date's lock may call it:
// no other run of the date can then be alive, so a running record is one
// whose process died before it could write its end.
func (l *Ledger) Abandoned(ctx context.Context, asOf, keep, published string, now time.Time) ([]*Record, error) {
	recs, err := l.List(ctx, Query{AsOf: asOf})
	if err != nil {
		return nil, err
	}
	var marked []*Record
	for _, r := range recs {
		if r.Status != Running || r.ID == keep {
			continue
		}
		if r.ID == published {
			r.markPublished(now, "its process stopped after its commit point (crash or kill); the next run of the date found its manifest committed")
		} else {
			r.Status = Failed
			r.ExitCode = 1
			r.Error = "abandoned: the process stopped before the run finished (crash or kill); nothing of it was published"
			t := now.UTC()
			r.FinishedAt = &t
		}
		if err := l.Put(ctx, r); err != nil {
			return marked, err
		}
		marked = append(marked, r)
	}
	return marked, nil
}

// Published records that run id of asOf is published, with rows per
// table, when its record says otherwise: its manifest landed after its
// process stopped or reported a failure (a commit whose answer was lost).
// It returns the corrected record, or nil when there was nothing to
// correct (no such record, or it already says succeeded).
func (l *Ledger) Published(ctx context.Context, asOf, id string, rows map[string]int64, now time.Time) (*Record, error) {
	if !validID.MatchString(id) {
		return nil, nil // a manifest from a run outside the ledger (the demo, a test)
	}
	r, err := l.read(ctx, Key(asOf, id))
	if objstore.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Status == Succeeded {
		return nil, nil
	}
	note := "its commit landed although the run had stopped or reported a failure"
	if r.Error != "" {
		note += " (" + r.Error + ")"
	}
	r.markPublished(now, note+"; the next run of the date found its manifest committed")
	r.Rows = rows
	if err := l.Put(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// markPublished makes r a succeeded run, saying why in its note.
func (r *Record) markPublished(now time.Time, why string) {
	r.Status = Succeeded
	r.ExitCode = 0
	r.Error = ""
	r.Note = "published: " + why
	if r.FinishedAt == nil {
		t := now.UTC()
		r.FinishedAt = &t
		r.DurationSeconds = t.Sub(r.StartedAt).Seconds()
	}
}

// Finish completes rec at now: status, duration and end time.
func (r *Record) Finish(status Status, now time.Time) {
	t := now.UTC()
	r.Status = status
	r.FinishedAt = &t
	r.DurationSeconds = t.Sub(r.StartedAt).Seconds()
}

// Drift is a run's drift against the run before it, for the metrics and
// the alerts (the whole comparison is in the run's model.json).
type Drift struct {
	PreviousAsOf string `json:"previous_as_of"`
	// PSI is the population stability index of each compared feature.
	PSI map[string]float64 `json:"psi"`
	// Breaches say what crossed its threshold, one line each.
	Breaches []string `json:"breaches,omitempty"`
}
