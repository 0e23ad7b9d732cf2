package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/jobs/internal/shoptest"
	"github.com/strata-oss/strata/jobs/lease"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/jobs/notify"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// hook is a webhook receiver: every event it is sent.
type hook struct {
	*httptest.Server
	events chan notify.Event
}

func newHook(t *testing.T) *hook {
	h := &hook{events: make(chan notify.Event, 64)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev notify.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		h.events <- ev
	}))
	t.Cleanup(h.Close)
	return h
}

// next returns the next event the webhook got (deliveries are in the
// background; this waits on a channel, bounded only against a hang).
func (h *hook) next(t *testing.T, kind string) notify.Event {
	t.Helper()
	select {
	case ev := <-h.events:
		if ev.Event != kind {
			t.Fatalf("event %q (%s), want %q", ev.Event, ev.Summary, kind)
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q event", kind)
	}
	return notify.Event{}
}

// withHook configures cfg and opt to send every event to h, with retries
// that do not wait.
func withHook(cfg *config.Config, opt *Options, h *hook) {
	cfg.Notify = []config.Notify{{URLEnv: "STRATA_TEST_HOOK"}}
	opt.Notify = notify.Options{Lookup: func(k string) (string, bool) { return h.URL, k == "STRATA_TEST_HOOK" },
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
}

func memShop(t *testing.T) (*config.Config, objstore.Bucket, objstore.Bucket) {
	t.Helper()
	in, out := objstore.NewMem(), objstore.NewMem()
	shoptest.Generate(t, in, 300)
	cfg := shoptest.Config(t, "mem://in", "mem://out")
	cfg.Schedule.Cron = "0 3 * * *"
	return cfg, in, out
}

// publishedMetrics are the /metrics lines that describe what is published.
func publishedMetrics(t *testing.T, s *server) []string {
	t.Helper()
	_, body := s.do(t, "GET", "/metrics", "", "")
	var lines []string
	for _, l := range strings.Split(body["text"].(string), "\n") {
		if strings.HasPrefix(l, "strata_last_success_timestamp_seconds ") || strings.HasPrefix(l, "strata_customers ") ||
			strings.HasPrefix(l, "strata_published_rows{") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestMetricsSurviveRestart: the published-state metrics of a restarted
// daemon are those before the restart, read from the ledger.
func TestMetricsSurviveRestart(t *testing.T) {
	cfg, in, out := memShop(t)
	clock := clockwork.NewFakeClockAt(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC))
	s := start(t, cfg, Options{Logger: zerolog.Nop(), Runner: jobs.RunnerOptions{Input: in, Output: out}, Clock: clock})
	fire(t, clock, s)
	before := publishedMetrics(t, s)
	if len(before) < 4 || slices.Contains(before, "strata_last_success_timestamp_seconds 0") {
		t.Fatalf("metrics after a run: %v", before)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	s2 := start(t, cfg, Options{Logger: zerolog.Nop(), Runner: jobs.RunnerOptions{Input: in, Output: out}, Clock: clock})
	after := publishedMetrics(t, s2)
	if strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("after the restart:\n%s\nbefore:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}

// TestCatchUpAfterOutage: a daemon down for three firings runs, when it
// starts, the two within schedule.catch_up_days, oldest first, and
// reports the older one missed.
func TestCatchUpAfterOutage(t *testing.T) {
	cfg, in, out := memShop(t)
	two := 2
	cfg.Schedule.CatchUpDays = &two
	h := newHook(t)
	clock := clockwork.NewFakeClockAt(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC))
	opt := Options{Logger: zerolog.Nop(), Runner: jobs.RunnerOptions{Input: in, Output: out}, Clock: clock}
	withHook(cfg, &opt, h)
	s := start(t, cfg, opt)
	fire(t, clock, s) // 07-01 03:00: as of 06-30
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// Down until 07-04 12:00: the firings of 07-02, 07-03 and 07-04 03:00
	// (as of 07-01, 07-02, 07-03) are missed; the last two are within
	// two days.
	clock.Advance(time.Date(2025, 7, 4, 12, 0, 0, 0, time.UTC).Sub(clock.Now()))
	var mu sync.Mutex
	var order []string
	opt.Runner.OnFinish = func(r *ledger.Record) {
		mu.Lock()
		order = append(order, r.AsOf+" "+string(r.Status))
		mu.Unlock()
	}
	s2 := start(t, cfg, opt)
	<-s2.d.caughtUp
	mu.Lock()
	got := strings.Join(order, ", ")
	mu.Unlock()
	if want := "2025-07-02 succeeded, 2025-07-03 succeeded"; got != want {
		t.Errorf("catch-up ran %q, want %q", got, want)
	}
	ev := h.next(t, config.EventMissed)
	if strings.Join(ev.Dates, ",") != "2025-07-01" || !strings.Contains(ev.Summary, "catch_up_days") {
		t.Errorf("missed event %+v", ev)
	}
	recs, err := ledger.New(out).List(context.Background(), ledger.Query{AsOf: "2025-07-01"})
	if err != nil || len(recs) != 0 {
		t.Errorf("the date beyond catch-up was run: %v %v", recs, err)
	}
	// A third start has nothing left to catch up.
	if err := s2.stop(); err != nil {
		t.Fatal(err)
	}
	order = nil
	s3 := start(t, cfg, opt)
	<-s3.d.caughtUp
	if len(order) != 0 {
		t.Errorf("a second catch-up ran %v", order)
	}
}

// TestMissedWhileBusy: a firing that comes while the previous scheduled
// run is still going is skipped and reported missed.
func TestMissedWhileBusy(t *testing.T) {
	cfg, in, out := memShop(t)
	h := newHook(t)
	g := &gated{Bucket: in}
	clock := clockwork.NewFakeClockAt(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC))
	opt := Options{Logger: zerolog.Nop(), Runner: jobs.RunnerOptions{Input: g, Output: out}, Clock: clock}
	withHook(cfg, &opt, h)
	s := start(t, cfg, opt)
	entered := g.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(15 * time.Hour) // 07-01 03:00
	<-entered                     // the run of 06-30 is reading
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(24 * time.Hour) // 07-02 03:00, while it is
	ev := h.next(t, config.EventMissed)
	if strings.Join(ev.Dates, ",") != "2025-07-01" || !strings.Contains(ev.Summary, "still going") {
		t.Errorf("missed event %+v", ev)
	}
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
	waitFor(t, 30*time.Second, "the run to finish", s.d.idle)
}

// TestFailedLockedStaleDriftAlerts: the events of a failed run, of a date
// locked at two firings in a row (one: no event), of stale inputs and of
// drift reach the webhook.
func TestFailedLockedStaleDriftAlerts(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		cfg, in, out := memShop(t)
		zero := 0.0
		cfg.Quality.MaxBadFraction = &zero
		h := newHook(t)
		clock := clockwork.NewFakeClockAt(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC))
		opt := Options{Logger: zerolog.Nop(), Runner: jobs.RunnerOptions{Input: in, Output: out}, Clock: clock}
		withHook(cfg, &opt, h)
		s := start(t, cfg, opt)
		fire(t, clock, s)
		ev := h.next(t, config.EventFailed)
		if ev.AsOf != "2025-06-30" || ev.ExitCode != jobs.ExitQuality || ev.Trigger != "schedule" || ev.RunID == "" ||
			!strings.Contains(ev.Error, "data-quality gate") || !strings.Contains(ev.Summary, "failed (exit 3") {
			t.Errorf("failed event %+v", ev)
		}
	})
	t.Run("locked", func(t *testing.T) {
		cfg, in, out := memShop(t)
		h := newHook(t)
		clock := clockwork.NewFakeClockAt(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC))
		other := lease.New(out.(lease.Store), lease.Options{TTL: 30 * 24 * time.Hour, Now: clock.Now})
		for _, d := range []string{"2025-06-30", "2025-07-01", "2025-07-02"} {
			if _, err := other.Acquire(context.Background(), d, "stuck-host pid 9"); err != nil {
				t.Fatal(err)
			}
		}
		opt := Options{Logger: zerolog.Nop(), Runner: jobs.RunnerOptions{Input: in, Output: out}, Clock: clock}
		withHook(cfg, &opt, h)
		s := start(t, cfg, opt)
		fire(t, clock, s)                // locked once: a race lost, no event
		fire(t, clock, s)                // twice in a row: event
		fire(t, clock, s)                // three times: already said
		if err := s.stop(); err != nil { // waits for deliveries
			t.Fatal(err)
		}
		ev := h.next(t, config.EventLocked)
		if ev.AsOf != "2025-07-01" || !strings.Contains(ev.Error, "stuck-host pid 9") {
			t.Errorf("locked event %+v", ev)
		}
		if n := len(h.events); n != 0 {
			t.Errorf("%d more events, want none", n)
		}
	})
	t.Run("stale and drift", func(t *testing.T) {
		cfg, in, out := memShop(t)
		h := newHook(t)
		opt := Options{Logger: zerolog.Nop(), Runner: jobs.RunnerOptions{Input: in, Output: out}}
		withHook(cfg, &opt, h)
		s := start(t, cfg, opt)
		rec := &ledger.Record{ID: "r1", AsOf: "2025-06-30", Trigger: ledger.Schedule, Try: 1}
		stale := &pipeline.QualityError{Table: "orders", Stale: &pipeline.StaleError{AsOf: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC),
			Newest: time.Date(2025, 6, 21, 0, 0, 0, 0, time.UTC), Limit: 2}}
		s.d.alertDone(rec, fmt.Errorf("gate: %w", stale))
		// Two deliveries in the background: in either order.
		a, b := <-h.events, <-h.events
		if a.Event == config.EventStale {
			a, b = b, a
		}
		if a.Event != config.EventFailed || b.Event != config.EventStale || b.AsOf != "2025-06-30" || !strings.Contains(b.Summary, "stale") {
			t.Errorf("events %+v, %+v; want failed and stale", a, b)
		}
		// A run without breaches sends nothing; the next with one does.
		rec.Drift = &ledger.Drift{PreviousAsOf: "2025-06-29", PSI: map[string]float64{"frequency": 0.01}}
		s.d.alertDrift(rec)
		rec.Drift.PSI["monetary_value"] = 6.2
		rec.Drift.Breaches = []string{"monetary_value: PSI 6.2 > 0.25"}
		s.d.alertDrift(rec)
		if ev := h.next(t, config.EventDrift); !strings.Contains(ev.Summary, "monetary_value: PSI 6.2") || ev.AsOf != "2025-06-30" ||
			!strings.Contains(ev.Summary, "since 2025-06-29") {
			t.Errorf("drift event %+v", ev)
		}
		// The metrics show every PSI and the segments' shares.
		now := time.Now()
		rec.Status, rec.FinishedAt, rec.SegmentShares = ledger.Succeeded, &now, map[string]float64{"Champions": 0.12}
		s.d.metrics.observe(rec)
		_, body := s.do(t, "GET", "/metrics", "", "")
		for _, want := range []string{`strata_drift_psi{feature="monetary_value"} 6.2`, `strata_drift_psi{feature="frequency"} 0.01`,
			`strata_segment_share{segment="Champions"} 0.12`} {
			if !strings.Contains(body["text"].(string), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

func TestIsStale(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pipeline.QualityError{Table: "orders", Stale: &pipeline.StaleError{Limit: 7}}, true},
		{fmt.Errorf("x: %w", &pipeline.QualityError{Table: "orders", Stale: &pipeline.StaleError{Limit: 7}}), true},
		{&pipeline.QualityError{Table: "orders", Bad: 1, Rows: 2}, false},
		{fmt.Errorf("inputs are stale: %w", &pipeline.QualityError{Table: "orders"}), false}, // the type decides, not the words
		{errors.New("stale connection"), false},
	} {
		if got := isStale(tc.err); got != tc.want {
			t.Errorf("isStale(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestAPIBounds: at most api.max_concurrent_runs API runs at once (429,
// JSON, beyond); JSON errors are not HTML-escaped; a backfill's parallel
// is refused with the reason when clustering chains dates, honoured
// otherwise.
func TestAPIBounds(t *testing.T) {
	cfg, in, out := memShop(t)
	g := &gated{Bucket: in}
	s := start(t, cfg, Options{Logger: zerolog.Nop(), Token: token, Runner: jobs.RunnerOptions{Input: g, Output: out}})
	if cfg.MaxRuns() != 1 {
		t.Fatalf("default with clustering on: %d, want 1", cfg.MaxRuns())
	}
	entered := g.close()
	code, body := s.do(t, "POST", "/api/v1/runs", token, `{"as_of": "2025-06-30"}`)
	if code != http.StatusAccepted {
		t.Fatalf("first run: %d %v", code, body)
	}
	<-entered
	for p, req := range map[string]string{"/api/v1/runs": `{"as_of": "2025-07-01"}`, "/api/v1/backfills": `{"from": "2025-07-01", "to": "2025-07-02"}`} {
		code, body := s.do(t, "POST", p, token, req)
		if msg, _ := body["error"].(string); code != http.StatusTooManyRequests || !strings.Contains(msg, "api.max_concurrent_runs (1)") {
			t.Errorf("POST %s beyond the bound: %d %v", p, code, body)
		}
	}
	// The raw body of an error says <token>, not \u003ctoken\u003e.
	resp, err := http.Post(s.url+"/api/v1/runs", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), "Bearer <token>") {
		t.Errorf("HTML-escaped error body: %s", raw)
	}
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
	waitFor(t, 30*time.Second, "the run to finish", s.d.idle)
	code, body = s.do(t, "POST", "/api/v1/backfills", token, `{"from": "2025-07-01", "to": "2025-07-02", "parallel": 2}`)
	if msg, _ := body["error"].(string); code != http.StatusBadRequest || !strings.Contains(msg, "clustering on") {
		t.Errorf("parallel 2 with clustering: %d %v", code, body)
	}
	if code, body := s.do(t, "POST", "/api/v1/runs", token, `{"as_of": "2025-07-01"}`); code != http.StatusAccepted {
		t.Errorf("a run after the first finished: %d %v", code, body)
	}
	waitFor(t, 30*time.Second, "the run to finish", s.d.idle)

	// Without clustering, parallel is honoured, and two runs may go at once.
	off := false
	cfg2, in2, out2 := memShop(t)
	cfg2.Cluster.Enabled = &off
	if cfg2.MaxRuns() != 2 {
		t.Fatalf("default without clustering: %d, want 2", cfg2.MaxRuns())
	}
	s2 := start(t, cfg2, Options{Logger: zerolog.Nop(), Token: token, Runner: jobs.RunnerOptions{Input: in2, Output: out2}})
	code, body = s2.do(t, "POST", "/api/v1/backfills", token, `{"from": "2025-07-01", "to": "2025-07-03", "parallel": 2}`)
	if code != http.StatusAccepted {
		t.Fatalf("parallel 2 without clustering: %d %v", code, body)
	}
	id := body["id"].(string)
	waitFor(t, 60*time.Second, "the backfill", s2.d.idle)
	_, prog := s2.do(t, "GET", "/api/v1/backfills/"+id, "", "")
	if prog["parallel"] != 2.0 || prog["succeeded"] != 3.0 {
		t.Errorf("backfill progress %v", prog)
	}
}
