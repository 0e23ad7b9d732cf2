package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/jobs/internal/shoptest"
	"github.com/strata-oss/strata/jobs/lease"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
)

func TestBackfillDates(t *testing.T) {
	d := func(s string) time.Time { return shoptest.Date(t, s) }
	cases := []struct {
		from, to string
		n        int
		err      string
	}{
		{"2025-06-01", "2025-06-01", 1, ""},
		{"2025-02-27", "2025-03-02", 4, ""},
		{"2025-06-02", "2025-06-01", 0, "from must not be after to"},
		{"2000-01-01", "2025-01-01", 0, "longer than 3660 days"},
	}
	for _, tc := range cases {
		dates, err := BackfillDates(d(tc.from), d(tc.to))
		var ue *UsageError
		switch {
		case tc.err == "" && (err != nil || len(dates) != tc.n):
			t.Errorf("%s…%s: %d dates, %v; want %d", tc.from, tc.to, len(dates), err, tc.n)
		case tc.err != "" && (!errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s…%s: %v, want a usage error saying %q", tc.from, tc.to, err, tc.err)
		}
	}
}

// TestBackfillResumes: a backfill stopped half way (a crash, Ctrl-C)
// resumes where it was: re-running it skips what was published and runs
// the rest, and every date ends up published exactly once.
func TestBackfillResumes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	from, to := shoptest.Date(t, "2025-06-01"), shoptest.Date(t, "2025-06-06")
	stopCtx, stop := context.WithCancel(ctx)
	var seen []BackfillProgress
	p, err := f.runner.Backfill(stopCtx, BackfillRequest{From: from, To: to, Parallel: 1}, func(p BackfillProgress) {
		seen = append(seen, p)
		if p.Done == 2 {
			stop() // the process dies after two dates
		}
	})
	if err == nil || p.Done != 2 || p.Succeeded != 2 {
		t.Fatalf("interrupted backfill: %+v, %v", p, err)
	}
	if len(seen) < 3 || seen[0].Done != 0 || seen[0].Total != 6 {
		t.Errorf("progress reports: %+v", seen)
	}
	p, err = f.runner.Backfill(ctx, BackfillRequest{From: from, To: to, Parallel: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Skipped != 2 || p.Succeeded != 4 || p.Failed != 0 || p.Done != 6 || !p.Finished {
		t.Errorf("resumed backfill: %+v, want 2 skipped, 4 succeeded", p)
	}
	if p.Parallel != 1 {
		t.Errorf("clustering chains dates, so the backfill must run them one at a time; it ran %d", p.Parallel)
	}
	// Each date: published by exactly one succeeded run, which the
	// manifest names.
	recs, err := f.runner.Ledger().List(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	succeeded := map[string][]string{}
	for _, r := range recs {
		if r.Status == ledger.Succeeded {
			succeeded[r.AsOf] = append(succeeded[r.AsOf], r.ID)
		}
		if r.Trigger != ledger.Backfill || r.BackfillID == "" {
			t.Errorf("record %s: trigger %s, backfill id %q", r.ID, r.Trigger, r.BackfillID)
		}
	}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		date := d.Format("2006-01-02")
		m := f.manifest(t, date)
		if len(succeeded[date]) != 1 || m == nil || m.RunID != succeeded[date][0] {
			t.Errorf("%s: succeeded runs %v, manifest %+v", date, succeeded[date], m)
		}
	}
}

// TestBackfillIndependentOfParallelism: the same backfill with 1 and with
// 4 workers publishes the same attempts, date by date: cluster ids chain
// from each date to the next, whatever the parallelism.
func TestBackfillIndependentOfParallelism(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	from, to := shoptest.Date(t, "2025-06-01"), shoptest.Date(t, "2025-06-04")
	attempts := map[int][]string{}
	for _, par := range []int{1, 4} {
		f.out = objstore.NewMem()
		r := f.newRunner(t, nil)
		if _, err := r.Backfill(ctx, BackfillRequest{From: from, To: to, Parallel: par}, nil); err != nil {
			t.Fatal(err)
		}
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			attempts[par] = append(attempts[par], f.manifest(t, d.Format("2006-01-02")).Attempt)
		}
	}
	if fmt.Sprint(attempts[1]) != fmt.Sprint(attempts[4]) {
		t.Errorf("attempts with 1 worker %v, with 4 %v", attempts[1], attempts[4])
	}
}

// TestBackfillParallelWithoutClustering: without clustering dates are
// independent and run in parallel.
func TestBackfillParallelWithoutClustering(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	off := false
	f.cfg.Cluster.Enabled = &off
	f.runner = f.newRunner(t, nil)
	p, err := f.runner.Backfill(ctx, BackfillRequest{From: shoptest.Date(t, "2025-06-01"), To: shoptest.Date(t, "2025-06-06"), Parallel: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Parallel != 3 || p.Succeeded != 6 {
		t.Errorf("progress %+v", p)
	}
	dates, err := publish.Dates(ctx, f.out)
	if err != nil || len(dates) != 6 {
		t.Errorf("published %v, %v", dates, err)
	}
}

// TestBackfillStopsOnConfigError: a configuration or schema error would
// fail every date, so the backfill stops at the first.
func TestBackfillStopsOnConfigError(t *testing.T) {
	f := newFixture(t)
	f.cfg.Input.Orders.Columns["amount"] = "no_such_column"
	f.runner = f.newRunner(t, nil)
	p, err := f.runner.Backfill(context.Background(), BackfillRequest{From: shoptest.Date(t, "2025-06-01"), To: shoptest.Date(t, "2025-06-30")}, nil)
	if ExitCode(err) != ExitUsage {
		t.Fatalf("exit code %d (%v), want %d", ExitCode(err), err, ExitUsage)
	}
	if p.Done != 1 || p.Failed != 1 {
		t.Errorf("progress %+v: want a stop after the first date", p)
	}
}

// TestBackfillExitCodes: a backfill's exit code is its first failed date's,
// or 4 when the only problem was locked dates.
func TestBackfillExitCodes(t *testing.T) {
	locked := fmt.Errorf("x: %w", lease.ErrLocked)
	cases := []struct {
		err  *BackfillError
		want int
	}{
		{&BackfillError{Failed: 1, Errs: []error{errors.New("503")}}, ExitFailure},
		{&BackfillError{Failed: 1, Locked: 1, Errs: []error{&UsageError{Msg: "x"}, locked}}, ExitUsage},
		{&BackfillError{Locked: 2, Errs: []error{locked, locked}}, ExitLocked},
	}
	for i, tc := range cases {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("case %d: %d, want %d", i, got, tc.want)
		}
	}
}
