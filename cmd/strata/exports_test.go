package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/internal/duckdbtest"
)

// restatedSQL compares every customer of a published segments table
// (glob seg) with expected, a DuckDB query giving one row per customer the
// run must publish: customer_id, frequency, monetary, purchase_days and
// recency (NULL without a purchase). The RFM scores are restated from the
// expected values by the documented quintile rule. One row comes back.
// A customer's revenue is compared relative to itself, or to one currency
// unit when it is less: a customer whose returns cancel their purchases
// nets to 0 in one summation order and to 1e-15 in another.
func restatedSQL(tz, expected, seg string) string {
	return fmt.Sprintf(`SET TimeZone = '%[3]s';
WITH e AS (%[1]s),
s AS (SELECT * FROM read_parquet('%[2]s')),
b AS (SELECT * FROM e WHERE frequency > 0),
scored AS (
  SELECT customer_id,
    1 + floor(5 * (rank() OVER (ORDER BY recency DESC) - 1) / count(*) OVER ()) AS r0,
    1 + floor(5 * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER ()) AS f0,
    1 + floor(5 * (rank() OVER (ORDER BY monetary) - 1) / count(*) OVER ()) AS m0
  FROM b
)
SELECT
  (SELECT count(*) FROM e) AS expected_rows,
  (SELECT count(*) FROM s) AS rows,
  (SELECT count(*) FROM e FULL JOIN s USING (customer_id) WHERE e.customer_id IS NULL OR s.customer_id IS NULL) AS unmatched,
  (SELECT count(*) FROM e JOIN s USING (customer_id) WHERE e.frequency <> s.frequency) AS frequency_mismatch,
  (SELECT count(*) FROM e JOIN s USING (customer_id) WHERE e.purchase_days <> s.purchase_days) AS purchase_days_mismatch,
  (SELECT count(*) FROM e JOIN s USING (customer_id) WHERE e.recency IS DISTINCT FROM s.recency_days) AS recency_mismatch,
  (SELECT coalesce(max(abs(e.monetary - s.monetary_value) / greatest(abs(e.monetary), 1)), 0)
     FROM e JOIN s USING (customer_id) WHERE e.monetary <> s.monetary_value) AS monetary_max_rel,
  (SELECT max_by(e.customer_id || ': ' || e.monetary || ' vs ' || s.monetary_value, abs(e.monetary - s.monetary_value) / greatest(abs(e.monetary), 1))
     FROM e JOIN s USING (customer_id) WHERE e.monetary <> s.monetary_value) AS monetary_worst,
  (SELECT abs(sum(e.monetary) - (SELECT sum(monetary_value) FROM s)) / abs(sum(e.monetary)) FROM e) AS revenue_rel,
  (SELECT sum(e.monetary) FROM e) AS revenue,
  (SELECT count(*) FROM scored c JOIN s USING (customer_id) WHERE c.r0 <> s.rfm_r OR c.f0 <> s.rfm_f OR c.m0 <> s.rfm_m) AS rfm_mismatch,
  (SELECT count(*) FROM s WHERE frequency = 0 AND rfm_r IS NOT NULL) AS non_buyer_scored
`, expected, seg, tz)
}

// checkRestated runs restatedSQL and fails on any difference; it returns
// the restated revenue.
func checkRestated(t *testing.T, name, tz, expected, seg string) float64 {
	t.Helper()
	rows := duckdbtest.Query(t, restatedSQL(tz, expected, seg))
	if len(rows) != 1 {
		t.Fatalf("%s: %d rows", name, len(rows))
	}
	r := rows[0]
	if n := numOf(t, r["rows"]); n == 0 || n != numOf(t, r["expected_rows"]) {
		t.Errorf("%s: %v customers published, %v restated", name, r["rows"], r["expected_rows"])
	}
	for _, k := range []string{"unmatched", "frequency_mismatch", "purchase_days_mismatch", "recency_mismatch", "rfm_mismatch", "non_buyer_scored"} {
		if numOf(t, r[k]) != 0 {
			t.Errorf("%s: %s = %v", name, k, r[k])
		}
	}
	if d := numOf(t, r["monetary_max_rel"]); !(d <= 1e-9) {
		t.Errorf("%s: a customer's revenue differs by %v relative (%v)", name, d, r["monetary_worst"])
	}
	if d := numOf(t, r["revenue_rel"]); !(d <= 1e-9) {
		t.Errorf("%s: revenue differs by %v relative", name, d)
	}
	t.Logf("%s: %v customers, revenue %v (relative difference %v)", name, r["rows"], r["revenue"], r["revenue_rel"])
	return numOf(t, r["revenue"])
}

func numOf(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return x
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err != nil {
			t.Fatalf("not a number: %q", x)
		}
		return f
	case nil:
		return math.NaN()
	}
	t.Fatalf("not a number: %T %v", v, v)
	return 0
}

func readModel(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// examplesData is testdata/, where configs/examples read their inputs.
var examplesData = filepath.Join("..", "..", "testdata")

// exampleEnv points configs/examples at testdata/ and a fresh output
// directory, which it returns.
func exampleEnv(t *testing.T) (out string) {
	t.Helper()
	t.Setenv("STRATA_EXAMPLES_DATA", examplesData)
	out = t.TempDir()
	t.Setenv("STRATA_EXAMPLES_OUT", out)
	return out
}

// runExample runs configs/examples/<name>.yaml as of asOf on testdata/
// and returns the output directory; the run must succeed.
func runExample(t *testing.T, name, asOf string) (out string) {
	t.Helper()
	out = exampleEnv(t)
	start := time.Now()
	code, stdout, stderr := strata(t, "run", "--config", filepath.Join("..", "..", "configs", "examples", name+".yaml"), "--as-of", asOf, "--log-level", "error")
	if code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", name, code, stdout, stderr)
	}
	t.Logf("run took %v", time.Since(start))
	return out
}

// TestShopifyExportAgainstDuckDB runs configs/examples/shopify.yaml on
// testdata/shopify with the default quality gate, and restates its rules in
// DuckDB SQL over the raw export: lines grouped by Name, order-level
// fields taken from the order's first line, emails trimmed, guests out,
// refunded and voided orders out, amounts quantity × price − discount,
// converted at the latest GBP rate on or before the order's day.
func TestShopifyExportAgainstDuckDB(t *testing.T) {
	const asOf = "2025-06-30"
	out := runExample(t, "shopify", asOf)
	dir, _ := filepath.Abs(filepath.Join(examplesData, "shopify"))
	lines := fmt.Sprintf(`
raw AS (SELECT *, row_number() OVER () AS rn FROM read_csv('%[1]s/orders/*.csv', header = true, all_varchar = true)),
l AS (
  SELECT "Name" AS order_id,
    nullif(trim(first_value("Email") OVER w), '') AS customer_id,
    first_value("Financial Status") OVER w AS status,
    first_value("Currency") OVER w AS currency,
    strptime(first_value("Created at") OVER w, '%%Y-%%m-%%d %%H:%%M:%%S %%z') AS ts,
    CAST("Lineitem quantity" AS DOUBLE) * CAST("Lineitem price" AS DOUBLE) - coalesce(CAST(nullif("Lineitem discount", '') AS DOUBLE), 0) AS amount
  FROM raw WINDOW w AS (PARTITION BY "Name" ORDER BY rn)
),
rates AS (SELECT CAST("date" AS DATE) AS d, currency, CAST(rate AS DOUBLE) AS rate FROM read_csv('%[1]s/fx/rates.csv', header = true, all_varchar = true)),
conv AS (
  SELECT l.*, l.amount * CASE WHEN l.currency = 'EUR' THEN 1 ELSE r.rate END AS eur
  FROM l ASOF LEFT JOIN rates r ON l.currency = r.currency AND CAST(l.ts AS DATE) >= r.d
),
kept AS (SELECT * FROM conv WHERE status NOT IN ('refunded', 'voided') AND ts < TIMESTAMPTZ '%[2]s 00:00:00 Europe/Berlin' + INTERVAL 1 DAY)`, dir, asOf)
	expected := fmt.Sprintf(`
WITH %[1]s,
o AS (SELECT customer_id, order_id, min(ts) AS ts, sum(eur) AS net FROM kept WHERE customer_id IS NOT NULL GROUP BY ALL HAVING sum(eur) <> 0)
SELECT customer_id,
  count(*) FILTER (WHERE net > 0) AS frequency,
  sum(net) AS monetary,
  count(DISTINCT CAST(ts AS DATE)) FILTER (WHERE net > 0) AS purchase_days,
  DATE '%[2]s' - max(CAST(ts AS DATE)) FILTER (WHERE net > 0) AS recency
FROM o GROUP BY customer_id`, lines, asOf)
	seg := filepath.Join(out, "shopify", "segments", "dt="+asOf, "part-*.parquet")
	revenue := checkRestated(t, "shopify", "Europe/Berlin", expected, seg)

	// The guest share and the currency, in model.json.
	m := readModel(t, filepath.Join(out, "shopify", "models", "dt="+asOf, "model.json"))
	q := m["quality"].(map[string]any)
	rows := duckdbtest.Query(t, fmt.Sprintf("SET TimeZone = 'Europe/Berlin'; WITH %s SELECT sum(eur) AS g, count(*) AS n FROM kept WHERE customer_id IS NULL", lines))
	if g := numOf(t, rows[0]["g"]); math.Abs(g-q["guest_revenue"].(float64)) > 1e-9*math.Abs(g) {
		t.Errorf("guest revenue %v, restated %v", q["guest_revenue"], g)
	}
	if q["currency"] != "EUR" {
		t.Errorf("currency %v, want EUR", q["currency"])
	}
	g := numOf(t, rows[0]["g"])
	if share, want := m["guest_share"].(float64), g/(g+revenue); math.Abs(share-want) > 1e-9 {
		t.Errorf("guest share %v, restated %v", share, want)
	}
	excl := q["excluded"].(map[string]any)["orders"].(map[string]any)
	if numOf(t, excl["guest_order"]) != numOf(t, rows[0]["n"]) || numOf(t, excl["rule:reversed"]) == 0 {
		t.Errorf("excluded %v, want %v guest lines and some reversed", excl, rows[0]["n"])
	}
}

// TestCompleteJourneyLinesAgainstDuckDB restates the Complete Journey
// example (basket lines, grain: line) in DuckDB SQL over the raw slice.
func TestCompleteJourneyLinesAgainstDuckDB(t *testing.T) {
	const asOf = "2017-12-31"
	out := runExample(t, "complete_journey", asOf)
	dir, _ := filepath.Abs(filepath.Join(examplesData, "complete_journey"))
	expected := fmt.Sprintf(`
WITH l AS (SELECT CAST(household_id AS VARCHAR) AS customer_id, CAST(basket_id AS VARCHAR) AS order_id,
    CAST(transaction_timestamp AS TIMESTAMP) AS ts, CAST(sales_value AS DOUBLE) AS amount
  FROM read_csv('%[1]s/orders/*.csv', header = true, all_varchar = true)
  WHERE CAST(transaction_timestamp AS TIMESTAMP) < TIMESTAMP '%[2]s 00:00:00' + INTERVAL 1 DAY),
o AS (SELECT customer_id, order_id, min(ts) AS ts, sum(amount) AS net FROM l GROUP BY ALL HAVING sum(amount) <> 0),
a AS (SELECT customer_id,
  count(*) FILTER (WHERE net > 0) AS frequency,
  sum(net) AS monetary,
  count(DISTINCT CAST(ts AS DATE)) FILTER (WHERE net > 0) AS purchase_days,
  DATE '%[2]s' - max(CAST(ts AS DATE)) FILTER (WHERE net > 0) AS recency
  FROM o GROUP BY customer_id),
c AS (SELECT DISTINCT CAST(household_id AS VARCHAR) AS customer_id FROM read_csv('%[1]s/customers/*.csv', header = true, all_varchar = true))
SELECT customer_id, coalesce(frequency, 0) AS frequency, coalesce(monetary, 0) AS monetary,
  coalesce(purchase_days, 0) AS purchase_days, recency
FROM (SELECT customer_id FROM c UNION SELECT customer_id FROM a) LEFT JOIN a USING (customer_id)`, dir, asOf)
	seg := filepath.Join(out, "complete_journey", "segments", "dt="+asOf, "part-*.parquet")
	checkRestated(t, "complete_journey", "UTC", expected, seg)
}

// TestLineShopAgainstDuckDB generates the line-level shop (strata generate
// --grain line), runs configs/examples/line_shop.yaml on it with the
// default quality gate, and restates every rule in DuckDB SQL over the
// raw lines: duplicates dropped, postage and bank charges out, guests out,
// ids "12346.0" read as 12346, cancellations (C… or negative quantity)
// netted, invoices summed and converted at the latest daily rate on or
// before their day, invoices of nothing not purchases.
func TestLineShopAgainstDuckDB(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if code, stdout, stderr := strata(t, "generate", "--grain", "line", "--dir", in, "--customers", "3000", "--seed", "7",
		"--start", "2024-01-01", "--end", "2025-09-30", "--log-level", "error"); code != 0 {
		t.Fatalf("generate: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Setenv("STRATA_LINESHOP_DIR", in)
	t.Setenv("STRATA_LINESHOP_OUT", out)
	const asOf = "2025-09-30"
	body, err := os.ReadFile(filepath.Join("..", "..", "configs", "examples", "line_shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, string(body)+"features:\n  publish: true\n") // for the category shares
	start := time.Now()
	code, stdout, stderr := strata(t, "run", "--config", cfg, "--as-of", asOf, "--log-level", "error")
	if code != 0 {
		t.Fatalf("line shop: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("run took %v", time.Since(start))
	lines := fmt.Sprintf(`
raw AS (SELECT * FROM read_csv('%[1]s/orders/*.csv', header = true, all_varchar = true)),
l AS (
  SELECT "InvoiceNo" AS order_id, "StockCode" AS product, "Currency" AS currency, "Category" AS category,
    CAST(CAST(nullif(trim("CustomerID"), '') AS DOUBLE) AS BIGINT)::VARCHAR AS customer_id,
    CAST("InvoiceDate" AS TIMESTAMP) AS ts, "Quantity" AS qtext, "UnitPrice" AS ptext,
    CAST("Quantity" AS DOUBLE) * CAST("UnitPrice" AS DOUBLE) AS gross,
    "InvoiceNo" LIKE 'C%%' OR CAST("Quantity" AS DOUBLE) < 0 AS ret
  FROM raw
  WHERE CAST("InvoiceDate" AS TIMESTAMP) < TIMESTAMP '%[2]s 00:00:00' + INTERVAL 1 DAY
    AND category NOT IN ('POSTAGE', 'Bank Charges')),
rates AS (SELECT CAST("date" AS DATE) AS d, currency, CAST(rate AS DOUBLE) AS rate FROM read_csv('%[1]s/fx/rates.csv', header = true, all_varchar = true)),
conv AS (
  SELECT l.*, CASE WHEN l.ret THEN -abs(l.gross) ELSE l.gross END * CASE WHEN l.currency = 'GBP' THEN 1 ELSE r.rate END AS amount
  FROM l ASOF LEFT JOIN rates r ON l.currency = r.currency AND CAST(l.ts AS DATE) >= r.d)`, in, asOf)
	expected := fmt.Sprintf(`
WITH %[1]s,
kept AS (SELECT DISTINCT order_id, product, customer_id, ts, qtext, ptext, category, currency, amount FROM conv WHERE customer_id IS NOT NULL),
o AS (SELECT customer_id, order_id, min(ts) AS ts, sum(amount) AS net FROM kept GROUP BY ALL HAVING sum(amount) <> 0)
SELECT customer_id,
  count(*) FILTER (WHERE net > 0) AS frequency,
  sum(net) AS monetary,
  count(DISTINCT CAST(ts AS DATE)) FILTER (WHERE net > 0) AS purchase_days,
  DATE '%[2]s' - max(CAST(ts AS DATE)) FILTER (WHERE net > 0) AS recency
FROM o GROUP BY customer_id`, lines, asOf)
	seg := filepath.Join(out, "segments", "dt="+asOf, "part-*.parquet")
	checkRestated(t, "line shop", "UTC", expected, seg)

	m := readModel(t, filepath.Join(out, "models", "dt="+asOf, "model.json"))
	q := m["quality"].(map[string]any)
	rows := duckdbtest.Query(t, fmt.Sprintf(`SET TimeZone = 'UTC'; WITH %s
SELECT sum(amount) AS g, (SELECT count(*) FROM raw WHERE "Category" IN ('POSTAGE', 'Bank Charges')) AS non_product FROM conv WHERE customer_id IS NULL`, lines))
	if g := numOf(t, rows[0]["g"]); math.Abs(g-q["guest_revenue"].(float64)) > 1e-9*math.Abs(g) {
		t.Errorf("guest revenue %v, restated %v", q["guest_revenue"], g)
	}
	excl := q["excluded"].(map[string]any)["orders"].(map[string]any)
	if numOf(t, excl["rule:non_product"]) != numOf(t, rows[0]["non_product"]) {
		t.Errorf("non-product lines excluded %v, restated %v", excl["rule:non_product"], rows[0]["non_product"])
	}
	if q["currency"] != "GBP" || len(q["bad"].(map[string]any)) != 0 {
		t.Errorf("currency %v, bad %v", q["currency"], q["bad"])
	}
	// An order's category spend is its lines', by line spend: each
	// customer's share of a category is its lines' spend in purchases
	// over all their purchases' line spend.
	rows = duckdbtest.Query(t, fmt.Sprintf(`SET TimeZone = 'UTC'; WITH %[1]s,
kept AS (SELECT DISTINCT order_id, product, customer_id, ts, qtext, ptext, category, currency, amount FROM conv WHERE customer_id IS NOT NULL),
o AS (SELECT customer_id, order_id FROM kept GROUP BY ALL HAVING sum(amount) > 0),
cs AS (SELECT k.customer_id, k.category, sum(k.amount) AS spend FROM kept k JOIN o USING (customer_id, order_id) GROUP BY ALL),
sh AS (SELECT customer_id, category, spend / sum(spend) OVER (PARTITION BY customer_id) AS share FROM cs),
f AS (UNPIVOT (SELECT customer_id, COLUMNS('cat_share_cat_.*') FROM read_parquet('%[2]s')) ON COLUMNS('cat_share_cat_.*') INTO NAME col VALUE share)
SELECT count(*) AS n, max(abs(f.share - coalesce(sh.share, 0))) AS d
FROM f LEFT JOIN sh ON f.customer_id = sh.customer_id AND f.col = 'cat_share_' || sh.category`, lines, filepath.Join(out, "features", "dt="+asOf, "part-*.parquet")))
	if n, d := numOf(t, rows[0]["n"]), numOf(t, rows[0]["d"]); n < 1000 || !(d <= 1e-9) {
		t.Errorf("category shares: %v compared, differing by up to %v", n, d)
	} else {
		t.Logf("category shares: %v compared, differing by up to %v", n, d)
	}
	// Ids are published as the integers they are.
	rows = duckdbtest.Query(t, fmt.Sprintf(`SELECT count(*) FILTER (WHERE customer_id LIKE '%%.%%' OR customer_id <> trim(customer_id)) AS n FROM read_parquet('%s')`, seg))
	if numOf(t, rows[0]["n"]) != 0 {
		t.Errorf("%v ids published with a fraction or spaces", rows[0]["n"])
	}
}

// TestStaleAndMixedCurrencies: a run whose newest order is long before
// its as-of date fails the quality gate (exit 3) giving both dates; orders
// in several currencies without rates fail as a configuration error (exit
// 2) naming them.
func TestStaleAndMixedCurrencies(t *testing.T) {
	exampleEnv(t)
	cfg := filepath.Join("..", "..", "configs", "examples", "shopify.yaml")
	code, _, stderr := strata(t, "run", "--config", cfg, "--as-of", "2026-06-30", "--log-level", "error")
	if code != 3 || !strings.Contains(stderr, "2025-06-24") || !strings.Contains(stderr, "2026-06-30") {
		t.Errorf("a year late: exit %d, want 3 with both dates: %s", code, stderr)
	}
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A week's slack is the default; a day's fails the same run.
	strict := strings.Replace(string(body), "output:\n", "quality:\n  max_staleness_days: 1\noutput:\n", 1)
	if code, _, stderr := strata(t, "run", "--config", writeConfig(t, t.TempDir(), strict), "--as-of", "2025-06-30", "--log-level", "error"); code != 3 {
		t.Errorf("max_staleness_days 1: exit %d, want 3: %s", code, stderr)
	}
	// The Complete Journey's basket lines read as orders: the lines after
	// a basket's first conflict (16,149: 42,199 lines less the 298 of $0,
	// less one a basket), count toward the gate, and the failure says what
	// to set.
	cj, err := os.ReadFile(filepath.Join("..", "..", "configs", "examples", "complete_journey.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	asOrders := strings.Replace(string(cj), "    grain: line\n", "", 1)
	code, _, stderr = strata(t, "run", "--config", writeConfig(t, t.TempDir(), asOrders), "--as-of", "2017-12-31", "--log-level", "error")
	if asOrders == string(cj) || code != 3 || !strings.Contains(stderr, "16149 rows (conflicting_order_id)") || !strings.Contains(stderr, "grain: line") {
		t.Errorf("lines read as orders: exit %d, want 3 with a hint: %s", code, stderr)
	}
	i := strings.Index(string(body), "  fx:\n")
	j := strings.Index(string(body), "\noutput:")
	noFX := string(body[:i]) + string(body[j:])
	code, _, stderr = strata(t, "run", "--config", writeConfig(t, t.TempDir(), noFX), "--as-of", "2025-06-30", "--log-level", "error")
	if code != 2 || !strings.Contains(stderr, "EUR, GBP") {
		t.Errorf("two currencies without rates: exit %d, want 2 naming EUR and GBP: %s", code, stderr)
	}
}

// TestShardedStaleness: a sharded run's staleness is the whole data's,
// checked when it finishes (a sample's or a shard's newest order is not
// the data's), and the rates table is part of the planned attempt.
func TestShardedStaleness(t *testing.T) {
	exampleEnv(t)
	body, err := os.ReadFile(filepath.Join("..", "..", "configs", "examples", "shopify.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, t.TempDir(), strings.Replace(string(body), "output:\n", "fit:\n  sample_fraction: 0.5\noutput:\n", 1))
	for _, tc := range []struct {
		asOf string
		code int
	}{{"2025-06-30", 0}, {"2026-06-30", 3}} {
		run := func(args ...string) (int, string) {
			code, stdout, stderr := strata(t, append(append([]string{}, args...), "--config", cfg, "--as-of", tc.asOf, "--log-level", "error")...)
			return code, stdout + stderr
		}
		if code, out := run("fit"); code != 0 {
			t.Fatalf("%s: fit: exit %d: %s", tc.asOf, code, out)
		}
		for i := range 2 {
			if code, out := run("run", "--shard", fmt.Sprintf("%d/2", i)); code != 0 {
				t.Fatalf("%s: shard %d: exit %d: %s", tc.asOf, i, code, out)
			}
		}
		code, out := run("finish", "--shards", "2")
		if code != tc.code || (code == 3 && !strings.Contains(out, "newest accepted order is of 2025-06-24")) {
			t.Errorf("%s: finish: exit %d, want %d: %s", tc.asOf, code, tc.code, out)
		}
	}
}
