package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-oss/strata/jobs/internal/shoptest"
	"github.com/strata-oss/strata/jobs/lease"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/storage"
	"github.com/strata-oss/strata/pipeline/tables"
)

// unfittable stands for another package's typed model error: it says it
// is permanent without this package naming its type.
type unfittable struct{}

func (unfittable) Error() string   { return "the CLV model cannot be fitted: every customer bought once" }
func (unfittable) Permanent() bool { return true }

// TestExitCodeAndRetryable: the documented exit code of each kind of
// failure, and which of them a retry could fix.
func TestExitCodeAndRetryable(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		code      int
		retryable bool
	}{
		{"nil", nil, ExitOK, false},
		{"storage fault", errors.New("get x: 503 Service Unavailable"), ExitFailure, true},
		{"lease expired in an outage", fmt.Errorf("lock d: %w: dial tcp: refused", lease.ErrExpired), ExitFailure, true},
		{"lease lost to another process", fmt.Errorf("lock d: %w", lease.ErrLost), ExitLocked, false},
		{"locked", &lease.LockedError{Name: "d", Holder: "h"}, ExitLocked, false},
		{"model error (Permanent)", fmt.Errorf("clv: %w", unfittable{}), ExitFailure, false},
		{"PermanentError", &PermanentError{Err: errors.New("no")}, ExitFailure, false},
		{"cancelled", fmt.Errorf("extract: %w", context.Canceled), ExitFailure, false},
		{"usage", &UsageError{Msg: "x"}, ExitUsage, false},
		{"config problems", config.Problems{{Msg: "x"}}, ExitUsage, false},
		{"missing config file", &config.FileError{Path: "x.yaml", Err: errors.New("no such file")}, ExitUsage, false},
		{"missing input location", fmt.Errorf("plan: %w", &storage.LocationError{Location: "/nope", Err: errors.New("no such file")}), ExitUsage, false},
		{"missing bucket", fmt.Errorf("iter s3://nope/in: %w", apiError("NoSuchBucket")), ExitUsage, false},
		{"S3 throttled", fmt.Errorf("get: %w", apiError("SlowDown")), ExitFailure, true},
		{"schema", &tables.SchemaError{}, ExitUsage, false},
		{"config error", &pipeline.ConfigError{Err: errors.New("x")}, ExitUsage, false},
		{"quality", &pipeline.QualityError{Table: "orders"}, ExitQuality, false},
	} {
		if got := ExitCode(tc.err); got != tc.code {
			t.Errorf("%s: ExitCode = %d, want %d", tc.name, got, tc.code)
		}
		if got := Retryable(tc.err); got != tc.retryable {
			t.Errorf("%s: Retryable = %v, want %v", tc.name, got, tc.retryable)
		}
	}
}

// apiError stands for smithy.APIError: an error with a service's code.
type apiError string

func (e apiError) Error() string     { return "api error " + string(e) }
func (e apiError) ErrorCode() string { return string(e) }

// permanentInput fails every read with a permanent error.
type permanentInput struct{ objstore.Bucket }

func (p permanentInput) ReaderAt(ctx context.Context, key string) (io.ReaderAt, int64, error) {
	return nil, 0, fmt.Errorf("read %s: %w", key, unfittable{})
}

// TestRunnerDoesNotRetryPermanent: a failure marked Permanent is exit 1
// and tried once, however many retries are allowed.
func TestRunnerDoesNotRetryPermanent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.runner = f.newRunner(t, nil)
	f.runner.in = permanentInput{f.in.Bucket}
	_, err := f.runner.Run(ctx, Request{AsOf: shoptest.Date(t, "2025-06-30"), Trigger: ledger.Schedule, Retries: 3, Backoff: time.Millisecond})
	if ExitCode(err) != ExitFailure {
		t.Fatalf("exit %d (%v), want 1", ExitCode(err), err)
	}
	recs, _ := f.runner.Ledger().List(ctx, ledger.Query{AsOf: "2025-06-30"})
	if len(recs) != 1 {
		t.Fatalf("%d tries, want 1", len(recs))
	}
}

// flakyLocks fails the next fail conditional writes, as an unreachable
// store does.
type flakyLocks struct {
	*objstore.Mem
	mu   sync.Mutex
	fail int
}

func (f *flakyLocks) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	f.mu.Lock()
	fail := f.fail > 0 && strings.Contains(key, "_strata/locks/")
	if fail {
		f.fail--
	}
	f.mu.Unlock()
	if fail {
		return false, errors.New("put " + key + ": dial tcp 10.0.0.1:443: connect: connection refused")
	}
	return f.Mem.UploadIfAbsent(ctx, key, r)
}

// TestRunnerLeaseExpiredInOutageIsRetried: a run whose lease lapsed
// because the store could not be reached to renew it (no other process
// exists) is exit 1, not 4; the runner locks the date again and the retry
// publishes.
func TestRunnerLeaseExpiredInOutageIsRetried(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	out := &flakyLocks{Mem: f.out}
	var mu sync.Mutex
	now := time.Date(2025, 7, 1, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r, err := NewRunner(ctx, f.cfg, RunnerOptions{Version: "test", Input: f.in, Output: out, Now: clock,
		LeaseTTL: 30 * time.Millisecond, Holder: "only-process"})
	if err != nil {
		t.Fatal(err)
	}
	f.in.block, f.in.entered = make(chan struct{}), make(chan struct{}, 1)
	type result struct {
		out *Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		o, err := r.Run(ctx, Request{AsOf: shoptest.Date(t, "2025-06-30"), Trigger: ledger.Schedule, Retries: 1, Backoff: time.Millisecond})
		done <- result{o, err}
	}()
	<-f.in.entered
	// The run is mid-way. The store goes away for one renewal, long
	// enough (by the lease's clock) for the lease to lapse.
	f.in.mu.Lock()
	f.in.block = nil // the retry reads freely; the blocked read waits for its context
	f.in.mu.Unlock()
	out.mu.Lock()
	out.fail = 1
	out.mu.Unlock()
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	res := <-done
	if res.err != nil {
		t.Fatalf("the retry after the outage: %v (exit %d)", res.err, ExitCode(res.err))
	}
	recs, err := r.Ledger().List(ctx, ledger.Query{AsOf: "2025-06-30"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Status != ledger.Succeeded || recs[1].Status != ledger.Failed {
		t.Fatalf("ledger: %d records %v", len(recs), recs)
	}
	if first := recs[1]; first.ExitCode != ExitFailure || !strings.Contains(first.Error, "could not be reached") ||
		strings.Contains(first.Error, "another process") {
		t.Errorf("the failed try: exit %d, error %q; want exit 1 and the store unreachable", first.ExitCode, first.Error)
	}
}
