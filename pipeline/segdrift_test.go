package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/racetest"
	"github.com/strata-oss/strata/models/drift"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/stages"
	"github.com/strata-oss/strata/pipeline/synth"
)

// The tests of the RFM migration and drift stages: a run, then a run of a
// later date against it, on the generated shop or on the same shop with
// its order amounts exported in cents (a broken upstream export).

const (
	baseDay = "2025-06-30"
	nextDay = "2025-07-01"
)

// csvShop is the generated shop in CSV with every order amount multiplied
// by scale.
func csvShop(t *testing.T, customers int, scale float64) objstore.Bucket {
	t.Helper()
	ctx := context.Background()
	in := objstore.NewMem()
	_, err := synth.Generate(ctx, in, synth.Config{Customers: customers, Seed: 11, Format: "csv",
		Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if scale == 1 {
		return in
	}
	var keys []string
	if err := in.Iter(ctx, "orders/", func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		data, err := objstore.ReadAll(ctx, in, k)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		col := slices.Index(recs[0], "net_amount")
		for _, r := range recs[1:] {
			if r[col] == "" {
				continue
			}
			v, err := strconv.ParseFloat(r[col], 64)
			if err != nil {
				t.Fatalf("%s: amount %q: %v", k, r[col], err)
			}
			r[col] = strconv.FormatFloat(v*scale, 'f', -1, 64)
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		if err := w.WriteAll(recs); err != nil {
			t.Fatal(err)
		}
		if err := in.Upload(ctx, k, &buf); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// logLines collects a run's JSON log lines (the stages log from several
// goroutines).
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// driftWarnings are the messages of the warnings the drift check logged.
func (l *logLines) driftWarnings(t *testing.T) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var e struct{ Level, Message string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if e.Level == "warn" && strings.HasPrefix(e.Message, "drift:") {
			out = append(out, e.Message)
		}
	}
	return out
}

// runDay runs cfg on in into out for day: in one process (shards 0) or
// as a sharded run (fit, the shards, finish). It returns the finishing
// step's error.
func runDay(t *testing.T, cfg *config.Config, in, out objstore.Bucket, day string, shards int, log io.Writer) error {
	t.Helper()
	ctx := context.Background()
	d, _ := time.Parse(DateLayout, day)
	opt := Options{AsOf: d, Version: "test", RunID: "r-" + day, Logger: zerolog.New(log), Input: in, Output: out}
	if shards == 0 {
		_, err := Run(ctx, cfg, opt)
		return err
	}
	if _, err := Fit(ctx, cfg, opt); err != nil {
		t.Fatalf("fit %s: %v", day, err)
	}
	for i := range shards {
		if _, err := Score(ctx, cfg, opt, Shard{Index: i, Count: shards}); err != nil {
			t.Fatalf("shard %d of %s: %v", i, day, err)
		}
	}
	_, err := Finish(ctx, cfg, opt, shards)
	return err
}

// section decodes model.json's stages.<name> into v.
func section(t *testing.T, out objstore.Bucket, day, name string, v any) {
	t.Helper()
	m := modelOf(t, out, day)
	raw, ok := m.Stages[name]
	if !ok {
		t.Fatalf("%s: model.json has no %s section: %v", day, name, m.Stages)
	}
	data, _ := json.Marshal(raw)
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func manifestOf(t *testing.T, out objstore.Bucket, day string) *publish.Manifest {
	t.Helper()
	m, err := publish.ReadManifest(context.Background(), out, day)
	if err != nil {
		t.Fatalf("manifest of %s: %v", day, err)
	}
	return m
}

// TestDrift: against a run of the shop, a run of the next date on the same
// inputs (or of the same date again) breaches nothing, and one on the shop
// with its amounts in cents breaches the money features' PSI: a warning
// each, recorded in model.json, and with action: fail a failed run that
// publishes nothing. Every PSI and share in model.json is restated from
// the two published segments tables.
func TestDrift(t *testing.T) {
	racetest.Skip(t, "a restatement of every PSI; TestSegDriftSharded race-checks the drift stage's runs")
	base, cents := csvShop(t, 600, 1), csvShop(t, 600, 100)
	money := []string{"monetary_value", "avg_order_value", "max_order_value"}
	for _, tc := range []struct {
		name     string
		in       objstore.Bucket
		days     []string // the runs after baseDay's; the checks are of the last
		action   string
		breaches []string // features that must breach (others may too)
		fail     bool
	}{
		{"unchanged, next date", base, []string{nextDay}, "warn", nil, false},
		{"unchanged, next date, action fail", base, []string{nextDay}, "fail", nil, false},
		{"unchanged, same date again", base, []string{nextDay, nextDay}, "fail", nil, false},
		{"amounts in cents", cents, []string{nextDay}, "warn", money, false},
		{"amounts in cents, action fail", cents, []string{nextDay}, "fail", money, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := objstore.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := runDay(t, demoConfig(t, ""), base, out, baseDay, 0, io.Discard); err != nil {
				t.Fatal(err)
			}
			cfg := demoConfig(t, "drift: {action: "+tc.action+"}\n")
			var log logLines
			for i, day := range tc.days {
				if i < len(tc.days)-1 {
					if err := runDay(t, cfg, tc.in, out, day, 0, io.Discard); err != nil {
						t.Fatal(err)
					}
					continue
				}
				err = runDay(t, cfg, tc.in, out, day, 0, &log)
			}
			warnings := log.driftWarnings(t)
			if tc.fail {
				checkDriftFailure(t, err, out, money)
				if len(warnings) == 0 {
					t.Error("a failed drift check logged no warning")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var sec stages.DriftSection
			section(t, out, nextDay, "drift", &sec)
			if sec.Previous.AsOf != baseDay || sec.Action != tc.action || sec.MaxPSI != config.DefaultMaxPSI || sec.MaxSegmentShift != config.DefaultMaxSegmentShift {
				t.Errorf("section says previous %s, action %s, thresholds %v and %v", sec.Previous.AsOf, sec.Action, sec.MaxPSI, sec.MaxSegmentShift)
			}
			var breached []string
			for _, b := range sec.Breaches {
				breached = append(breached, b.Subject)
			}
			for _, f := range tc.breaches {
				if !slices.Contains(breached, f) {
					t.Errorf("%s did not breach; breaches %v", f, breached)
				}
			}
			if tc.breaches == nil && len(sec.Breaches) > 0 {
				t.Errorf("an unchanged re-run breached: %+v", sec.Breaches)
			}
			if len(warnings) != len(sec.Breaches) {
				t.Errorf("%d drift warnings logged for %d breaches: %q", len(warnings), len(sec.Breaches), warnings)
			}
			restateDrift(t, out, &sec)
		})
	}
}

// checkDriftFailure: the run failed with a plain error naming the
// breaching features and the settings to change, and published nothing.
func checkDriftFailure(t *testing.T, err error, out objstore.Bucket, features []string) {
	t.Helper()
	if err == nil {
		t.Fatal("a run breaching the drift thresholds with action: fail succeeded")
	}
	var ce *ConfigError
	var sce *stages.ConfigError
	if errors.As(err, &ce) || errors.As(err, &sce) {
		t.Errorf("the drift failure is a configuration error (exit 2): %v", err)
	}
	for _, w := range append(features, "drift.max_psi", "drift.action", baseDay) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not mention %q: %v", w, err)
		}
	}
	if _, err := publish.ReadManifest(context.Background(), out, nextDay); !objstore.IsNotExist(err) {
		t.Errorf("the failed run's date is published (or unreadable: %v)", err)
	}
}

// restateDrift recomputes every PSI of sec from the two published segments
// tables' columns with models/drift.PSI on the raw values, and every
// segment share from their rfm_segment columns, and checks the breach
// flags against the thresholds.
func restateDrift(t *testing.T, out objstore.Bucket, sec *stages.DriftSection) {
	t.Helper()
	prev, cur := manifestOf(t, out, baseDay), manifestOf(t, out, nextDay)
	floats := func(m *publish.Manifest, name string) []float64 {
		col := columns(t, out, m, "segments", name)[0]
		v := make([]float64, len(col))
		for i, s := range col {
			v[i] = math.NaN()
			if s != "null" {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatalf("%s: %q: %v", name, s, err)
				}
				v[i] = f
			}
		}
		return v
	}
	var names []string
	for _, f := range sec.Features {
		names = append(names, f.Feature)
		want, err := drift.PSI(floats(prev, f.Feature), floats(cur, f.Feature))
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(f.PSI-want) > 1e-12 {
			t.Errorf("%s: PSI %v in model.json, %v from the published tables", f.Feature, f.PSI, want)
		}
		if f.Breach != (want > sec.MaxPSI) {
			t.Errorf("%s: PSI %v, breach %v with max_psi %v", f.Feature, want, f.Breach, sec.MaxPSI)
		}
	}
	for _, f := range []string{"recency_days", "frequency", "monetary_value", "avg_order_value", "tenure_days", "clv"} {
		if !slices.Contains(names, f) {
			t.Errorf("no PSI of %s; features %v", f, names)
		}
	}
	count := func(m *publish.Manifest) map[string]int {
		n := map[string]int{}
		for _, s := range columns(t, out, m, "segments", "rfm_segment")[0] {
			n[s]++
		}
		return n
	}
	want, err := drift.SegmentShares(count(prev), count(cur))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || len(sec.Segments) != len(want) {
		t.Fatalf("model.json has %d segment shares, the tables %d", len(sec.Segments), len(want))
	}
	for i, w := range want {
		g := sec.Segments[i]
		if g.Segment != w.Segment || math.Abs(g.PreviousShare-w.Baseline) > 1e-12 || math.Abs(g.Share-w.Current) > 1e-12 {
			t.Errorf("segment %s: shares %v → %v in model.json, %s: %v → %v in the tables", g.Segment, g.PreviousShare, g.Share, w.Segment, w.Baseline, w.Current)
		}
		if g.Breach != (math.Abs(w.Change) > sec.MaxSegmentShift) {
			t.Errorf("segment %s: change %v, breach %v", w.Segment, w.Change, g.Breach)
		}
	}
}

// TestRFMMigration: each customer's previous_rfm_segment is their
// rfm_segment in the previous published table, and the
// rfm_segment_migration table counts the customers by (previous segment,
// segment) as DuckDB does from the two published segments tables.
func TestRFMMigration(t *testing.T) {
	in := shop(t, 600)
	dir := t.TempDir()
	out, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := demoConfig(t, "")
	// An audience on the new column: the Champions who slipped.
	cfg.Audiences = append(cfg.Audiences, config.Audience{Name: "slipped",
		Filter: `previous_rfm_segment = "Champions" and rfm_segment != "Champions"`})
	const later = "2025-07-31" // a month on: customers change segment
	res := runOn(t, cfg, in, out, baseDay)
	runOn(t, cfg, in, out, later)
	files := func(day, table string) string {
		var q []string
		for _, k := range manifestOf(t, out, day).Tables[table].Keys {
			if strings.HasSuffix(k, ".parquet") {
				q = append(q, "'"+filepath.Join(dir, filepath.FromSlash(k))+"'")
			}
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	rows := func(sql string) []string {
		var out []string
		for _, r := range duckdbtest.Query(t, sql) {
			out = append(out, fmt.Sprintf("%v|%v|%v", r["from_segment"], r["to_segment"], r["customers"]))
		}
		sort.Strings(out)
		return out
	}
	prev, cur := files(baseDay, "segments"), files(later, "segments")
	want := rows(fmt.Sprintf(`select p.rfm_segment as from_segment, c.rfm_segment as to_segment, count(*) as customers
		from read_parquet(%s) c left join read_parquet(%s) p on c.customer_id = p.customer_id group by all`, cur, prev))
	got := rows(fmt.Sprintf(`select from_segment, to_segment, customers from read_parquet(%s) where as_of = date '%s'`,
		files(later, "rfm_segment_migration"), later))
	if !slices.Equal(got, want) {
		t.Errorf("rfm_segment_migration:\n%s\nrestated in DuckDB:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	check := duckdbtest.Query(t, fmt.Sprintf(`select
			count(*) filter (where c.previous_rfm_segment is distinct from p.rfm_segment) as wrong,
			count(*) filter (where p.customer_id is not null) as both,
			count(*) filter (where p.customer_id is not null and p.rfm_segment <> c.rfm_segment) as moved,
			count(*) filter (where p.rfm_segment = 'Champions' and c.rfm_segment <> 'Champions') as slipped
		from read_parquet(%s) c left join read_parquet(%s) p on c.customer_id = p.customer_id`, cur, prev))[0]
	if fmt.Sprint(check["wrong"]) != "0" {
		t.Errorf("%v customers' previous_rfm_segment is not their previous rfm_segment", check["wrong"])
	}
	var sec stages.RFMMigrationSection
	section(t, out, later, "rfm_migration", &sec)
	if sec.Previous == nil || sec.Previous.AsOf != baseDay || fmt.Sprint(sec.Both) != fmt.Sprint(check["both"]) || fmt.Sprint(sec.Moved) != fmt.Sprint(check["moved"]) {
		t.Errorf("model.json: %+v; DuckDB: %v in both runs, %v moved", sec, check["both"], check["moved"])
	}
	audience := -1
	for _, a := range modelOf(t, out, later).Audiences {
		if a.Name == "slipped" {
			audience = a.Customers
		}
	}
	if fmt.Sprint(audience) != fmt.Sprint(check["slipped"]) {
		t.Errorf("the audience on previous_rfm_segment has %d customers (-1: none), DuckDB counts %v", audience, check["slipped"])
	}
	if sec.Moved == 0 || sec.Both == 0 || fmt.Sprint(check["slipped"]) == "0" {
		t.Errorf("no customer changed segment in a month (%d in both runs, %v Champions slipped): the check checks nothing", sec.Both, check["slipped"])
	}
	// The first run has no previous run: every customer is new to it.
	first := columns(t, out, manifestOf(t, out, baseDay), "rfm_segment_migration", "from_segment", "customers")
	var total int
	for i, from := range first[0] {
		n, _ := strconv.Atoi(first[1][i])
		total += n
		if from != "null" {
			t.Errorf("the first run has a move from %s", from)
		}
	}
	if total != res.Customers || total == 0 {
		t.Errorf("the first run's migrations count %d customers, the run had %d", total, res.Customers)
	}
}

// TestSegDriftSharded: a sharded run (fit, two shards, finish) publishes the
// same RFM migrations, previous segments and drift measures as the
// single-process run, and fails the same way on a breach with action: fail.
func TestSegDriftSharded(t *testing.T) {
	base, cents := csvShop(t, 600, 1), csvShop(t, 600, 100)
	published := map[int]objstore.Bucket{}
	for _, shards := range []int{0, 2} {
		out := objstore.NewMem()
		if err := runDay(t, demoConfig(t, ""), base, out, baseDay, 0, io.Discard); err != nil {
			t.Fatal(err)
		}
		if err := runDay(t, demoConfig(t, ""), cents, out, nextDay, shards, io.Discard); err != nil {
			t.Fatalf("%d shards: %v", shards, err)
		}
		published[shards] = out

		failing := objstore.NewMem()
		if err := runDay(t, demoConfig(t, ""), base, failing, baseDay, 0, io.Discard); err != nil {
			t.Fatal(err)
		}
		err := runDay(t, demoConfig(t, "drift: {action: fail}\n"), cents, failing, nextDay, shards, io.Discard)
		t.Run(fmt.Sprintf("fail, %d shards", shards), func(t *testing.T) {
			checkDriftFailure(t, err, failing, []string{"monetary_value"})
		})
	}
	single, sharded := published[0], published[2]
	for _, name := range []string{"drift", "rfm_migration"} {
		var a, b any
		section(t, single, nextDay, name, &a)
		section(t, sharded, nextDay, name, &b)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("model.json's %s section:\nsingle  %s\nsharded %s", name, ja, jb)
		}
	}
	var sec stages.DriftSection
	section(t, single, nextDay, "drift", &sec)
	if len(sec.Breaches) == 0 {
		t.Error("the shifted run breached nothing: the comparison compares no breach")
	}
	table := func(out objstore.Bucket, name string, cols ...string) []string {
		c := columns(t, out, manifestOf(t, out, nextDay), name, cols...)
		rows := make([]string, len(c[0]))
		for i := range rows {
			for j := range c {
				rows[i] += c[j][i] + "|"
			}
		}
		sort.Strings(rows)
		return rows
	}
	for _, tc := range []struct {
		table string
		cols  []string
	}{
		{"rfm_segment_migration", []string{"as_of", "from_segment", "to_segment", "customers"}},
		{"segments", []string{"customer_id", "rfm_segment", "previous_rfm_segment"}},
	} {
		a, b := table(single, tc.table, tc.cols...), table(sharded, tc.table, tc.cols...)
		if len(a) == 0 || !slices.Equal(a, b) {
			t.Errorf("%s %v: single-process %d rows, sharded %d, or they differ", tc.table, tc.cols, len(a), len(b))
		}
	}
}

// briefMoves matches the report brief's moves column (its heading and
// cells), which only a run with the RFM migration has.
var briefMoves = regexp.MustCompile(`<th class="n">in / out since last run</th>|<td class="n">&#43;[0-9,]+ / −[0-9,]+</td>`)

// TestNewStagesAreAdditions: with the RFM migration and drift stages, a
// run publishes what it published without them, byte for byte (the same
// attempt, the same objects of every other table and of the report), plus
// their columns, tables and model.json sections.
func TestNewStagesAreAdditions(t *testing.T) {
	in := shop(t, 400)
	ctx := context.Background()
	var without stages.List
	for _, s := range stages.Default() {
		if n := s.Info().Name; n != "rfm_migration" && n != "drift" {
			without = append(without, s)
		}
	}
	cfg := demoConfig(t, "")
	outs := map[string]objstore.Bucket{"with": objstore.NewMem(), "without": objstore.NewMem()}
	for name, list := range map[string]stages.List{"with": stages.Default(), "without": without} {
		for _, day := range []string{baseDay, nextDay} {
			runOn(t, cfg, in, outs[name], day, list...)
		}
	}
	for _, day := range []string{baseDay, nextDay} {
		w, wo := manifestOf(t, outs["with"], day), manifestOf(t, outs["without"], day)
		// The first run's inputs are the same; the next one's include the
		// previous run's model.json, which has the new sections: a new
		// attempt id, in the objects' keys and the report, and nowhere else.
		if same := w.Attempt == wo.Attempt; same != (day == baseDay) {
			t.Errorf("%s: attempt %s with the new stages, %s without", day, w.Attempt, wo.Attempt)
		}
		read := func(out objstore.Bucket, key string) []byte {
			data, err := objstore.ReadAll(ctx, out, key)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
		for table, files := range wo.Tables {
			if table == "segments" {
				continue // checked column by column below
			}
			keys := w.Tables[table].Keys
			if len(keys) != len(files.Keys) {
				t.Errorf("%s: %s is %v with the new stages, %v without", day, table, keys, files.Keys)
				continue
			}
			for i, k := range files.Keys {
				if !bytes.Equal(read(outs["with"], keys[i]), read(outs["without"], k)) {
					t.Errorf("%s: %s differs with the new stages", day, k)
				}
			}
		}
		report := bytes.ReplaceAll(read(outs["with"], w.Objects["report"]), []byte(w.Attempt), []byte(wo.Attempt))
		// The brief's column of customers moved in and out of each segment
		// reads the RFM migration: the one part of the report it adds.
		report = briefMoves.ReplaceAll(report, nil)
		if !bytes.Equal(report, read(outs["without"], wo.Objects["report"])) {
			t.Errorf("%s: the report differs with the new stages", day)
		}
		mw, mwo := modelOf(t, outs["with"], day), modelOf(t, outs["without"], day)
		old := mwo.Tables["segments"]
		if got := mw.Tables["segments"]; !slices.Equal(got[:len(old)], old) || !slices.Equal(got[len(old):], []string{"previous_rfm_segment"}) {
			t.Errorf("%s: segments columns %v, were %v", day, got, old)
		}
		a, b := columns(t, outs["with"], w, "segments", old...), columns(t, outs["without"], wo, "segments", old...)
		for i := range old {
			if !slices.Equal(a[i], b[i]) {
				t.Errorf("%s: segments column %s differs with the new stages", day, old[i])
			}
		}
		_, hasDrift := mw.Stages["drift"]
		if want := day == nextDay; hasDrift != want {
			t.Errorf("%s: model.json has a drift section: %v, want %v", day, hasDrift, want)
		}
	}
}
