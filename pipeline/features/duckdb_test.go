package features

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/racetest"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// duckSQL recomputes every feature of the demo data from the raw input
// files, as long rows (customer_id, feature, value): all values of the
// numeric features that are not null, and the non-zero values of the
// indicator and share features. It shares no code with the engine: the
// rules are restated in SQL from the package documentation.
//
// Placeholders: %[1]s input directory, %[2]s cutoff (the instant after
// the as-of day), %[3]s as-of date.
const duckSQL = `SET TimeZone='UTC';
CREATE TEMP MACRO slug(s) AS trim(regexp_replace(lower(s), '[^a-z0-9]+', '_', 'g'), '_');
CREATE TEMP MACRO blank(s) AS s IS NULL OR trim(s) = '';
CREATE TEMP TABLE o AS
SELECT customer_id AS cid, CAST(ordered_at AS DATE) AS d, coalesce(is_refund, false) AS r,
  CASE WHEN coalesce(is_refund, false) THEN -abs(net_amount) ELSE net_amount END AS amt,
  CASE WHEN blank(category) THEN 'unknown' ELSE category END AS cat,
  CASE WHEN blank(channel) THEN 'unknown' ELSE channel END AS chn
FROM read_parquet('%[1]s/orders/*.parquet', filename=true, file_row_number=true)
WHERE NOT blank(customer_id) AND ordered_at IS NOT NULL
  AND net_amount IS NOT NULL AND NOT isnan(net_amount) AND NOT isinf(net_amount)
  AND (net_amount >= 0 OR coalesce(is_refund, false))
  AND ordered_at < TIMESTAMPTZ '%[2]s'
QUALIFY blank(order_id) OR row_number() OVER (PARTITION BY order_id ORDER BY filename, file_row_number) = 1;

CREATE TEMP TABLE cv AS
SELECT * EXCLUDE (rn) FROM (
  SELECT *, row_number() OVER (PARTITION BY customer_id
    ORDER BY coalesce(updated_at, TIMESTAMPTZ '0001-01-01 00:00:00+00') DESC, filename DESC, file_row_number DESC) AS rn
  FROM read_parquet('%[1]s/customers/*.parquet', filename=true, file_row_number=true)
  WHERE NOT blank(customer_id) AND (signup_at IS NULL OR signup_at < TIMESTAMPTZ '%[2]s')
    AND (updated_at IS NULL OR updated_at < TIMESTAMPTZ '%[2]s'))
WHERE rn = 1;

CREATE TEMP TABLE u AS SELECT customer_id AS cid FROM cv UNION SELECT cid FROM o;
CREATE TEMP TABLE n AS SELECT count(*)::DOUBLE AS n FROM u;

CREATE TEMP TABLE agg AS
SELECT cid,
  count(*) FILTER (NOT r) AS frequency,
  count(DISTINCT d) FILTER (NOT r) AS purchase_days,
  sum(amt) AS monetary_value,
  avg(amt) FILTER (NOT r) AS avg_order_value,
  max(amt) FILTER (NOT r) AS max_order_value,
  DATE '%[3]s' - max(d) FILTER (NOT r) AS recency_days,
  min(d) FILTER (NOT r) AS first_day,
  sum(amt) FILTER (NOT r) AS purchase_spend,
  (count(*) FILTER (r))::DOUBLE / nullif(count(*) FILTER (NOT r), 0) AS refund_rate,
  count(*) FILTER (NOT r AND d > DATE '%[3]s' - 30) AS orders_30d,
  coalesce(sum(amt) FILTER (d > DATE '%[3]s' - 30), 0) AS spend_30d,
  count(*) FILTER (NOT r AND d > DATE '%[3]s' - 90) AS orders_90d,
  coalesce(sum(amt) FILTER (d > DATE '%[3]s' - 90), 0) AS spend_90d,
  count(*) FILTER (NOT r AND d > DATE '%[3]s' - 365) AS orders_365d,
  coalesce(sum(amt) FILTER (d > DATE '%[3]s' - 365), 0) AS spend_365d
FROM o GROUP BY cid;

CREATE TEMP TABLE gaps AS
SELECT cid, avg(g) AS gap_mean_days, stddev_pop(g) AS gap_std_days FROM (
  SELECT cid, d - lag(d) OVER (PARTITION BY cid ORDER BY d) AS g FROM (SELECT DISTINCT cid, d FROM o WHERE NOT r))
WHERE g IS NOT NULL GROUP BY cid;

CREATE TEMP TABLE e AS
SELECT customer_id AS cid, CAST(event_at AS DATE) AS d, event_type AS t
FROM read_parquet('%[1]s/events/*.parquet')
WHERE NOT blank(customer_id) AND event_at IS NOT NULL AND NOT blank(event_type) AND event_at < TIMESTAMPTZ '%[2]s';

CREATE TEMP TABLE eagg AS
SELECT cid, DATE '%[3]s' - max(d) AS days_since_last_event,
  count(*) FILTER (t = 'email_open') AS email_opens,
  count(*) FILTER (t = 'email_open' AND d > DATE '%[3]s' - 30) AS email_opens_30d,
  count(*) FILTER (t = 'email_open' AND d > DATE '%[3]s' - 90) AS email_opens_90d,
  count(*) FILTER (t = 'email_open' AND d > DATE '%[3]s' - 365) AS email_opens_365d,
  count(*) FILTER (t = 'email_click') AS email_clicks,
  count(*) FILTER (t = 'email_click' AND d > DATE '%[3]s' - 30) AS email_clicks_30d,
  count(*) FILTER (t = 'email_click' AND d > DATE '%[3]s' - 90) AS email_clicks_90d,
  count(*) FILTER (t = 'email_click' AND d > DATE '%[3]s' - 365) AS email_clicks_365d,
  count(*) FILTER (t IN ('web_session', 'app_session')) AS sessions,
  count(*) FILTER (t IN ('web_session', 'app_session') AND d > DATE '%[3]s' - 30) AS sessions_30d,
  count(*) FILTER (t IN ('web_session', 'app_session') AND d > DATE '%[3]s' - 90) AS sessions_90d,
  count(*) FILTER (t IN ('web_session', 'app_session') AND d > DATE '%[3]s' - 365) AS sessions_365d
FROM e WHERE cid IN (SELECT cid FROM u) GROUP BY cid;

CREATE TEMP TABLE attr AS
SELECT u.cid,
  CASE WHEN cv.birth_date IS NULL OR cv.birth_date >= DATE '%[3]s' + 1 THEN NULL
    ELSE year(DATE '%[3]s') - year(cv.birth_date) - CASE WHEN month(DATE '%[3]s') < month(cv.birth_date)
      OR (month(DATE '%[3]s') = month(cv.birth_date) AND day(DATE '%[3]s') < day(cv.birth_date)) THEN 1 ELSE 0 END END AS age_years,
  cv.annual_income AS income,
  CAST(cv.email_opt_in AS INTEGER) AS email_opt_in,
  cv.signup_at, cv.gender, cv.education, cv.occupation, cv.country, cv.region, cv.city, cv.postal_code, cv.device, cv.os,
  cv.interests
FROM u LEFT JOIN cv ON cv.customer_id = u.cid;

CREATE TEMP TABLE long AS
WITH wide AS (
  SELECT u.cid, a.* EXCLUDE (cid, first_day, purchase_spend), g.* EXCLUDE (cid), ev.* EXCLUDE (cid),
    DATE '%[3]s' - least(coalesce(CAST(t.signup_at AS DATE), a.first_day), coalesce(a.first_day, CAST(t.signup_at AS DATE))) AS tenure_days,
    t.age_years, t.income, t.email_opt_in,
    coalesce(a.frequency, 0) AS frequency_, coalesce(a.purchase_days, 0) AS purchase_days_, coalesce(a.monetary_value, 0) AS monetary_value_
  FROM u LEFT JOIN agg a USING (cid) LEFT JOIN gaps g USING (cid) LEFT JOIN eagg ev USING (cid) LEFT JOIN attr t USING (cid)
)
SELECT cid, name AS feature, value::DOUBLE AS value FROM (
  UNPIVOT (SELECT cid, recency_days::DOUBLE AS recency_days, frequency_::DOUBLE AS frequency, purchase_days_::DOUBLE AS purchase_days,
      monetary_value_ AS monetary_value, avg_order_value, max_order_value, tenure_days::DOUBLE AS tenure_days,
      gap_mean_days, gap_std_days,
      coalesce(orders_30d, 0)::DOUBLE AS orders_30d, coalesce(spend_30d, 0) AS spend_30d,
      coalesce(orders_90d, 0)::DOUBLE AS orders_90d, coalesce(spend_90d, 0) AS spend_90d,
      coalesce(orders_365d, 0)::DOUBLE AS orders_365d, coalesce(spend_365d, 0) AS spend_365d, refund_rate,
      coalesce(email_opens, 0)::DOUBLE AS email_opens, coalesce(email_opens_30d, 0)::DOUBLE AS email_opens_30d,
      coalesce(email_opens_90d, 0)::DOUBLE AS email_opens_90d, coalesce(email_opens_365d, 0)::DOUBLE AS email_opens_365d,
      coalesce(email_clicks, 0)::DOUBLE AS email_clicks, coalesce(email_clicks_30d, 0)::DOUBLE AS email_clicks_30d,
      coalesce(email_clicks_90d, 0)::DOUBLE AS email_clicks_90d, coalesce(email_clicks_365d, 0)::DOUBLE AS email_clicks_365d,
      coalesce(sessions, 0)::DOUBLE AS sessions, coalesce(sessions_30d, 0)::DOUBLE AS sessions_30d,
      coalesce(sessions_90d, 0)::DOUBLE AS sessions_90d, coalesce(sessions_365d, 0)::DOUBLE AS sessions_365d,
      days_since_last_event::DOUBLE AS days_since_last_event, age_years::DOUBLE AS age_years, income, email_opt_in::DOUBLE AS email_opt_in
    FROM wide)
  ON COLUMNS(* EXCLUDE (cid)) INTO NAME name VALUE value)
UNION ALL
-- frequency encodings
SELECT a.cid, 'region_freq', c.k / (SELECT n FROM n) FROM attr a JOIN (SELECT region AS x, count(*)::DOUBLE AS k FROM attr WHERE NOT blank(region) GROUP BY 1) c ON c.x = a.region
UNION ALL
SELECT a.cid, 'city_freq', c.k / (SELECT n FROM n) FROM attr a JOIN (SELECT city AS x, count(*)::DOUBLE AS k FROM attr WHERE NOT blank(city) GROUP BY 1) c ON c.x = a.city
UNION ALL
SELECT a.cid, 'postal_code_freq', c.k / (SELECT n FROM n) FROM attr a JOIN (SELECT postal_code AS x, count(*)::DOUBLE AS k FROM attr WHERE NOT blank(postal_code) GROUP BY 1) c ON c.x = a.postal_code
UNION ALL
-- age and income bands
SELECT cid, 'age_band_' || CASE WHEN age_years IS NULL THEN 'unknown' WHEN age_years < 18 THEN 'under_18'
    WHEN age_years < 25 THEN '18_24' WHEN age_years < 35 THEN '25_34' WHEN age_years < 45 THEN '35_44'
    WHEN age_years < 55 THEN '45_54' WHEN age_years < 65 THEN '55_64' ELSE '65_plus' END, 1 FROM attr
UNION ALL
SELECT cid, 'income_band_' || CASE WHEN income IS NULL THEN 'unknown' WHEN income < 25000 THEN 'under_25k'
    WHEN income < 50000 THEN '25k_50k' WHEN income < 75000 THEN '50k_75k' WHEN income < 100000 THEN '75k_100k'
    WHEN income < 150000 THEN '100k_150k' ELSE '150k_plus' END, 1 FROM attr
UNION ALL
-- one-hot attributes: the 12 most common levels (ties by name), the rest other
SELECT cid, attr || '_' || CASE WHEN blank(level) OR slug(level) = 'unknown' THEN 'unknown'
    WHEN slug(level) = 'other' OR rk > 12 THEN 'other' ELSE slug(level) END, 1
FROM (
  SELECT l.cid, l.attr, l.level, r.rk FROM (
    UNPIVOT (SELECT cid, gender, education, occupation, country, device, os FROM attr)
    ON gender, education, occupation, country, device, os INTO NAME attr VALUE level) l
  LEFT JOIN (
    SELECT attr, level, row_number() OVER (PARTITION BY attr ORDER BY count(*) DESC, level) AS rk FROM (
      UNPIVOT (SELECT cid, gender, education, occupation, country, device, os FROM attr)
      ON gender, education, occupation, country, device, os INTO NAME attr VALUE level)
    WHERE NOT blank(level) AND slug(level) NOT IN ('other', 'unknown') GROUP BY attr, level) r USING (attr, level)
  UNION ALL
  -- UNPIVOT drops nulls: customers without a level are unknown
  SELECT cid, x.attr, NULL, NULL FROM attr, (VALUES ('gender'), ('education'), ('occupation'), ('country'), ('device'), ('os')) x(attr)
  WHERE CASE x.attr WHEN 'gender' THEN gender WHEN 'education' THEN education WHEN 'occupation' THEN occupation
    WHEN 'country' THEN country WHEN 'device' THEN device ELSE os END IS NULL
)
UNION ALL
-- interests: the 10 listed by most customers
SELECT cid, 'interest_' || slug(i), 1 FROM (SELECT DISTINCT cid, unnest(interests) AS i FROM attr)
WHERE i IN (SELECT i FROM (SELECT unnest(interests) AS i, cid FROM attr) GROUP BY i ORDER BY count(DISTINCT cid) DESC, i LIMIT 10)
UNION ALL
SELECT cid, 'interests_unknown', 1 FROM attr WHERE interests IS NULL OR len(interests) = 0
UNION ALL
-- category shares of purchase spend: the 5 largest categories, the rest other
SELECT cid, 'cat_share_' || CASE WHEN cat IN (SELECT cat FROM (SELECT cat FROM o WHERE NOT r GROUP BY cat
      HAVING sum(amt) > 0 ORDER BY sum(amt) DESC, cat LIMIT 5)) THEN slug(cat) ELSE 'other' END,
  sum(amt) / any_value(tot)
FROM (SELECT o.*, sum(amt) OVER (PARTITION BY cid) AS tot FROM o WHERE NOT r) WHERE tot > 0 GROUP BY ALL
UNION ALL
-- channel mix: shares of orders, the 8 largest channels
SELECT cid, 'channel_share_' || CASE WHEN chn IN (SELECT chn FROM (SELECT chn FROM o WHERE NOT r GROUP BY chn
      ORDER BY count(*) DESC, chn LIMIT 8)) THEN slug(chn) ELSE 'other' END,
  count(*)::DOUBLE / any_value(tot)
FROM (SELECT o.*, count(*) OVER (PARTITION BY cid) AS tot FROM o WHERE NOT r) GROUP BY ALL;

SELECT cid, feature, value FROM long WHERE value IS NOT NULL`

// TestDemoFeaturesAgainstDuckDB computes the whole feature table of the
// demo data and compares every value with DuckDB's, to 1e-9.
func TestDemoFeaturesAgainstDuckDB(t *testing.T) {
	racetest.Skip(t, "a DuckDB cross-check of the published numbers")
	if testing.Short() {
		t.Skip("DuckDB comparison")
	}
	dir, b := demoData(t, 4000, "parquet")
	ds, set, err := Run(context.Background(), demoSpec(b), demoOptions(0))
	if err != nil {
		t.Fatal(err)
	}
	asOf := demoAsOf.Format("2006-01-02")
	cutoff := demoAsOf.AddDate(0, 0, 1).Format("2006-01-02") + " 00:00:00+00"
	rows := duckdbtest.Query(t, fmt.Sprintf(duckSQL, dir, cutoff, asOf))

	type key struct{ id, feature string }
	want := map[key]float64{}
	customers := map[string]bool{}
	features := map[string]bool{}
	for _, r := range rows {
		k := key{fmt.Sprint(r["cid"]), fmt.Sprint(r["feature"])}
		if _, dup := want[k]; dup {
			t.Fatalf("duckdb gives %v twice", k)
		}
		want[k] = num(t, r["value"])
		customers[k.id] = true
		features[k.feature] = true
	}
	if len(customers) != ds.IDs.Len() {
		t.Errorf("duckdb sees %d customers, the engine %d", len(customers), ds.IDs.Len())
	}
	tab := set.Table
	for f := range features {
		if _, ok := tab.Col(f); !ok {
			t.Errorf("duckdb has feature %s, the engine does not", f)
		}
	}
	checked := 0
	for i := range tab.Cols {
		col := &tab.Cols[i]
		sparse := col.Kind == OneHotInd || col.Kind == MultiHot || col.Kind == Share
		bad := 0
		for r, id := range ds.IDs.All() {
			w, ok := want[key{id, col.Name}]
			got := col.Value(r)
			switch {
			case col.IsNull(r) && !ok:
			case col.IsNull(r):
				bad++
				if bad <= 3 {
					t.Errorf("%s[%s]: null, duckdb %v", col.Name, id, w)
				}
			case !ok && sparse && got == 0:
			case !ok:
				bad++
				if bad <= 3 {
					t.Errorf("%s[%s] = %v, duckdb has none", col.Name, id, got)
				}
			case math.Abs(got-w) > 1e-9:
				bad++
				if bad <= 3 {
					t.Errorf("%s[%s] = %v, duckdb %v (diff %g)", col.Name, id, got, w, got-w)
				}
			default:
				checked++
			}
		}
		if bad > 3 {
			t.Errorf("%s: %d mismatches in all", col.Name, bad)
		}
	}
	t.Logf("%d customers, %d features, %d values checked against DuckDB", ds.IDs.Len(), len(tab.Cols), checked)
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return x
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			t.Fatalf("not a number: %q", x)
		}
		return f
	}
	t.Fatalf("unexpected %T %v", v, v)
	return 0
}

// TestDuckDBWrittenParquet: an orders file as DuckDB writes it (the shape
// of the speed benchmark's: each column of a row group one zstd page,
// the amounts dictionary-coded with padded bit-packed runs) is read by the
// engine's single-page decoder, and gives DuckDB's customer count, order
// count and monetary total.
func TestDuckDBWrittenParquet(t *testing.T) {
	if testing.Short() {
		t.Skip("DuckDB comparison")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "o"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "o", "tx.parquet")
	rows := duckdbtest.Query(t, fmt.Sprintf(`
COPY (SELECT (i * 7919) %% 50021 AS customer_id, 1704067200 + (i * 104729) %% (365 * 86400) AS ts,
        round(((i * 31) %% 997) / 4.0 + 1, 2) AS amount
      FROM range(300000) t(i))
  TO '%[1]s' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 200000);
SELECT count(DISTINCT customer_id) AS customers, count(*) AS orders, round(sum(amount), 2) AS monetary
FROM read_parquet('%[1]s');`, file))
	if len(rows) != 1 {
		t.Fatalf("duckdb gave %d rows", len(rows))
	}
	b, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	spec := extract.Spec{AsOf: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Orders: extract.Table{Bucket: b, Prefix: "o",
		Columns: map[string]string{"order_ts": "ts:epoch_s"}}}
	ds, set, err := Run(context.Background(), spec, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var monetary float64
	orders := int32(0)
	for i := range set.Behaviour.N {
		monetary += set.Behaviour.Monetary[i]
		orders += set.Behaviour.Frequency[i]
	}
	if w := num(t, rows[0]["customers"]); float64(ds.IDs.Len()) != w {
		t.Errorf("%d customers, duckdb %v", ds.IDs.Len(), w)
	}
	if w := num(t, rows[0]["orders"]); float64(orders) != w {
		t.Errorf("%d orders, duckdb %v", orders, w)
	}
	if w := num(t, rows[0]["monetary"]); math.Abs(monetary-w) > 1e-6*w {
		t.Errorf("monetary %v, duckdb %v", monetary, w)
	}
}
