package daemon

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline"
)

// maxBody bounds request bodies; the API's are a few dozen bytes.
const maxBody = 1 << 20

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !d.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/runs", d.listRuns)
	mux.HandleFunc("GET /api/v1/runs/{id}", d.getRun)
	mux.HandleFunc("POST /api/v1/runs", d.auth(d.postRun))
	mux.HandleFunc("POST /api/v1/backfills", d.auth(d.postBackfill))
	mux.HandleFunc("GET /api/v1/backfills/{id}", d.getBackfill)
	// ServeMux answers unknown paths and methods in plain text; API
	// clients get JSON.
	for path, allow := range map[string]string{
		"/api/v1/runs": "GET, POST", "/api/v1/runs/{id}": "GET",
		"/api/v1/backfills": "POST", "/api/v1/backfills/{id}": "GET",
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no endpoint %s %s; see /api/v1/runs, /api/v1/backfills, /healthz, /readyz, /metrics", r.Method, r.URL.Path)
	})
	return mux
}

// auth guards a mutating endpoint with the bearer token.
func (d *Daemon) auth(h http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte(d.opt.Token))
	return func(w http.ResponseWriter, r *http.Request) {
		if d.opt.Token == "" {
			env := d.opt.TokenEnv
			if env == "" {
				env = "the variable named by api.token_env"
			}
			writeError(w, http.StatusForbidden, "mutating endpoints are disabled: set %s in the daemon's environment to a secret token and send it as Authorization: Bearer <token>", env)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(tok))
		// Comparing hashes keeps the comparison constant-time whatever
		// the token's length.
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="strata"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token: send Authorization: Bearer <token>")
			return
		}
		h(w, r)
	}
}

func (d *Daemon) listRuns(w http.ResponseWriter, r *http.Request) {
	q := ledger.Query{Limit: 100}
	if s := r.URL.Query().Get("as_of"); s != "" {
		if _, err := parseDate("as_of", s); err != nil {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
		q.AsOf = s
	}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10_000 {
			writeError(w, http.StatusBadRequest, "limit %q: want a number between 1 and 10000", s)
			return
		}
		q.Limit = n
	}
	recs, err := d.runner.Ledger().List(r.Context(), q)
	if err != nil {
		d.log.Error().Err(err).Msg("list runs")
		writeError(w, http.StatusBadGateway, "reading the run ledger failed: %v", err)
		return
	}
	if recs == nil {
		recs = []*ledger.Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": recs})
}

func (d *Daemon) getRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := d.runner.Ledger().Get(r.Context(), id)
	if errors.Is(err, ledger.ErrNotFound) {
		d.mu.Lock()
		p, ok := d.pending[id]
		var cp ledger.Record
		if ok {
			cp = *p
		}
		d.mu.Unlock()
		if ok {
			writeJSON(w, http.StatusOK, &cp)
			return
		}
		writeError(w, http.StatusNotFound, "no run with id %q", id)
		return
	}
	if err != nil {
		d.log.Error().Err(err).Msg("get run")
		writeError(w, http.StatusBadGateway, "reading the run ledger failed: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// RunRequest is the body of POST /api/v1/runs.
type RunRequest struct {
	AsOf string `json:"as_of"`
	// Force re-runs a date already published with the same configuration
	// and inputs.
	Force bool `json:"force"`
}

func (d *Daemon) postRun(w http.ResponseWriter, r *http.Request) {
	var req RunRequest
	if !decode(w, r, &req) {
		return
	}
	asOf, err := parseDate("as_of", req.AsOf)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	id := jobs.NewRunID(d.clock.Now())
	rec := &ledger.Record{ID: id, AsOf: req.AsOf, Trigger: ledger.API, Status: ledger.Running, StartedAt: d.clock.Now().UTC()}
	if !d.takeSlot(w) {
		return
	}
	d.mu.Lock()
	if d.draining {
		d.mu.Unlock()
		d.freeSlot()
		writeError(w, http.StatusServiceUnavailable, "shutting down: not accepting new runs")
		return
	}
	d.startLocked()
	d.pending[id] = rec
	d.mu.Unlock()
	go func() {
		defer d.end()
		defer d.freeSlot()
		defer func() {
			d.mu.Lock()
			delete(d.pending, id)
			d.mu.Unlock()
		}()
		sch := d.cfg.Schedule
		_, err := d.runner.Run(d.runCtx, jobs.Request{AsOf: asOf, Trigger: ledger.API, Force: req.Force, RunID: id,
			Retries: sch.RetryLimit(), Backoff: sch.FirstBackoff()})
		if err != nil {
			d.log.Warn().Err(err).Str("run_id", id).Str("as_of", req.AsOf).Msg("API run did not publish")
		}
	}()
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "as_of": req.AsOf, "status": string(ledger.Running),
		"url": "/api/v1/runs/" + id})
}

// BackfillRequest is the body of POST /api/v1/backfills.
type BackfillRequest struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Parallel int    `json:"parallel"`
	Force    bool   `json:"force"`
}

func (d *Daemon) postBackfill(w http.ResponseWriter, r *http.Request) {
	var req BackfillRequest
	if !decode(w, r, &req) {
		return
	}
	from, err := parseDate("from", req.From)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	to, err := parseDate("to", req.To)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if req.Parallel < 0 || req.Parallel > 64 {
		writeError(w, http.StatusBadRequest, "parallel %d: want 1 to 64 (0 means 1)", req.Parallel)
		return
	}
	if req.Parallel > 1 && d.cfg.Cluster.On() {
		// It used to be accepted and run with 1, silently.
		writeError(w, http.StatusBadRequest, "parallel %d: with clustering on, each date's cluster ids continue the previous date's, so a backfill's dates run in order, one at a time; send parallel 1 (or leave it out)", req.Parallel)
		return
	}
	dates, err := jobs.BackfillDates(from, to)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	id := "bf-" + jobs.NewRunID(d.clock.Now())
	prog := &jobs.BackfillProgress{ID: id, From: req.From, To: req.To, Parallel: max(req.Parallel, 1), Total: len(dates),
		StartedAt: d.clock.Now().UTC()}
	if !d.takeSlot(w) {
		return
	}
	d.mu.Lock()
	if d.draining {
		d.mu.Unlock()
		d.freeSlot()
		writeError(w, http.StatusServiceUnavailable, "shutting down: not accepting new backfills")
		return
	}
	d.startLocked()
	d.backfills[id] = prog
	d.mu.Unlock()
	go func() {
		defer d.end()
		defer d.freeSlot()
		sch := d.cfg.Schedule
		_, err := d.runner.Backfill(d.runCtx, jobs.BackfillRequest{From: from, To: to, Parallel: req.Parallel, Force: req.Force,
			Trigger: ledger.Backfill, ID: id, Retries: sch.RetryLimit(), Backoff: sch.FirstBackoff()},
			func(p jobs.BackfillProgress) {
				d.mu.Lock()
				*d.backfills[id] = p
				d.mu.Unlock()
			})
		if err != nil {
			d.log.Warn().Err(err).Str("backfill_id", id).Msg("backfill incomplete")
		}
	}()
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "from": req.From, "to": req.To, "dates": len(dates),
		"url": "/api/v1/backfills/" + id})
}

func (d *Daemon) getBackfill(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d.mu.Lock()
	p, ok := d.backfills[id]
	var cp jobs.BackfillProgress
	if ok {
		cp = *p
	}
	d.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no backfill with id %q started by this daemon (its runs are in /api/v1/runs with backfill_id)", id)
		return
	}
	writeJSON(w, http.StatusOK, &cp)
}

// takeSlot takes one of the api.max_concurrent_runs slots, or answers 429
// and reports false: every run holds a whole run's memory, so unbounded
// concurrent POSTs would take the process down.
func (d *Daemon) takeSlot(w http.ResponseWriter) bool {
	d.mu.Lock()
	draining := d.draining
	d.mu.Unlock()
	if draining { // say so rather than "too many"; checked again after
		writeError(w, http.StatusServiceUnavailable, "shutting down: not accepting new runs")
		return false
	}
	select {
	case d.apiSlots <- struct{}{}:
		return true
	default:
		n := cap(d.apiSlots)
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "%d run(s) or backfill(s) started through the API already running, the most api.max_concurrent_runs (%d) allows; try again when one has finished", n, n)
		return false
	}
}

func (d *Daemon) freeSlot() { <-d.apiSlots }

// decode reads a JSON body strictly: one object, no unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty body")
		}
		writeError(w, http.StatusBadRequest, "bad JSON body: %v", err)
		return false
	}
	return true
}

func parseDate(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%s is required (YYYY-MM-DD)", field)
	}
	t, err := time.Parse(pipeline.DateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not a date: want YYYY-MM-DD", field, s)
	}
	return t, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// The API is JSON for programs, never embedded in HTML: escaping would
	// turn "<token>" into "\u003ctoken\u003e" for whoever reads it.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}
