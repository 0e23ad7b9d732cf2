package measure

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/racetest"
)

// The inputs as DuckDB tables, and the windows. Placeholders: %[1]s the
// input directory.
const duckInputs = `SET TimeZone='UTC';
CREATE TEMP TABLE c AS SELECT * FROM read_csv('%[1]s/customers.csv', header=true, columns={
  'customer_id': 'VARCHAR', 'rfm_segment': 'VARCHAR', 'cluster_id': 'INTEGER', 'cluster_name': 'VARCHAR',
  'frequency': 'INTEGER', 'expected_purchases': 'DOUBLE', 'clv': 'DOUBLE'});
CREATE TEMP TABLE a AS SELECT * FROM read_csv('%[1]s/audiences.csv', header=true, columns={
  'audience': 'VARCHAR', 'starts': 'DATE', 'customer_id': 'VARCHAR', 'grp': 'VARCHAR'});
CREATE TEMP TABLE o AS SELECT customer_id AS cid, ordered_at AS t, net_amount AS amt FROM read_csv('%[1]s/orders.csv',
  header=true, columns={'customer_id': 'VARCHAR', 'ordered_at': 'TIMESTAMPTZ', 'net_amount': 'DOUBLE'});
CREATE TEMP TABLE w AS SELECT unnest([7, 30, 90, 120]) AS days;
`

// duckCampaign restates campaign_results: %[2]s the measuring as-of date.
// Newcombe's and Katz's intervals are algebra and restated whole; for the
// p-values and Welch's interval DuckDB has no normal or t distribution,
// so it gives the statistic, the standard error and the degrees of
// freedom and the test applies the distributions to them.
const duckCampaign = duckInputs + `
CREATE TEMP MACRO wlo(x, n) AS (x/n + 3.8414588206941254/(2*n) - 1.959963984540054*sqrt(x/n*(1-x/n)/n + 3.8414588206941254/(4*n*n))) / (1 + 3.8414588206941254/n);
CREATE TEMP MACRO whi(x, n) AS (x/n + 3.8414588206941254/(2*n) + 1.959963984540054*sqrt(x/n*(1-x/n)/n + 3.8414588206941254/(4*n*n))) / (1 + 3.8414588206941254/n);
CREATE TEMP TABLE aw AS SELECT DISTINCT audience, starts, days FROM a, w WHERE starts + days <= DATE '%[2]s' + 1;
CREATE TEMP TABLE pc AS
SELECT aw.audience, aw.days, a.grp, a.customer_id,
  count(o.t) FILTER (o.amt >= 0) AS n, coalesce(sum(o.amt), 0) AS rev
FROM aw JOIN a USING (audience, starts)
LEFT JOIN o ON o.cid = a.customer_id AND o.t >= CAST(aw.starts AS TIMESTAMPTZ) AND o.t < CAST(aw.starts + aw.days AS TIMESTAMPTZ)
GROUP BY ALL;
CREATE TEMP TABLE g AS
SELECT audience, days, grp, count(*)::DOUBLE AS customers, (count(*) FILTER (n > 0))::DOUBLE AS converters,
  sum(n) AS orders, sum(rev) AS revenue, avg(rev) AS rpc, var_samp(rev) AS v
FROM pc GROUP BY ALL;
SELECT g.audience, g.days, g.grp, g.customers, g.converters, g.converters / g.customers AS rate, g.orders, g.revenue, g.rpc,
  CASE WHEN g.grp = 'treatment' THEN g.converters/g.customers - k.converters/k.customers END AS lift,
  CASE WHEN g.grp = 'treatment' THEN g.converters/g.customers - k.converters/k.customers
    - sqrt((g.converters/g.customers - CASE WHEN g.converters = 0 THEN 0 ELSE wlo(g.converters, g.customers) END)^2
         + (CASE WHEN k.converters = k.customers THEN 1 ELSE whi(k.converters, k.customers) END - k.converters/k.customers)^2) END AS lift_lo,
  CASE WHEN g.grp = 'treatment' THEN g.converters/g.customers - k.converters/k.customers
    + sqrt((CASE WHEN g.converters = g.customers THEN 1 ELSE whi(g.converters, g.customers) END - g.converters/g.customers)^2
         + (k.converters/k.customers - CASE WHEN k.converters = 0 THEN 0 ELSE wlo(k.converters, k.customers) END)^2) END AS lift_hi,
  CASE WHEN g.grp = 'treatment' AND k.converters > 0 THEN (g.converters/g.customers) / (k.converters/k.customers) - 1 END AS rel,
  CASE WHEN g.grp = 'treatment' AND k.converters > 0 AND g.converters > 0 THEN exp(ln((g.converters/g.customers) / (k.converters/k.customers))
    - 1.959963984540054*sqrt(1/g.converters - 1/g.customers + 1/k.converters - 1/k.customers)) - 1 END AS rel_lo,
  CASE WHEN g.grp = 'treatment' AND k.converters > 0 AND g.converters > 0 THEN exp(ln((g.converters/g.customers) / (k.converters/k.customers))
    + 1.959963984540054*sqrt(1/g.converters - 1/g.customers + 1/k.converters - 1/k.customers)) - 1 END AS rel_hi,
  CASE WHEN g.grp = 'treatment' THEN (g.converters/g.customers - k.converters/k.customers)
    / sqrt(((g.converters + k.converters)/(g.customers + k.customers)) * (1 - (g.converters + k.converters)/(g.customers + k.customers))
      * (1/g.customers + 1/k.customers)) END AS z,
  CASE WHEN g.grp = 'treatment' THEN g.rpc - k.rpc END AS rev_diff,
  CASE WHEN g.grp = 'treatment' THEN sqrt(g.v/g.customers + k.v/k.customers) END AS rev_se,
  CASE WHEN g.grp = 'treatment' THEN (g.v/g.customers + k.v/k.customers)^2
    / ((g.v/g.customers)^2/(g.customers - 1) + (k.v/k.customers)^2/(k.customers - 1)) END AS rev_df
FROM g LEFT JOIN g AS k ON k.audience = g.audience AND k.days = g.days AND k.grp = 'control'
ORDER BY g.audience, g.days, g.grp`

// duckSegments restates segment_kpis: %[2]s the earlier as-of date,
// %[3]s the measuring one.
const duckSegments = duckInputs + `
CREATE TEMP TABLE ps AS
SELECT x.days, x.customer_id, x.rfm_segment, x.cluster_id, x.cluster_name, x.frequency,
  count(o.t) FILTER (o.amt >= 0) AS n, coalesce(sum(o.amt), 0) AS rev
FROM (SELECT * FROM w CROSS JOIN c WHERE DATE '%[2]s' + 1 + days <= DATE '%[3]s' + 1) AS x
LEFT JOIN o ON o.cid = x.customer_id AND o.t >= CAST(DATE '%[2]s' + 1 AS TIMESTAMPTZ)
  AND o.t < CAST(DATE '%[2]s' + 1 + x.days AS TIMESTAMPTZ)
GROUP BY ALL;
CREATE TEMP TABLE k AS
SELECT 'rfm' AS typ, rfm_segment AS seg, NULL::INTEGER AS cluster_id, days, n, rev, frequency FROM ps
UNION ALL
SELECT 'cluster', cluster_name, cluster_id, days, n, rev, frequency FROM ps WHERE cluster_id IS NOT NULL;
SELECT typ, seg, cluster_id, days, count(*) AS customers, count(*) FILTER (n > 0) AS converters,
  (count(*) FILTER (n > 0)) / count(*) AS rate, sum(rev) AS revenue, sum(rev) / count(*) AS rpc,
  count(*) FILTER (frequency > 0) AS buyers, count(*) FILTER (frequency > 0 AND n > 0) AS retained,
  (count(*) FILTER (frequency > 0 AND n > 0)) / nullif(count(*) FILTER (frequency > 0), 0) AS retention,
  1 - (count(*) FILTER (frequency > 0 AND n > 0)) / nullif(count(*) FILTER (frequency > 0), 0) AS churn
FROM k GROUP BY ALL
ORDER BY typ DESC, cluster_id, seg, days`

// duckBacktest restates clv_backtest: %[2]s the earlier as-of date,
// %[3]d the horizon in months, %[4]v the margin, %[5]v the annual
// discount rate. A month is 365.2425/12 days = 2,629,746 seconds.
const duckBacktest = duckInputs + `
CREATE TEMP TABLE h AS SELECT CAST(DATE '%[2]s' + 1 AS TIMESTAMPTZ) AS s,
  CAST(DATE '%[2]s' + 1 AS TIMESTAMPTZ) + to_seconds(2629746 * %[3]d) AS e,
  pow(1 + %[5]v, 1/12) - 1 AS d;
CREATE TEMP TABLE act AS
SELECT c.customer_id, c.expected_purchases, c.clv,
  count(DISTINCT CAST(o.t AS DATE)) FILTER (o.amt >= 0) AS days,
  coalesce(sum(%[4]v * o.amt / pow(1 + h.d, floor(epoch(o.t - h.s) / 2629746) + 1)), 0) AS val
FROM c CROSS JOIN h LEFT JOIN o ON o.cid = c.customer_id AND o.t >= h.s AND o.t < h.e
GROUP BY ALL;
CREATE TEMP TABLE m AS
SELECT 'expected_purchases' AS metric, customer_id, expected_purchases AS p, days::DOUBLE AS a FROM act WHERE expected_purchases IS NOT NULL
UNION ALL SELECT 'clv', customer_id, clv, val FROM act WHERE clv IS NOT NULL;
CREATE TEMP TABLE r AS
SELECT *, count(*) OVER (PARTITION BY metric) AS n,
  row_number() OVER (PARTITION BY metric ORDER BY p DESC, customer_id) AS rp,
  row_number() OVER (PARTITION BY metric ORDER BY a DESC, customer_id) AS ra,
  sum(a) OVER (PARTITION BY metric) AS total,
  sum(a) OVER (PARTITION BY metric ORDER BY p DESC, customer_id ROWS UNBOUNDED PRECEDING) AS cp,
  sum(a) OVER (PARTITION BY metric ORDER BY a DESC, customer_id ROWS UNBOUNDED PRECEDING) AS ca
FROM m;
CREATE TEMP TABLE dec AS
SELECT metric, 1 + floor(10 * (rp - 1) / n)::INTEGER AS decile, count(*) AS customers, any_value(n) AS n,
  avg(p) AS pm, avg(a) AS am, sum(p) AS ps, sum(a) AS as_
FROM r GROUP BY ALL;
CREATE TEMP TABLE gini AS
SELECT metric, sum(cp/total - rp/n) / sum(ca/total - ra/n) AS gini FROM r GROUP BY ALL;
SELECT dec.metric, decile, customers, pm, am, ps, as_,
  sum(customers / n * abs(pm - am)) OVER (PARTITION BY dec.metric) AS ce, gini.gini
FROM dec JOIN gini USING (metric)
ORDER BY dec.metric DESC, decile`

// num reads a DuckDB JSON value as a float64, null as NaN.
func num(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return math.NaN()
	case float64:
		return x
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			t.Fatalf("duckdb value %q: %v", x, err)
		}
		return f
	}
	t.Fatalf("duckdb value %v (%T)", v, v)
	return 0
}

// same reports whether got and want agree to rounding (sums run in other
// orders in DuckDB), NaN matching NaN.
func same(got, want float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

type check struct {
	t    *testing.T
	errs int
}

func (c *check) eq(row string, name string, got, want float64) {
	c.t.Helper()
	if !same(got, want) {
		c.errs++
		if c.errs <= 20 {
			c.t.Errorf("%s %s: Go %.15g, DuckDB %.15g", row, name, got, want)
		}
	}
}

func duckSkip(t *testing.T) {
	t.Helper()
	racetest.Skip(t, "a DuckDB restatement of every figure")
	if testing.Short() {
		t.Skip("DuckDB comparison")
	}
}

// Every figure of campaign_results, restated in DuckDB SQL from the same
// inputs written to CSV.
func TestCampaignsAgainstDuckDB(t *testing.T) {
	duckSkip(t)
	s := genShop(1, 3000)
	h, err := NewHistory(s.orders, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Campaigns(context.Background(), s.audiences, h, s.asOf, []int{7, 30, 90, 120})
	if err != nil {
		t.Fatal(err)
	}
	want := duckdbtest.Query(t, fmt.Sprintf(duckCampaign, s.writeCSV(t), s.asOf.Format("2006-01-02")))
	if len(rows) != len(want) {
		t.Fatalf("%d rows, DuckDB %d", len(rows), len(want))
	}
	c := &check{t: t}
	for i, r := range rows {
		w := want[i]
		key := fmt.Sprintf("%s/%d/%s", r.Audience, r.WindowDays, r.Group)
		if wk := fmt.Sprintf("%s/%v/%s", w["audience"], w["days"], w["grp"]); key != wk {
			t.Fatalf("row %d is %s, DuckDB's %s", i, key, wk)
		}
		c.eq(key, "customers", float64(r.Customers), num(t, w["customers"]))
		c.eq(key, "converters", float64(r.Converters), num(t, w["converters"]))
		c.eq(key, "conversion_rate", r.ConversionRate, num(t, w["rate"]))
		c.eq(key, "orders", float64(r.Orders), num(t, w["orders"]))
		c.eq(key, "revenue", r.Revenue, num(t, w["revenue"]))
		c.eq(key, "revenue_per_customer", r.RevenuePerCustomer, num(t, w["rpc"]))
		c.eq(key, "lift", r.Lift, num(t, w["lift"]))
		c.eq(key, "lift_lo", r.LiftLo, num(t, w["lift_lo"]))
		c.eq(key, "lift_hi", r.LiftHi, num(t, w["lift_hi"]))
		c.eq(key, "relative_lift", r.RelativeLift, num(t, w["rel"]))
		c.eq(key, "relative_lift_lo", r.RelativeLiftLo, num(t, w["rel_lo"]))
		c.eq(key, "relative_lift_hi", r.RelativeLiftHi, num(t, w["rel_hi"]))
		p := math.NaN()
		if z := num(t, w["z"]); !math.IsNaN(z) {
			p = 2 * distuv.UnitNormal.Survival(math.Abs(z))
		}
		c.eq(key, "p_conversion", r.PConversion, p)
		d, se, df := num(t, w["rev_diff"]), num(t, w["rev_se"]), num(t, w["rev_df"])
		lo, hi, pr := math.NaN(), math.NaN(), math.NaN()
		if !math.IsNaN(d) {
			st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
			q := st.Quantile(0.975)
			lo, hi, pr = d-q*se, d+q*se, 2*st.Survival(math.Abs(d)/se)
		}
		c.eq(key, "revenue_lift", r.RevenueLift, d)
		c.eq(key, "revenue_lift_lo", r.RevenueLiftLo, lo)
		c.eq(key, "revenue_lift_hi", r.RevenueLiftHi, hi)
		c.eq(key, "p_revenue", r.PRevenue, pr)
	}
	t.Logf("%d campaign rows agree with DuckDB", len(rows))
	// The windows measured by the Jan 1 cutoff: win-back (Oct 5) 7 and 30
	// (90 days end Jan 3); vip (Aug 1) all four; edge (Dec 25) only 7,
	// ending exactly at the cutoff; late (Dec 28) none.
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Audience]++
	}
	if fmt.Sprint(counts) != "map[edge:2 vip:8 win-back:4]" {
		t.Errorf("rows per audience %v, want edge 2, vip 8, win-back 4", counts)
	}
}

// Every figure of segment_kpis, restated in DuckDB SQL.
func TestSegmentsAgainstDuckDB(t *testing.T) {
	duckSkip(t)
	s := genShop(2, 3000)
	h, err := NewHistory(s.orders, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Segments(context.Background(), &s.customers, h, s.earlier, s.asOf, []int{7, 30, 90, 120})
	if err != nil {
		t.Fatal(err)
	}
	want := duckdbtest.Query(t, fmt.Sprintf(duckSegments, s.writeCSV(t), s.earlier.Format("2006-01-02"), s.asOf.Format("2006-01-02")))
	if len(rows) != len(want) {
		t.Fatalf("%d rows, DuckDB %d", len(rows), len(want))
	}
	c := &check{t: t}
	for i, r := range rows {
		w := want[i]
		cl := "<nil>"
		if r.ClusterID != nil {
			cl = strconv.Itoa(int(*r.ClusterID))
		}
		key := fmt.Sprintf("%s/%s/%s/%d", r.SegmentType, r.Segment, cl, r.WindowDays)
		if wk := fmt.Sprintf("%s/%s/%v/%v", w["typ"], w["seg"], w["cluster_id"], w["days"]); key != wk {
			t.Fatalf("row %d is %s, DuckDB's %s", i, key, wk)
		}
		c.eq(key, "customers", float64(r.Customers), num(t, w["customers"]))
		c.eq(key, "converters", float64(r.Converters), num(t, w["converters"]))
		c.eq(key, "conversion_rate", r.ConversionRate, num(t, w["rate"]))
		c.eq(key, "revenue", r.Revenue, num(t, w["revenue"]))
		c.eq(key, "revenue_per_customer", r.RevenuePerCustomer, num(t, w["rpc"]))
		c.eq(key, "buyers", float64(r.Buyers), num(t, w["buyers"]))
		c.eq(key, "retained", float64(r.Retained), num(t, w["retained"]))
		c.eq(key, "retention", r.Retention, num(t, w["retention"]))
		c.eq(key, "churn", r.Churn, num(t, w["churn"]))
	}
	// 6 RFM segments and 4 clusters over 7, 30 and 90 days (Oct 1 + 90
	// days is Dec 30, inside the Jan 1 cutoff; 120 days is not).
	if len(rows) != (6+4)*3 {
		t.Errorf("%d rows, want %d", len(rows), (6+4)*3)
	}
	t.Logf("%d segment rows agree with DuckDB", len(rows))
}

// Every figure of clv_backtest, restated in DuckDB SQL.
func TestBacktestAgainstDuckDB(t *testing.T) {
	duckSkip(t)
	s := genShop(3, 3000)
	h, err := NewHistory(s.orders, nil)
	if err != nil {
		t.Fatal(err)
	}
	hz := Horizon{Months: 2, Margin: 0.3, AnnualDiscountRate: 0.1}
	rows, err := Backtest(context.Background(), &s.customers, h, s.earlier, s.asOf, hz)
	if err != nil {
		t.Fatal(err)
	}
	want := duckdbtest.Query(t, fmt.Sprintf(duckBacktest, s.writeCSV(t), s.earlier.Format("2006-01-02"), hz.Months, hz.Margin, hz.AnnualDiscountRate))
	if len(rows) != 20 || len(want) != 20 {
		t.Fatalf("%d rows, DuckDB %d, want 10 deciles of 2 metrics", len(rows), len(want))
	}
	c := &check{t: t}
	for i, r := range rows {
		w := want[i]
		key := fmt.Sprintf("%s/%d", r.Metric, r.Decile)
		if wk := fmt.Sprintf("%s/%v", w["metric"], w["decile"]); key != wk {
			t.Fatalf("row %d is %s, DuckDB's %s", i, key, wk)
		}
		c.eq(key, "customers", float64(r.Customers), num(t, w["customers"]))
		c.eq(key, "predicted_mean", r.PredictedMean, num(t, w["pm"]))
		c.eq(key, "actual_mean", r.ActualMean, num(t, w["am"]))
		c.eq(key, "predicted_sum", r.PredictedSum, num(t, w["ps"]))
		c.eq(key, "actual_sum", r.ActualSum, num(t, w["as_"]))
		c.eq(key, "calibration_error", r.CalibrationError, num(t, w["ce"]))
		c.eq(key, "gini", r.Gini, num(t, w["gini"]))
	}
	t.Logf("backtest: expected_purchases calibration error %.4f, Gini %.4f; clv calibration error %.4f, Gini %.4f",
		rows[0].CalibrationError, rows[0].Gini, rows[10].CalibrationError, rows[10].Gini)
}
