package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/jobs/internal/shoptest"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
	"github.com/strata-oss/strata/pipeline/publish"
)

const token = "test-token-123"

// gated holds reads of an input bucket while closed, so a test can stop a
// run mid-way.
type gated struct {
	objstore.Bucket
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
}

func (g *gated) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate, g.entered = make(chan struct{}), make(chan struct{}, 1)
	return g.entered
}

func (g *gated) ReaderAt(ctx context.Context, key string) (io.ReaderAt, int64, error) {
	g.mu.Lock()
	gate, entered := g.gate, g.entered
	g.mu.Unlock()
	if gate != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	return g.Bucket.ReaderAt(ctx, key)
}

// server is a daemon running in the test, reached over HTTP.
type server struct {
	d    *Daemon
	url  string
	stop func() error // cancels Run and returns its error
}

// epoch is where the tests' fake clocks start: a schedule fires only
// when a test advances its clock past a firing.
var epoch = time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)

func start(t *testing.T, cfg *config.Config, opt Options) *server {
	t.Helper()
	if opt.Clock == nil {
		opt.Clock = clockwork.NewFakeClockAt(epoch)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opt.Listener = ln
	opt.Runner.Version = "test"
	d, err := New(context.Background(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	s := &server{d: d, url: "http://" + ln.Addr().String()}
	var once sync.Once
	var runErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(60 * time.Second):
				runErr = fmt.Errorf("daemon did not stop")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = s.stop() })
	waitFor(t, 10*time.Second, "daemon ready", func() bool { return d.Ready() })
	return s
}

func (s *server) do(t *testing.T, method, path, tok, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(path, "/metrics") {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var v map[string]any
	if !strings.HasPrefix(path, "/metrics") {
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, data)
		}
	} else {
		v = map[string]any{"text": string(data)}
	}
	return resp.StatusCode, v
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func s3Shop(t *testing.T) (*config.Config, *s3test.Server, objstore.Bucket, objstore.Bucket) {
	t.Helper()
	srv := s3test.Start(t)
	in, out := srv.NewBucket(t, "shop", "input"), srv.NewBucket(t, "shop", "output")
	shoptest.Generate(t, in, 300)
	cfg := shoptest.Config(t, "s3://shop/input", "s3://shop/output")
	cfg.Schedule.Cron = "0 3 * * *"
	return cfg, srv, in, out
}

// succeededByDate reads the whole ledger and checks every final record is
// complete; it returns the succeeded runs' ids by date.
func succeededByDate(t *testing.T, out objstore.Bucket) map[string][]*ledger.Record {
	t.Helper()
	recs, err := ledger.New(out).List(context.Background(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]*ledger.Record{}
	for _, r := range recs {
		if r.Status == ledger.Running {
			t.Errorf("run %s still running after the daemon stopped", r.ID)
		}
		if r.Status != ledger.Succeeded {
			continue
		}
		var stages []string
		for _, s := range r.Stages {
			stages = append(stages, s.Stage)
		}
		if r.ConfigHash == "" || r.Attempt == "" || len(r.Inputs) == 0 || r.FinishedAt == nil || r.Rows["segments"] == 0 ||
			strings.Join(stages, ",") != "extract,features,rfm,cluster,clv,cluster_names,recommend,rfm_migration,drift,brief,publish" || r.Holder == "" {
			t.Errorf("incomplete ledger record %+v", r)
		}
		by[r.AsOf] = append(by[r.AsOf], r)
	}
	return by
}

func checkPublishedOnce(t *testing.T, out objstore.Bucket, by map[string][]*ledger.Record, dates []string) {
	t.Helper()
	for _, d := range dates {
		m, err := publish.ReadManifest(context.Background(), out, d)
		if err != nil {
			t.Errorf("%s: not published: %v", d, err)
			continue
		}
		if len(by[d]) != 1 {
			t.Errorf("%s: %d succeeded runs, want exactly 1", d, len(by[d]))
			continue
		}
		if r := by[d][0]; m.RunID != r.ID || m.Attempt != r.Attempt {
			t.Errorf("%s: manifest run %s attempt %s, ledger run %s attempt %s", d, m.RunID, m.Attempt, r.ID, r.Attempt)
		}
	}
}

// fire advances clock to the schedule's next firing (daily at 03:00 in
// the tests) once every daemon has its timer set, and waits until each of
// them has finished what the firing started.
func fire(t *testing.T, clock *clockwork.FakeClock, servers ...*server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A firing during a daemon's catch-up at start is skipped by design
	// (the catch-up holds the scheduled runs' singleton flag): under load
	// a daemon still reading its ledger skipped the first tick, and
	// TestTwoDaemonsOneBucket found a date tried by one daemon only.
	for _, s := range servers {
		select {
		case <-s.d.caughtUp:
		case <-ctx.Done():
			t.Fatal("a daemon's catch-up at start did not end")
		}
	}
	if err := clock.BlockUntilContext(ctx, len(servers)); err != nil {
		t.Fatalf("the schedulers set no timer: %v", err)
	}
	now := clock.Now().UTC()
	next := time.Date(now.Year(), now.Month(), now.Day(), 3, 0, 0, 0, time.UTC)
	if !next.After(now) {
		next = next.AddDate(0, 0, 1)
	}
	before := make([]int64, len(servers))
	for i, s := range servers {
		before[i] = s.d.firings.Load()
	}
	clock.Advance(next.Sub(now))
	waitFor(t, 60*time.Second, fmt.Sprintf("the firing's runs (at %v)", next), func() bool {
		for i, s := range servers {
			if s.d.firings.Load() == before[i] || !s.d.idle() {
				return false
			}
		}
		return true
	})
}

// TestDaemonScheduleAndBackfill: the daemon on versitygw publishes the
// date of a firing of its schedule; a backfill of 5 dates through the API
// publishes each exactly once, with a complete ledger and metrics.
func TestDaemonScheduleAndBackfill(t *testing.T) {
	cfg, _, in, out := s3Shop(t)
	clock := clockwork.NewFakeClockAt(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC))
	s := start(t, cfg, Options{Logger: zerolog.Nop(), Token: token, Runner: jobs.RunnerOptions{Input: in, Output: out},
		Clock: clock})

	fire(t, clock, s) // 2025-07-01 03:00, lag 1: as of 2025-06-30
	if _, err := publish.ReadManifest(context.Background(), out, "2025-06-30"); err != nil {
		t.Fatalf("the scheduled run did not publish: %v", err)
	}
	code, body := s.do(t, "POST", "/api/v1/backfills", token, `{"from": "2025-07-01", "to": "2025-07-05"}`) // clustering on: one at a time
	if code != http.StatusAccepted {
		t.Fatalf("POST backfill: %d %v", code, body)
	}
	id, _ := body["id"].(string)
	if body["dates"] != 5.0 || body["url"] != "/api/v1/backfills/"+id {
		t.Errorf("backfill response %v", body)
	}
	var prog map[string]any
	waitFor(t, 60*time.Second, "the backfill to finish", func() bool {
		_, prog = s.do(t, "GET", "/api/v1/backfills/"+id, "", "")
		return prog["finished"] == true
	})
	if prog["succeeded"] != 5.0 || prog["failed"] != 0.0 || prog["total"] != 5.0 {
		t.Errorf("backfill progress %v", prog)
	}
	// The schedule fires for 2025-07-01, which the backfill published:
	// the tick is skipped as up to date.
	fire(t, clock, s)

	code, list := s.do(t, "GET", "/api/v1/runs?limit=1000", "", "")
	if code != 200 {
		t.Fatalf("GET runs: %d %v", code, list)
	}
	runs, _ := list["runs"].([]any)
	var bfRuns, skips int
	for _, r := range runs {
		rec := r.(map[string]any)
		if rec["backfill_id"] == id {
			bfRuns++
		}
		if rec["trigger"] == "schedule" && rec["status"] == "skipped" {
			skips++
		}
	}
	if bfRuns != 5 || skips == 0 {
		t.Errorf("ledger over the API: %d runs of the backfill (want 5), %d skipped scheduled ticks (want some)", bfRuns, skips)
	}
	code, one := s.do(t, "GET", "/api/v1/runs/"+runs[0].(map[string]any)["id"].(string), "", "")
	if code != 200 || one["id"] != runs[0].(map[string]any)["id"] {
		t.Errorf("GET one run: %d %v", code, one)
	}

	_, m := s.do(t, "GET", "/metrics", "", "")
	for _, want := range []string{
		`strata_runs_total{result="succeeded",trigger="schedule"} 1`,
		`strata_runs_total{result="succeeded",trigger="backfill"} 5`,
		`strata_stage_duration_seconds_count{stage="extract"} 6`,
		`strata_published_rows{table="segments"} `,
		`strata_customers `,
		`strata_last_success_timestamp_seconds `,
		`strata_ready 1`,
	} {
		if !strings.Contains(m["text"].(string), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	by := succeededByDate(t, out)
	checkPublishedOnce(t, out, by, []string{"2025-06-30", "2025-07-01", "2025-07-02", "2025-07-03", "2025-07-04", "2025-07-05"})
	if len(by) != 6 {
		t.Errorf("dates published: %d, want 6", len(by))
	}
}

// TestTwoDaemonsOneBucket: two daemons on one bucket, one clock, for 10
// daily firings: every date is processed exactly once, by one daemon or
// the other, and no firing is lost.
func TestTwoDaemonsOneBucket(t *testing.T) {
	cfg, srv, in, _ := s3Shop(t)
	clock := clockwork.NewFakeClockAt(time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	seen := map[string]map[string]ledger.Status{} // date → daemon → last status
	servers := make([]*server, 2)
	for i := range servers {
		name := fmt.Sprintf("daemon-%d", i)
		out := srv.NewBucket(t, "shop", "output") // a client of its own
		servers[i] = start(t, cfg, Options{Logger: zerolog.Nop(), Token: token, Clock: clock,
			Runner: jobs.RunnerOptions{Input: in, Output: out, Holder: name, OnFinish: func(r *ledger.Record) {
				mu.Lock()
				if seen[r.AsOf] == nil {
					seen[r.AsOf] = map[string]ledger.Status{}
				}
				seen[r.AsOf][name] = r.Status
				mu.Unlock()
			}}})
	}
	const ticks = 10
	for range ticks {
		fire(t, clock, servers...)
	}
	for _, s := range servers {
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
	}
	out := srv.NewBucket(t, "shop", "output")
	by := succeededByDate(t, out)
	var dates []string
	mu.Lock()
	for d := range seen {
		dates = append(dates, d)
	}
	mu.Unlock()
	sort.Strings(dates)
	checkPublishedOnce(t, out, by, dates)
	// No firing was lost: the dates are the ten days after the start.
	if len(dates) != ticks {
		t.Fatalf("dates %v, want %d", dates, ticks)
	}
	for i, d := range dates {
		if want := time.Date(2025, 5, 1+i, 0, 0, 0, 0, time.UTC).Format("2006-01-02"); d != want {
			t.Fatalf("dates %v: %s missing", dates, want)
		}
		if len(seen[d]) != 2 {
			t.Errorf("%s: tried by %v, want both daemons", d, seen[d])
		}
	}
	// Each daemon tried each tick's date once: one published it, the
	// other skipped it, locked out or finding it published.
	all, err := ledger.New(out).List(context.Background(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	perDate := map[string]int{}
	wins, skips := map[string]int{}, map[string]int{}
	for _, r := range all {
		perDate[r.AsOf]++
		switch {
		case r.Status == ledger.Succeeded:
			wins[r.Holder]++
		case r.Status == ledger.Skipped && strings.Contains(r.Reason, "locked by"):
			skips["locked"]++
		case r.Status == ledger.Skipped:
			skips["up to date"]++
		default:
			t.Errorf("run %s of %s: %s %s", r.ID, r.AsOf, r.Status, r.Error)
		}
	}
	for d, n := range perDate {
		if n > 2 {
			t.Errorf("%s: %d runs by two daemons that each fired once", d, n)
		}
	}
	t.Logf("%d dates, %d published; published by holder: %v; skipped: %v", len(dates), len(by), wins, skips)
}

// TestShutdownMidRun: SIGTERM (the end of Run's context) while a run is
// mid-way: the daemon stops being ready, refuses new runs, and after the
// grace period cancels the run, which publishes nothing; the previous good
// partition stays as it was and the ledger says what happened.
func TestShutdownMidRun(t *testing.T) {
	cfg, _, in, out := s3Shop(t)
	cfg.Schedule.Cron = "0 3 * * *" // not during the test
	g := &gated{Bucket: in}
	grace := 30 * time.Second
	clock := clockwork.NewFakeClockAt(epoch)
	s := start(t, cfg, Options{Logger: zerolog.Nop(), Token: token, Runner: jobs.RunnerOptions{Input: g, Output: out},
		Grace: &grace, Clock: clock})

	code, body := s.do(t, "POST", "/api/v1/runs", token, `{"as_of": "2025-06-30"}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST run: %d %v", code, body)
	}
	first := body["id"].(string)
	waitFor(t, 30*time.Second, "the first run", func() bool {
		_, r := s.do(t, "GET", "/api/v1/runs/"+first, "", "")
		return r["status"] == "succeeded" && s.d.idle() // idle: its API slot is free
	})
	good, err := publish.ReadManifest(context.Background(), out, "2025-06-30")
	if err != nil {
		t.Fatal(err)
	}
	keysBefore, _ := objstore.List(context.Background(), out, "")

	entered := g.close()
	code, body = s.do(t, "POST", "/api/v1/runs", token, `{"as_of": "2025-06-30", "force": true}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST forced run: %d %v", code, body)
	}
	second := body["id"].(string)
	<-entered // the run is reading its inputs

	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	// The grace period is on the fake clock: it runs out when the test
	// says so, after checking what a draining daemon answers.
	waitFor(t, 30*time.Second, "readyz to go false", func() bool {
		code, _ := s.do(t, "GET", "/readyz", "", "")
		return code == http.StatusServiceUnavailable
	})
	if code, body := s.do(t, "POST", "/api/v1/runs", token, `{"as_of": "2025-07-01"}`); code != http.StatusServiceUnavailable {
		t.Errorf("POST while shutting down: %d %v, want 503", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The scheduler's timer and the grace period's.
	if err := clock.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("no grace period started: %v", err)
	}
	clock.Advance(grace)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}

	now, err := publish.ReadManifest(context.Background(), out, "2025-06-30")
	if err != nil {
		t.Fatal(err)
	}
	if now.RunID != good.RunID || now.Attempt != good.Attempt {
		t.Errorf("the cancelled run replaced the good one: %+v", now)
	}
	keysAfter, _ := objstore.List(context.Background(), out, "")
	var extra []string
	before := map[string]bool{}
	for _, k := range keysBefore {
		before[k] = true
	}
	for _, k := range keysAfter {
		if !before[k] && !strings.HasPrefix(k, "_strata/") {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		t.Errorf("the cancelled run left objects: %v", extra)
	}
	rec, err := ledger.New(out).Get(context.Background(), second)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != ledger.Failed || !strings.Contains(rec.Error, "cancelled before publishing") ||
		!strings.Contains(rec.Error, "grace period is over") || rec.FinishedAt == nil {
		t.Errorf("ledger of the cancelled run: %+v", rec)
	}
}

// TestAPI checks the API's contract: authentication, validation, JSON
// errors, status codes.
func TestAPI(t *testing.T) {
	in, out := objstore.NewMem(), objstore.NewMem()
	shoptest.Generate(t, in, 300)
	cfg := shoptest.Config(t, "mem://in", "mem://out")
	cfg.Schedule.Cron = "0 3 * * *"
	s := start(t, cfg, Options{Logger: zerolog.Nop(), Token: token, Runner: jobs.RunnerOptions{Input: in, Output: out}})
	cases := []struct {
		name, method, path, token, body string
		code                            int
		want                            string // in the "error" message, or any field
	}{
		{"health", "GET", "/healthz", "", "", 200, "ok"},
		{"ready", "GET", "/readyz", "", "", 200, ""},
		{"empty ledger", "GET", "/api/v1/runs", "", "", 200, ""},
		{"unknown run", "GET", "/api/v1/runs/20250101T000000Z-beef", "", "", 404, `no run with id "20250101T000000Z-beef"`},
		{"bad as_of filter", "GET", "/api/v1/runs?as_of=2025-13-01", "", "", 400, `as_of "2025-13-01" is not a date: want YYYY-MM-DD`},
		{"bad limit", "GET", "/api/v1/runs?limit=lots", "", "", 400, `limit "lots"`},
		{"no token", "POST", "/api/v1/runs", "", `{"as_of": "2025-06-30"}`, 401, "missing or wrong bearer token"},
		{"wrong token", "POST", "/api/v1/runs", "nope", `{"as_of": "2025-06-30"}`, 401, "missing or wrong bearer token"},
		{"backfill without token", "POST", "/api/v1/backfills", "", `{"from": "2025-06-01", "to": "2025-06-02"}`, 401, "bearer token"},
		{"bad JSON", "POST", "/api/v1/runs", token, `{"as_of": `, 400, "bad JSON body"},
		{"empty body", "POST", "/api/v1/runs", token, ``, 400, "bad JSON body: empty body"},
		{"unknown field", "POST", "/api/v1/runs", token, `{"asof": "2025-06-30"}`, 400, `unknown field "asof"`},
		{"trailing data", "POST", "/api/v1/runs", token, `{"as_of": "2025-06-30"} {}`, 400, "unexpected data after the JSON object"},
		{"missing date", "POST", "/api/v1/runs", token, `{}`, 400, "as_of is required (YYYY-MM-DD)"},
		{"bad date", "POST", "/api/v1/runs", token, `{"as_of": "30/06/2025"}`, 400, `as_of "30/06/2025" is not a date`},
		{"backfill bad from", "POST", "/api/v1/backfills", token, `{"from": "2025-6-1", "to": "2025-06-02"}`, 400, `from "2025-6-1" is not a date`},
		{"backfill reversed", "POST", "/api/v1/backfills", token, `{"from": "2025-06-03", "to": "2025-06-02"}`, 400, "from must not be after to"},
		{"backfill parallel", "POST", "/api/v1/backfills", token, `{"from": "2025-06-01", "to": "2025-06-02", "parallel": 1000}`, 400, "parallel 1000"},
		{"unknown backfill", "GET", "/api/v1/backfills/bf-x", "", "", 404, `no backfill with id "bf-x"`},
		{"wrong method", "DELETE", "/api/v1/runs", token, "", 405, "method DELETE not allowed on /api/v1/runs; allowed: GET, POST"},
		{"unknown path", "GET", "/api/v2/things", "", "", 404, "no endpoint GET /api/v2/things"},
		{"run accepted", "POST", "/api/v1/runs", token, `{"as_of": "2025-06-30"}`, 202, "/api/v1/runs/"},
	}
	var accepted string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := s.do(t, tc.method, tc.path, tc.token, tc.body)
			if code != tc.code {
				t.Errorf("status %d, want %d: %v", code, tc.code, body)
			}
			if code >= 400 {
				msg, ok := body["error"].(string)
				if !ok || !strings.Contains(msg, tc.want) {
					t.Errorf("error %q, want it to say %q", msg, tc.want)
				}
				return
			}
			if tc.want != "" && !strings.Contains(fmt.Sprint(body), tc.want) {
				t.Errorf("body %v lacks %q", body, tc.want)
			}
			if code == 202 {
				accepted = body["id"].(string)
			}
		})
	}
	// The accepted run is visible at once (pending) and then in the
	// ledger, finished.
	waitFor(t, 30*time.Second, "the accepted run to succeed", func() bool {
		code, r := s.do(t, "GET", "/api/v1/runs/"+accepted, "", "")
		return code == 200 && r["status"] == "succeeded" && r["trigger"] == "api"
	})

	// Without a token in the environment, mutating endpoints are off.
	noTok := start(t, cfg, Options{Logger: zerolog.Nop(), TokenEnv: "STRATA_API_TOKEN",
		Runner: jobs.RunnerOptions{Input: in, Output: out}})
	for _, p := range []string{"/api/v1/runs", "/api/v1/backfills"} {
		code, body := noTok.do(t, "POST", p, "anything", `{}`)
		if msg, _ := body["error"].(string); code != 403 || !strings.Contains(msg, "set STRATA_API_TOKEN in the daemon's environment") {
			t.Errorf("POST %s without a configured token: %d %v", p, code, body)
		}
	}
	if code, _ := noTok.do(t, "GET", "/api/v1/runs", "", ""); code != 200 {
		t.Errorf("reading needs no token: %d", code)
	}
}

func TestAsOfFor(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	la, _ := time.LoadLocation("America/Los_Angeles")
	cases := []struct {
		fired time.Time
		loc   *time.Location
		lag   int
		want  string
	}{
		{time.Date(2025, 7, 1, 2, 0, 0, 0, time.UTC), time.UTC, 1, "2025-06-30"},
		{time.Date(2025, 7, 1, 2, 0, 0, 0, time.UTC), time.UTC, 0, "2025-07-01"},
		// 23:30 UTC on June 30 is already July 1 in Berlin.
		{time.Date(2025, 6, 30, 23, 30, 0, 0, time.UTC), berlin, 1, "2025-06-30"},
		// 03:00 UTC on July 1 is still June 30 in Los Angeles.
		{time.Date(2025, 7, 1, 3, 0, 0, 0, time.UTC), la, 1, "2025-06-29"},
		{time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC), time.UTC, 1, "2025-02-28"},
		{time.Date(2025, 7, 1, 2, 0, 0, 0, time.UTC), time.UTC, 7, "2025-06-24"},
	}
	for _, tc := range cases {
		if got := AsOfFor(tc.fired, tc.loc, tc.lag).Format("2006-01-02"); got != tc.want {
			t.Errorf("AsOfFor(%v, %v, %d) = %s, want %s", tc.fired, tc.loc, tc.lag, got, tc.want)
		}
	}
}

func TestNewNeedsCron(t *testing.T) {
	cfg := shoptest.Config(t, "mem://in", "mem://out")
	_, err := New(context.Background(), cfg, Options{Runner: jobs.RunnerOptions{Input: objstore.NewMem(), Output: objstore.NewMem()}})
	if jobs.ExitCode(err) != jobs.ExitUsage || !strings.Contains(err.Error(), "schedule.cron is not set") {
		t.Errorf("New without a cron: %v", err)
	}
}
