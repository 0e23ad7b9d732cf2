package jobs

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/jobs/internal/shoptest"
	"github.com/strata-oss/strata/jobs/lease"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
)

// faulty wraps an input bucket: it fails the next Fail reads with a
// transient-looking error, and, while Block is set, holds reads until the
// channel closes or the reader's context ends (a run "mid-way").
type faulty struct {
	objstore.Bucket
	mu      sync.Mutex
	fail    int
	block   chan struct{}
	entered chan struct{} // receives once per blocked read
}

func (f *faulty) ReaderAt(ctx context.Context, key string) (io.ReaderAt, int64, error) {
	f.mu.Lock()
	fail, block, entered := f.fail > 0, f.block, f.entered
	if fail {
		f.fail--
	}
	f.mu.Unlock()
	if fail {
		return nil, 0, errors.New("get " + key + ": 503 Service Unavailable: SlowDown")
	}
	if block != nil {
		if entered != nil {
			select {
			case entered <- struct{}{}:
			default:
			}
		}
		select {
		case <-block:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	return f.Bucket.ReaderAt(ctx, key)
}

type fixture struct {
	cfg     *config.Config
	in      *faulty
	out     *objstore.Mem
	runner  *Runner
	records []*ledger.Record
	mu      sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{in: &faulty{Bucket: objstore.NewMem()}, out: objstore.NewMem()}
	shoptest.Generate(t, f.in.Bucket, 300)
	f.cfg = shoptest.Config(t, "mem://in", "mem://out")
	f.runner = f.newRunner(t, nil)
	return f
}

func (f *fixture) newRunner(t *testing.T, now func() time.Time) *Runner {
	t.Helper()
	r, err := NewRunner(context.Background(), f.cfg, RunnerOptions{Version: "test", Logger: zerolog.Nop(),
		Input: f.in, Output: f.out, Now: now, OnFinish: func(rec *ledger.Record) {
			f.mu.Lock()
			f.records = append(f.records, rec)
			f.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) manifest(t *testing.T, asOf string) *publish.Manifest {
	t.Helper()
	m, err := publish.ReadManifest(context.Background(), f.out, asOf)
	if objstore.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRunnerLedgerAndSkip: a run leaves a complete ledger record; running
// the same date again is skipped as up to date unless forced.
func TestRunnerLedgerAndSkip(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	d := shoptest.Date(t, "2025-06-30")
	steps := []struct {
		name   string
		force  bool
		status ledger.Status
	}{
		{"first run publishes", false, ledger.Succeeded},
		{"same inputs: skipped", false, ledger.Skipped},
		{"forced: runs again", true, ledger.Succeeded},
	}
	for _, s := range steps {
		out, err := f.runner.Run(ctx, Request{AsOf: d, Trigger: ledger.CLI, Force: s.force})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		rec, err := f.runner.Ledger().Get(ctx, out.Record.ID)
		if err != nil {
			t.Fatalf("%s: ledger: %v", s.name, err)
		}
		if rec.Status != s.status {
			t.Fatalf("%s: status %s, want %s (%+v)", s.name, rec.Status, s.status, rec)
		}
		m := f.manifest(t, "2025-06-30")
		checkComplete(t, s.name, rec, m)
		if s.status == ledger.Succeeded && m.RunID != rec.ID {
			t.Errorf("%s: the manifest names run %s, the ledger %s", s.name, m.RunID, rec.ID)
		}
		if s.status == ledger.Skipped && !strings.Contains(rec.Reason, "already published with the same configuration and inputs") {
			t.Errorf("%s: reason %q", s.name, rec.Reason)
		}
	}
	if len(f.records) != 3 {
		t.Errorf("OnFinish saw %d records, want 3", len(f.records))
	}
}

// checkComplete asserts a final record has what the ledger promises.
func checkComplete(t *testing.T, name string, rec *ledger.Record, m *publish.Manifest) {
	t.Helper()
	if rec.AsOf == "" || rec.Trigger == "" || rec.ConfigHash == "" || rec.Attempt == "" || rec.Holder == "" ||
		rec.Version != "test" || rec.FinishedAt == nil || rec.StartedAt.IsZero() || len(rec.Inputs) == 0 || rec.Try < 1 {
		t.Errorf("%s: incomplete record %+v", name, rec)
	}
	if rec.Status != ledger.Succeeded {
		return
	}
	var stages []string
	var peak float64
	for _, s := range rec.Stages {
		stages = append(stages, s.Stage)
		peak = max(peak, s.PeakRSSMiB)
	}
	if runtime.GOOS == "linux" && (rec.PeakRSSMiB <= 0 || rec.PeakRSSMiB != peak) {
		t.Errorf("%s: run peak %v MiB, want the largest stage's, %v", name, rec.PeakRSSMiB, peak)
	}
	if got := strings.Join(stages, ","); got != "extract,features,rfm,cluster,clv,cluster_names,recommend,rfm_migration,drift,brief,publish" {
		t.Errorf("%s: stages %s", name, got)
	}
	if rec.Rows["segments"] == 0 || rec.Rows["segments"] != m.Tables["segments"].Rows || rec.Customers == 0 || rec.Orders == 0 {
		t.Errorf("%s: rows %v, customers %d, orders %d; manifest %v", name, rec.Rows, rec.Customers, rec.Orders, m.Tables)
	}
	if rec.Attempt != m.Attempt {
		t.Errorf("%s: ledger attempt %s, manifest attempt %s", name, rec.Attempt, m.Attempt)
	}
}

// TestRunnerFailures: transient failures are retried with backoff, each
// try its own ledger record; permanent ones are not retried.
func TestRunnerFailures(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		setup     func(f *fixture)
		retries   int
		wantCode  int
		wantTries []ledger.Status
	}{
		{"transient, recovered", func(f *fixture) { f.in.fail = 2 }, 3, ExitOK,
			[]ledger.Status{ledger.Failed, ledger.Failed, ledger.Succeeded}},
		{"transient, retries exhausted", func(f *fixture) { f.in.fail = 100 }, 1, ExitFailure,
			[]ledger.Status{ledger.Failed, ledger.Failed}},
		{"schema error: not retried", func(f *fixture) { f.cfg.Input.Orders.Columns["amount"] = "no_such_column" }, 3, ExitUsage,
			[]ledger.Status{ledger.Failed}},
		{"quality gate: not retried", func(f *fixture) { zero := 0.0; f.cfg.Quality.MaxBadFraction = &zero }, 3, ExitQuality,
			[]ledger.Status{ledger.Failed}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			f.runner = f.newRunner(t, nil)
			out, err := f.runner.Run(ctx, Request{AsOf: shoptest.Date(t, "2025-06-30"), Trigger: ledger.Schedule,
				Retries: tc.retries, Backoff: time.Millisecond})
			if code := ExitCode(err); code != tc.wantCode {
				t.Fatalf("exit code %d (%v), want %d", code, err, tc.wantCode)
			}
			recs, err := f.runner.Ledger().List(ctx, ledger.Query{AsOf: "2025-06-30"})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tc.wantTries) {
				t.Fatalf("%d ledger records, want %d", len(recs), len(tc.wantTries))
			}
			for i, want := range tc.wantTries {
				rec := recs[len(recs)-1-i] // List is newest first
				if rec.Try != i+1 || rec.Status != want {
					t.Errorf("try %d: record try %d status %s, want %s", i+1, rec.Try, rec.Status, want)
				}
				if want == ledger.Failed && (rec.Error == "" || rec.ExitCode == 0) {
					t.Errorf("try %d: failed record without error or exit code: %+v", i+1, rec)
				}
			}
			if last := recs[0]; last.ID != out.Record.ID {
				t.Errorf("outcome names %s, newest record is %s", out.Record.ID, last.ID)
			}
			if (f.manifest(t, "2025-06-30") != nil) != (tc.wantCode == ExitOK) {
				t.Errorf("published = %v, want %v", f.manifest(t, "2025-06-30") != nil, tc.wantCode == ExitOK)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		base time.Duration
		try  int
		want time.Duration
	}{
		{time.Minute, 1, time.Minute}, {time.Minute, 2, 2 * time.Minute}, {time.Minute, 4, 8 * time.Minute},
		{time.Minute, 10, config.MaxBackoff}, {0, 3, 0},
	} {
		if got := Backoff(tc.base, tc.try); got != tc.want {
			t.Errorf("Backoff(%v, %d) = %v, want %v", tc.base, tc.try, got, tc.want)
		}
	}
}

// TestRunnerLockedDate: a date another process holds is skipped with exit
// code 4, and the ledger says who held it.
func TestRunnerLockedDate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	other := lease.New(f.out, lease.Options{})
	ls, err := other.Acquire(ctx, "2025-06-30", "other-host pid 1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.runner.Run(ctx, Request{AsOf: shoptest.Date(t, "2025-06-30"), Trigger: ledger.CLI, Force: true})
	if ExitCode(err) != ExitLocked {
		t.Fatalf("exit code %d (%v), want %d", ExitCode(err), err, ExitLocked)
	}
	if out.Record.Status != ledger.Skipped || !strings.Contains(out.Record.Reason, "locked by other-host pid 1") || out.Record.ExitCode != ExitLocked {
		t.Errorf("record %+v", out.Record)
	}
	if f.manifest(t, "2025-06-30") != nil {
		t.Error("a locked date was published")
	}
	if err := ls.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner.Run(ctx, Request{AsOf: shoptest.Date(t, "2025-06-30"), Trigger: ledger.CLI}); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// TestRunnerLostLeasePublishesNothing: a run whose lease is taken over
// mid-way (it was paused past its expiry) aborts before its commit point.
func TestRunnerLostLeasePublishesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.in.block, f.in.entered = make(chan struct{}), make(chan struct{}, 1)
	type result struct {
		out *Outcome
		err error
	}
	done := make(chan result)
	go func() {
		out, err := f.runner.Run(ctx, Request{AsOf: shoptest.Date(t, "2025-06-30"), Trigger: ledger.Schedule, Retries: 3, Backoff: time.Millisecond})
		done <- result{out, err}
	}()
	<-f.in.entered
	// Another process whose clock says the lease expired takes it over.
	skewed := func() time.Time { return time.Now().Add(2 * lease.DefaultTTL) }
	if _, err := lease.New(f.out, lease.Options{Now: skewed}).Acquire(ctx, "2025-06-30", "thief"); err != nil {
		t.Fatal(err)
	}
	f.in.mu.Lock()
	close(f.in.block)
	f.in.block = nil
	f.in.mu.Unlock()
	r := <-done
	if ExitCode(r.err) != ExitLocked || !errors.Is(r.err, lease.ErrLost) {
		t.Fatalf("run after losing its lease: %v (exit %d), want lease lost, exit 4", r.err, ExitCode(r.err))
	}
	if f.manifest(t, "2025-06-30") != nil {
		t.Fatal("a run that lost its lease published")
	}
	rec, err := f.runner.Ledger().Get(ctx, r.out.Record.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != ledger.Failed || !strings.Contains(rec.Error, "lease lost") || rec.Try != 1 {
		t.Errorf("ledger: %+v", rec)
	}
}

// TestRunnerMarksAbandoned: a record left "running" by a process that
// died is marked failed by the next run of its date.
func TestRunnerMarksAbandoned(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	crashed := &ledger.Record{ID: "20250701T020000Z-dead", AsOf: "2025-06-30", Trigger: ledger.Schedule,
		Status: ledger.Running, Try: 1, Holder: "gone pid 9", StartedAt: time.Now().Add(-time.Hour)}
	if err := f.runner.Ledger().Put(ctx, crashed); err != nil {
		t.Fatal(err)
	}
	if _, err := f.runner.Run(ctx, Request{AsOf: shoptest.Date(t, "2025-06-30"), Trigger: ledger.CLI}); err != nil {
		t.Fatal(err)
	}
	rec, err := f.runner.Ledger().Get(ctx, crashed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != ledger.Failed || !strings.Contains(rec.Error, "abandoned") {
		t.Errorf("crashed run's record: %+v", rec)
	}
}

// TestRunnerCancelMidRunPublishesNothing: cancelling a run (what a
// daemon's shutdown does after its grace period) leaves the previous good
// partition exactly as it was, and the ledger says the run was cancelled.
func TestRunnerCancelMidRunPublishesNothing(t *testing.T) {
	f := newFixture(t)
	d := shoptest.Date(t, "2025-06-30")
	if _, err := f.runner.Run(context.Background(), Request{AsOf: d, Trigger: ledger.CLI}); err != nil {
		t.Fatal(err)
	}
	before := f.manifest(t, "2025-06-30")
	keysBefore, _ := objstore.List(context.Background(), f.out, "segments/")
	f.in.block, f.in.entered = make(chan struct{}), make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var out *Outcome
	go func() {
		var err error
		out, err = f.runner.Run(ctx, Request{AsOf: d, Trigger: ledger.API, Force: true, Retries: 3})
		done <- err
	}()
	<-f.in.entered
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	after := f.manifest(t, "2025-06-30")
	if after.RunID != before.RunID || after.Attempt != before.Attempt {
		t.Errorf("the cancelled run changed the published manifest: %+v", after)
	}
	keysAfter, _ := objstore.List(context.Background(), f.out, "segments/")
	if strings.Join(keysAfter, ",") != strings.Join(keysBefore, ",") {
		t.Errorf("objects changed: before %v, after %v", keysBefore, keysAfter)
	}
	rec, err := f.runner.Ledger().Get(context.Background(), out.Record.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != ledger.Failed || !strings.Contains(rec.Error, "cancelled before publishing") || rec.Try != 1 {
		t.Errorf("ledger after cancel: %+v", rec)
	}
	// The lock was released: the next run need not wait for expiry.
	if _, err := f.runner.Run(context.Background(), Request{AsOf: d, Trigger: ledger.CLI}); err != nil {
		t.Errorf("run after a cancelled one: %v", err)
	}
}
