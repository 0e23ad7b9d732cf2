package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/racetest"
)

// shared is a demo run of sharedCustomers customers made once for the
// package's tests that only read its inputs and outputs: six cross-checks
// read the same run instead of making six (a demo run is most of each
// one's time). Tests that run again into the demo's output, or need
// another shop, make their own with runDemo.
var shared struct {
	once sync.Once
	dir  string
	res  *DemoResult
	err  error
}

const sharedCustomers = 4000

// TestMain removes the shared demo run after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedDemo returns the shared demo run's directory (input/, output/)
// and result. Callers must not write under the directory.
func sharedDemo(t *testing.T) (string, *DemoResult) {
	t.Helper()
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "strata-jobs-demo-"); shared.err != nil {
			return
		}
		shared.res, shared.err = Demo(context.Background(), DemoOptions{Dir: shared.dir, Customers: sharedCustomers,
			AsOf: DemoAsOf, Version: "test", Logger: zerolog.Nop()})
	})
	if shared.err != nil {
		t.Fatalf("the shared demo run: %v", shared.err)
	}
	return shared.dir, shared.res
}

func runDemo(t *testing.T, dir string, customers int) *DemoResult {
	t.Helper()
	res, err := Demo(context.Background(), DemoOptions{Dir: dir, Customers: customers, AsOf: DemoAsOf, Version: "test", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	return res
}

// partFiles returns every published part under out by table (its path up
// to the dt= partition, plus the extension for tables published in two
// formats), checking each table has exactly one part per format.
func partFiles(t *testing.T, out string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "part-") {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		table := filepath.ToSlash(filepath.Dir(filepath.Dir(rel))) + filepath.Ext(p)
		if _, dup := files[table]; dup {
			return fmt.Errorf("%s: more than one part", table)
		}
		data, err := os.ReadFile(p)
		files[table] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"segments.parquet", "segment_summary.parquet", "segment_migration.parquet", "quarantine.parquet"} {
		if _, ok := files[table]; !ok {
			t.Fatalf("no part for %s under %s", table, out)
		}
	}
	return files
}

// TestDemoTwiceIsByteIdentical: the same inputs, config and seed give the
// same Parquet bytes.
func TestDemoTwiceIsByteIdentical(t *testing.T) {
	racetest.Skip(t, "two demo runs compared byte for byte; the backfill tests race-check whole runs")
	dir := t.TempDir()
	runDemo(t, dir, 3000)
	first := partFiles(t, filepath.Join(dir, "output"))
	runDemo(t, dir, 3000)
	second := partFiles(t, filepath.Join(dir, "output"))
	for table := range first {
		if !bytes.Equal(first[table], second[table]) {
			t.Errorf("%s differs between two demo runs", table)
		}
	}
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return x
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			t.Fatalf("not a number: %q", x)
		}
		return f
	case nil:
		return math.NaN()
	}
	t.Fatalf("unexpected %T %v", v, v)
	return 0
}

// TestDemoAgainstDuckDB recomputes the published RFM table from the raw
// inputs with DuckDB SQL — an independent reader and an independent
// implementation of the rules — and compares row by row.
func TestDemoAgainstDuckDB(t *testing.T) {
	racetest.Skip(t, "a DuckDB cross-check of the published numbers")
	dir, res := sharedDemo(t)
	in, out := filepath.Join(dir, "input"), filepath.Join(dir, "output")
	asOf := res.Run.AsOf
	cutoff := DemoAsOf.AddDate(0, 0, 1).Format(time.DateOnly)
	seg := fmt.Sprintf("read_parquet('%s/segments/dt=%s/part-*.parquet')", out, asOf)

	// One row per customer: every customer signed up by the as-of date,
	// plus anyone with an accepted order.
	sql := fmt.Sprintf(`SET TimeZone='UTC';
WITH o AS (
  SELECT *, coalesce(is_refund, false) AS r FROM read_parquet('%[1]s/orders/*.parquet', file_row_number=true, filename=true)
  WHERE customer_id IS NOT NULL AND customer_id <> '' AND ordered_at IS NOT NULL
    AND net_amount IS NOT NULL AND NOT isnan(net_amount)
    AND (net_amount >= 0 OR coalesce(is_refund, false))
    AND ordered_at < TIMESTAMPTZ '%[2]s 00:00:00+00'
  QUALIFY row_number() OVER (PARTITION BY coalesce(order_id, filename || ':' || file_row_number) ORDER BY filename, file_row_number) = 1
),
agg AS (
  SELECT customer_id,
    count(*) FILTER (WHERE NOT r) AS frequency,
    sum(CASE WHEN r THEN -abs(net_amount) ELSE net_amount END) AS monetary,
    DATE '%[3]s' - max(CAST(ordered_at AS DATE)) FILTER (WHERE NOT r) AS recency
  FROM o GROUP BY customer_id
),
c AS (
  SELECT DISTINCT customer_id FROM read_parquet('%[1]s/customers/*.parquet')
  WHERE customer_id IS NOT NULL AND signup_at < TIMESTAMPTZ '%[2]s 00:00:00+00'
),
universe AS (SELECT customer_id FROM c UNION SELECT customer_id FROM agg WHERE frequency > 0 OR monetary IS NOT NULL),
expected AS (
  SELECT u.customer_id, coalesce(a.frequency, 0) AS frequency, coalesce(a.monetary, 0) AS monetary, a.recency
  FROM universe u LEFT JOIN agg a USING (customer_id)
)
SELECT
  (SELECT count(*) FROM expected) AS expected_rows,
  (SELECT count(*) FROM %[4]s) AS rows,
  (SELECT count(DISTINCT customer_id) FROM %[4]s) AS distinct_ids,
  (SELECT count(*) FROM expected e FULL JOIN %[4]s s USING (customer_id) WHERE e.customer_id IS NULL OR s.customer_id IS NULL) AS unmatched,
  (SELECT count(*) FROM expected e JOIN %[4]s s USING (customer_id) WHERE e.frequency <> s.frequency) AS frequency_mismatch,
  (SELECT count(*) FROM expected e JOIN %[4]s s USING (customer_id) WHERE e.recency IS DISTINCT FROM s.recency_days) AS recency_mismatch,
  (SELECT max(abs(e.monetary - s.monetary_value)) FROM expected e JOIN %[4]s s USING (customer_id)) AS monetary_max_diff,
  (SELECT count(*) FROM %[4]s WHERE as_of <> DATE '%[3]s') AS wrong_as_of
`, in, cutoff, asOf, seg)
	rows := duckdbtest.Query(t, sql)
	if len(rows) != 1 {
		t.Fatalf("got %d rows", len(rows))
	}
	r := rows[0]
	if num(t, r["rows"]) != num(t, r["expected_rows"]) || num(t, r["rows"]) != num(t, r["distinct_ids"]) {
		t.Errorf("rows %v, distinct ids %v, expected %v", r["rows"], r["distinct_ids"], r["expected_rows"])
	}
	if int(num(t, r["rows"])) != res.Run.Customers {
		t.Errorf("duckdb sees %v rows, run reported %d customers", r["rows"], res.Run.Customers)
	}
	for _, k := range []string{"unmatched", "frequency_mismatch", "recency_mismatch", "wrong_as_of"} {
		if num(t, r[k]) != 0 {
			t.Errorf("%s = %v", k, r[k])
		}
	}
	if d := num(t, r["monetary_max_diff"]); !(d <= 1e-9) {
		t.Errorf("monetary differs by up to %v", d)
	}

	// The quintile rule and the grid, recomputed in SQL.
	sql = fmt.Sprintf(`
WITH b AS (SELECT * FROM %[1]s WHERE frequency > 0),
s AS (
  SELECT customer_id, rfm_r, rfm_f, rfm_m, rfm_segment,
    1 + floor(5 * (count(*) OVER () - rank() OVER (ORDER BY recency_days DESC) - (count(*) OVER (PARTITION BY recency_days) - 1)) / count(*) OVER ()) AS r0,
    1 + floor(5 * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER ()) AS f0,
    1 + floor(5 * (rank() OVER (ORDER BY monetary_value) - 1) / count(*) OVER ()) AS m0
  FROM b
)
SELECT
  count(*) FILTER (WHERE rfm_f <> f0) AS f_bad,
  count(*) FILTER (WHERE rfm_m <> m0) AS m_bad,
  count(*) FILTER (WHERE rfm_segment <> CASE
      WHEN rfm_r = 5 AND rfm_f >= 4 THEN 'Champions'
      WHEN rfm_r IN (3, 4) AND rfm_f >= 4 THEN 'Loyal'
      WHEN rfm_r >= 4 AND rfm_f IN (2, 3) THEN 'Potential Loyalist'
      WHEN rfm_r = 5 AND rfm_f = 1 THEN 'New'
      WHEN rfm_r = 4 AND rfm_f = 1 THEN 'Promising'
      WHEN rfm_r = 3 AND rfm_f = 3 THEN 'Need Attention'
      WHEN rfm_r = 3 AND rfm_f <= 2 THEN 'About to Sleep'
      WHEN rfm_r <= 2 AND rfm_f IN (3, 4) THEN 'At Risk'
      WHEN rfm_r <= 2 AND rfm_f = 5 THEN 'Can''t Lose Them'
      ELSE 'Hibernating' END) AS segment_bad,
  (SELECT count(*) FROM %[1]s WHERE frequency = 0 AND (rfm_segment <> 'No Purchases' OR rfm_r IS NOT NULL)) AS non_buyer_bad,
  (SELECT count(*) FROM (
     SELECT recency_days, min(rfm_r) lo, max(rfm_r) hi,
       1 + floor(5 * (SELECT count(*) FROM b b2 WHERE b2.recency_days > b1.recency_days) / (SELECT count(*) FROM b)) AS want
     FROM b b1 GROUP BY recency_days) WHERE lo <> want OR hi <> want) AS r_bad
FROM s`, seg)
	rows = duckdbtest.Query(t, sql)
	for _, k := range []string{"f_bad", "m_bad", "segment_bad", "non_buyer_bad", "r_bad"} {
		if num(t, rows[0][k]) != 0 {
			t.Errorf("%s = %v", k, rows[0][k])
		}
	}

	// The summary adds up to the customer table.
	sum := fmt.Sprintf("read_parquet('%s/segment_summary/dt=%s/part-*.parquet')", out, asOf)
	rows = duckdbtest.Query(t, fmt.Sprintf(`
SELECT (SELECT sum(customers) FROM %[1]s WHERE segment_type = 'rfm') AS customers, (SELECT count(*) FROM %[2]s) AS rows,
  (SELECT sum(revenue) FROM %[1]s WHERE segment_type = 'rfm') AS revenue, (SELECT sum(monetary_value) FROM %[2]s) AS monetary,
  (SELECT count(*) FROM %[1]s s JOIN (SELECT rfm_segment, count(*) n FROM %[2]s GROUP BY 1) g ON g.rfm_segment = s.segment WHERE s.segment_type = 'rfm' AND g.n <> s.customers) AS bad`, sum, seg))
	if num(t, rows[0]["customers"]) != num(t, rows[0]["rows"]) || num(t, rows[0]["bad"]) != 0 {
		t.Errorf("summary: %v", rows[0])
	}
	if math.Abs(num(t, rows[0]["revenue"])-num(t, rows[0]["monetary"])) > 1e-6 {
		t.Errorf("summary revenue %v vs table %v", rows[0]["revenue"], rows[0]["monetary"])
	}

	// The published feature table (features.publish in the demo config):
	// the same customers as segments, the RFM family equal to it, every
	// feature of model.json's catalogue a column but the personal ones
	// (exact age, the places' frequencies; privacy.publish_personal is
	// unset), and one-hot groups that sum to one per customer.
	feat := fmt.Sprintf("read_parquet('%s/features/dt=%s/part-*.parquet', hive_partitioning=false)", out, asOf)
	var model struct {
		Features []struct{ Name, Kind, Group string } `json:"features"`
		Privacy  struct {
			Withheld []string `json:"withheld_features"`
		} `json:"privacy"`
	}
	data, err := os.ReadFile(filepath.Join(out, "models", "dt="+asOf, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &model); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(model.Privacy.Withheld, ","); got != "age_years,city_freq,postal_code_freq" {
		t.Errorf("withheld features %s, want the exact age and the places' frequencies", got)
	}
	withheld := map[string]bool{}
	for _, f := range model.Privacy.Withheld {
		withheld[f] = true
	}
	var published []string
	for _, f := range model.Features {
		if !withheld[f.Name] {
			published = append(published, f.Name)
		}
	}
	cols := duckdbtest.Query(t, fmt.Sprintf("DESCRIBE SELECT * FROM %s", feat))
	if len(cols) != len(published)+2 || len(published) < 100 {
		t.Fatalf("features table has %d columns, model.json lists %d features to publish", len(cols), len(published))
	}
	for i, f := range published {
		if got := fmt.Sprint(cols[i+2]["column_name"]); got != f {
			t.Fatalf("features column %d is %s, model.json says %s", i+2, got, f)
		}
	}
	groups := map[string][]string{}
	for _, f := range model.Features {
		if f.Kind == "one_hot" && !withheld[f.Name] {
			groups[f.Group] = append(groups[f.Group], f.Name)
		}
	}
	var checks []string
	for g, names := range groups {
		checks = append(checks, fmt.Sprintf("(SELECT count(*) FROM %s WHERE %s <> 1) AS %s_bad", feat, strings.Join(names, " + "), g))
	}
	sort.Strings(checks)
	rows = duckdbtest.Query(t, fmt.Sprintf(`
SELECT (SELECT count(*) FROM %[1]s f FULL JOIN %[2]s s USING (customer_id)
    WHERE f.customer_id IS NULL OR s.customer_id IS NULL OR f.frequency <> s.frequency
      OR f.recency_days IS DISTINCT FROM s.recency_days OR abs(f.monetary_value - s.monetary_value) > 1e-9
      OR f.tenure_days IS DISTINCT FROM s.tenure_days) AS mismatched,
  (SELECT count(*) FROM %[1]s WHERE email_opens IS NULL OR sessions_90d > sessions) AS events_bad,
  %[3]s`, feat, seg, strings.Join(checks, ",\n  ")))
	if len(groups) < 8 {
		t.Errorf("only %d one-hot groups", len(groups))
	}
	for k, v := range rows[0] {
		if num(t, v) != 0 {
			t.Errorf("features table: %s = %v", k, v)
		}
	}
}

// TestDemoReport: the run publishes its report under the fixed name, lists
// it in the manifest and model.json, and the page is self-contained.
func TestDemoReport(t *testing.T) {
	racetest.Skip(t, "a check of the report's content; the backfill tests race-check whole runs, models/clv the bounds' workers")
	dir, res := sharedDemo(t)
	out := filepath.Join(dir, "output")
	m := readModel(t, out, res.Run.AsOf)
	if m.Report != "reports/dt="+res.Run.AsOf+"/report.html" || res.Run.Manifest.Objects["report"] == "" {
		t.Fatalf("report key %q, manifest objects %v", m.Report, res.Run.Manifest.Objects)
	}
	page, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(m.Report)))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{"<svg ", `id="rfm-grid"`, `id="clv"`, `id="clusters"`, "Champions", res.Run.AsOf} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "https://") {
		t.Error("the report must load nothing from anywhere")
	}
}

// TestDemoRecommendations restates the offer rule in SQL over the raw
// orders and the published segments, and compares every published offer
// (and the segment summary's category and channel mix) with it.
func TestDemoRecommendations(t *testing.T) {
	racetest.Skip(t, "a DuckDB cross-check of the published numbers")
	dir, res := sharedDemo(t)
	in, out := filepath.Join(dir, "input"), filepath.Join(dir, "output")
	asOf := res.Run.AsOf
	cutoff := DemoAsOf.AddDate(0, 0, 1).Format(time.DateOnly)
	var model struct {
		Recommendations struct {
			TopN       int      `json:"top_n"`
			Categories []string `json:"categories"`
			Offers     int      `json:"offers"`
		} `json:"recommendations"`
		Features []struct{ Name, Kind, Group, Level string } `json:"features"`
	}
	data, err := os.ReadFile(filepath.Join(out, "models", "dt="+asOf, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &model); err != nil {
		t.Fatal(err)
	}
	rm := model.Recommendations
	if rm.TopN != 3 || len(rm.Categories) < 4 || rm.Offers == 0 {
		t.Fatalf("model.json recommendations: %+v", rm)
	}
	var cats, chans []string
	for i, c := range rm.Categories {
		cats = append(cats, fmt.Sprintf("('%s', %d)", c, i))
	}
	for _, f := range model.Features {
		if f.Kind == "share" && f.Group == "channel" && f.Level != "other" && f.Level != "unknown" {
			chans = append(chans, fmt.Sprintf("('%s')", f.Level))
		}
	}
	seg := fmt.Sprintf("read_parquet('%s/segments/dt=%s/part-*.parquet', hive_partitioning=false)", out, asOf)
	rec := fmt.Sprintf("read_parquet('%s/recommendations/dt=%s/part-*.parquet', hive_partitioning=false)", out, asOf)
	sum := fmt.Sprintf("read_parquet('%s/segment_summary/dt=%s/part-*.parquet', hive_partitioning=false)", out, asOf)
	common := fmt.Sprintf(`SET TimeZone='UTC';
CREATE TEMP TABLE cats AS SELECT * FROM (VALUES %[5]s) v(category, idx);
CREATE TEMP TABLE o AS
  SELECT customer_id, category, channel, net_amount FROM read_parquet('%[1]s/orders/*.parquet', file_row_number=true, filename=true)
  WHERE customer_id IS NOT NULL AND customer_id <> '' AND ordered_at IS NOT NULL
    AND net_amount IS NOT NULL AND NOT isnan(net_amount) AND net_amount >= 0 AND NOT coalesce(is_refund, false)
    AND ordered_at < TIMESTAMPTZ '%[2]s 00:00:00+00'
  QUALIFY order_id IS NULL OR order_id = '' OR row_number() OVER (PARTITION BY order_id ORDER BY filename, file_row_number) = 1;
CREATE TEMP TABLE seg AS SELECT customer_id, cluster_id, frequency, rfm_segment FROM %[3]s;
CREATE TEMP TABLE b AS SELECT customer_id, category FROM o JOIN cats USING (category) GROUP BY ALL HAVING sum(net_amount) > 0;
CREATE TEMP TABLE buyers AS SELECT *, count(*) OVER (PARTITION BY cluster_id) AS nb FROM seg WHERE frequency > 0;
CREATE TEMP TABLE base AS
  SELECT category, idx, (SELECT count(*) FROM b JOIN buyers USING (customer_id) WHERE b.category = cats.category)::DOUBLE
    / (SELECT count(*) FROM buyers) AS p FROM cats;
CREATE TEMP TABLE lift AS
  SELECT k.cluster_id, base.category, base.idx, base.p AS basep,
    ((SELECT count(*) FROM b JOIN buyers x USING (customer_id) WHERE b.category = base.category AND x.cluster_id = k.cluster_id)::DOUBLE
      / k.nb) / base.p AS lift
  FROM (SELECT DISTINCT cluster_id, nb FROM buyers WHERE cluster_id IS NOT NULL) k, base WHERE base.p > 0;
CREATE TEMP TABLE expected AS SELECT * FROM (
  SELECT s.customer_id, c.category, c.lift,
    row_number() OVER (PARTITION BY s.customer_id ORDER BY c.lift DESC, c.basep DESC, c.idx) AS rank
  FROM seg s JOIN (
      SELECT cluster_id, category, idx, basep, lift FROM lift
      UNION ALL SELECT NULL, category, idx, p, 1.0 FROM base WHERE p > 0) c
    ON c.cluster_id IS NOT DISTINCT FROM s.cluster_id
  WHERE c.lift > 0 AND NOT EXISTS (SELECT 1 FROM b WHERE b.customer_id = s.customer_id AND b.category = c.category))
WHERE rank <= %[4]d;
`, in, cutoff, seg, rm.TopN, strings.Join(cats, ", "))
	rows := duckdbtest.Query(t, common+fmt.Sprintf(`
SELECT (SELECT count(*) FROM expected) AS expected,
  (SELECT count(*) FROM %[1]s) AS published,
  (SELECT count(*) FROM expected e FULL JOIN %[1]s r USING (customer_id, rank)
    WHERE e.customer_id IS NULL OR r.customer_id IS NULL OR e.category <> r.category OR abs(e.lift - r.lift) > 1e-12) AS mismatched,
  (SELECT count(*) FROM %[1]s r JOIN seg s USING (customer_id)
    WHERE r.cluster_id IS DISTINCT FROM s.cluster_id OR r.basis <> CASE WHEN s.cluster_id IS NULL THEN 'base' ELSE 'cluster' END) AS wrong_cluster,
  (SELECT count(*) FROM %[1]s r JOIN b USING (customer_id, category)) AS offered_bought`, rec))
	r := rows[0]
	if num(t, r["expected"]) != float64(rm.Offers) || num(t, r["published"]) != float64(rm.Offers) {
		t.Errorf("offers: duckdb expects %v, table has %v, model.json says %d", r["expected"], r["published"], rm.Offers)
	}
	for _, k := range []string{"mismatched", "wrong_cluster", "offered_bought"} {
		if num(t, r[k]) != 0 {
			t.Errorf("recommendations: %s = %v", k, r[k])
		}
	}

	// The summary's mix, per RFM segment: categories by purchase spend,
	// the channel with most orders.
	rows = duckdbtest.Query(t, common+fmt.Sprintf(`
CREATE TEMP TABLE chans AS SELECT * FROM (VALUES %[2]s) v(channel);
CREATE TEMP TABLE mix AS
  SELECT rfm_segment, (SELECT string_agg(category, ', ' ORDER BY s DESC) FROM (
      SELECT category, sum(net_amount) AS s FROM o JOIN seg x USING (customer_id) JOIN cats USING (category)
      WHERE x.rfm_segment = g.rfm_segment GROUP BY 1 HAVING sum(net_amount) > 0 ORDER BY s DESC LIMIT 3)) AS top_categories,
    (SELECT channel FROM o JOIN seg x USING (customer_id) JOIN chans USING (channel)
      WHERE x.rfm_segment = g.rfm_segment GROUP BY 1 ORDER BY count(*) DESC LIMIT 1) AS best_channel
  FROM (SELECT DISTINCT rfm_segment FROM seg WHERE frequency > 0) g;
SELECT count(*) AS segments, count(*) FILTER (m.top_categories IS DISTINCT FROM s.top_categories OR m.best_channel IS DISTINCT FROM s.best_channel) AS bad
FROM mix m JOIN %[1]s s ON s.segment_type = 'rfm' AND s.segment = m.rfm_segment`, sum, strings.Join(chans, ", ")))
	if num(t, rows[0]["segments"]) < 8 || num(t, rows[0]["bad"]) != 0 {
		t.Errorf("segment mix: %v", rows[0])
	}
}
