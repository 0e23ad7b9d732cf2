package pipeline

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/stages"
)

// TestSegmentsMeasured: with measurement.segments, a run 92 days after
// an earlier one publishes that run's segment KPIs over 7, 30 and 90 days
// and its CLV backtest over a 3-month horizon, and DuckDB restates every
// count, sum and rate from the raw orders and the earlier run's published
// segments table (so no order outside a window counts). The input is CSV,
// whose ids the reader hands out as views of buffers it reuses.
func TestSegmentsMeasured(t *testing.T) {
	s := newCampaignShop(t, 5_000, "csv")
	s.cfg.Measurement = &config.Measurement{Segments: true}
	s.cfg.CLV.HorizonMonths = 3
	const before, after = "2025-05-31", "2025-09-01"
	runOn(t, s.cfg, s.in, s.out, before)
	runOn(t, s.cfg, s.in, s.out, after)
	m := modelOf(t, s.out, after)
	var sec struct {
		Measure stages.MeasureModel `json:"measure"`
	}
	if raw, err := jsonRoundTrip(m.Stages, &sec); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	mm := sec.Measure
	if len(mm.Segments) != 1 || mm.Segments[0].EarlierAsOf != before || fmt.Sprint(mm.Segments[0].Windows) != "[7 30 90]" {
		t.Fatalf("segments measured: %+v", mm.Segments)
	}
	b := mm.Backtest
	if b == nil || b.Status != stages.StatusMeasured || b.EarlierAsOf != before || len(b.Rows) != 20 {
		t.Fatalf("backtest %+v", b)
	}

	orders := s.orders()
	segs := filepath.Join(s.outDir, "segments", "dt="+before, "*.parquet")
	kpis := duckdbtest.Query(t, fmt.Sprintf(`SET TimeZone='UTC';
CREATE TEMP TABLE o AS SELECT customer_id AS cid, ordered_at AS t, net_amount AS amt, is_refund FROM (SELECT DISTINCT * FROM %[1]s);
CREATE TEMP TABLE c AS SELECT * FROM read_parquet('%[2]s');
CREATE TEMP TABLE ps AS
SELECT w.days, c.customer_id, c.rfm_segment, c.cluster_id, c.cluster_name, c.frequency,
  count(o.t) FILTER (NOT o.is_refund) AS n, coalesce(sum(o.amt), 0) AS rev
FROM (SELECT unnest([7, 30, 90]) AS days) AS w CROSS JOIN c
LEFT JOIN o ON o.cid = c.customer_id AND o.t >= CAST(DATE '%[3]s' + 1 AS TIMESTAMPTZ)
  AND o.t < CAST(DATE '%[3]s' + 1 + w.days AS TIMESTAMPTZ)
GROUP BY ALL;
CREATE TEMP TABLE k AS
SELECT 'rfm' AS typ, rfm_segment AS seg, NULL::INTEGER AS cluster_id, days, n, rev, frequency FROM ps
UNION ALL SELECT 'cluster', cluster_name, cluster_id, days, n, rev, frequency FROM ps WHERE cluster_id IS NOT NULL;
CREATE TEMP TABLE mine AS
SELECT typ, seg, cluster_id, days, count(*) AS customers, count(*) FILTER (n > 0) AS converters, sum(rev) AS revenue,
  count(*) FILTER (frequency > 0) AS buyers, count(*) FILTER (frequency > 0 AND n > 0) AS retained
FROM k GROUP BY ALL;
CREATE TEMP TABLE pub AS SELECT * FROM read_parquet('%[4]s');
SELECT (SELECT count(*) FROM mine) AS mine, (SELECT count(*) FROM pub) AS published,
  count(*) FILTER (WHERE pub.customers <> mine.customers OR pub.converters <> mine.converters
    OR pub.buyers <> mine.buyers OR pub.retained <> mine.retained
    OR abs(pub.revenue - mine.revenue) > 1e-6 * (1 + abs(mine.revenue))
    OR abs(pub.conversion_rate - mine.converters / mine.customers) > 1e-12
    OR abs(pub.revenue_per_customer - mine.revenue / mine.customers) > 1e-6
    OR (mine.buyers > 0 AND abs(pub.retention - mine.retained / mine.buyers) > 1e-12)
    OR (mine.buyers = 0 AND pub.retention IS NOT NULL)
    OR pub.earlier_as_of <> DATE '%[3]s') AS differ,
  sum(mine.converters) FILTER (WHERE mine.typ = 'rfm' AND mine.days = 90) AS converters90
FROM pub JOIN mine ON pub.segment_type = mine.typ AND pub.segment = mine.seg
  AND pub.cluster_id IS NOT DISTINCT FROM mine.cluster_id AND pub.window_days = mine.days`,
		orders, segs, before, filepath.Join(s.outDir, "segment_kpis", "dt="+after, "*.parquet")))
	k := kpis[0]
	if k["mine"] != k["published"] || fmt.Sprint(k["differ"]) != "0" || fmt.Sprint(k["converters90"]) == "0" {
		t.Errorf("segment_kpis: DuckDB has %v rows, the run %v; %v differ (90-day converters %v)", k["mine"], k["published"], k["differ"], k["converters90"])
	}
	t.Logf("segment_kpis restated: %v rows, 90-day converters %v", k["mine"], k["converters90"])

	bt := duckdbtest.Query(t, fmt.Sprintf(`SET TimeZone='UTC';
CREATE TEMP TABLE o AS SELECT customer_id AS cid, ordered_at AS t, net_amount AS amt, is_refund FROM (SELECT DISTINCT * FROM %[1]s);
CREATE TEMP TABLE c AS SELECT * FROM read_parquet('%[2]s');
CREATE TEMP TABLE h AS SELECT CAST(DATE '%[3]s' + 1 AS TIMESTAMPTZ) AS s,
  CAST(DATE '%[3]s' + 1 AS TIMESTAMPTZ) + to_seconds(2629746 * %[4]d) AS e, pow(1 + %[6]v, 1/12) - 1 AS d;
CREATE TEMP TABLE act AS
SELECT c.customer_id, c.expected_purchases, c.clv,
  count(DISTINCT CAST(o.t AS DATE)) FILTER (NOT o.is_refund) AS days,
  coalesce(sum(%[5]v * o.amt / pow(1 + h.d, floor(epoch(o.t - h.s) / 2629746) + 1)), 0) AS val
FROM c CROSS JOIN h LEFT JOIN o ON o.cid = c.customer_id AND o.t >= h.s AND o.t < h.e
GROUP BY ALL;
CREATE TEMP TABLE m AS
SELECT 'expected_purchases' AS metric, customer_id, expected_purchases AS p, days::DOUBLE AS a FROM act WHERE expected_purchases IS NOT NULL
UNION ALL SELECT 'clv', customer_id, clv, val FROM act WHERE clv IS NOT NULL;
CREATE TEMP TABLE r AS
SELECT *, count(*) OVER (PARTITION BY metric) AS n,
  row_number() OVER (PARTITION BY metric ORDER BY p DESC, customer_id) AS rp
FROM m;
CREATE TEMP TABLE dec AS
SELECT metric, 1 + floor(10 * (rp - 1) / n)::INTEGER AS decile, count(*) AS customers, any_value(n) AS n,
  avg(p) AS pm, avg(a) AS am, sum(p) AS ps, sum(a) AS as_
FROM r GROUP BY ALL;
CREATE TEMP TABLE mine AS
SELECT *, sum(customers / n * abs(pm - am)) OVER (PARTITION BY metric) AS ce FROM dec;
CREATE TEMP TABLE pub AS SELECT * FROM read_parquet('%[7]s');
SELECT (SELECT count(*) FROM mine) AS mine, (SELECT count(*) FROM pub) AS published,
  count(*) FILTER (WHERE pub.customers <> mine.customers
    OR abs(pub.predicted_sum - mine.ps) > 1e-9 * (1 + abs(mine.ps))
    OR abs(pub.actual_sum - mine.as_) > 1e-9 * (1 + abs(mine.as_))
    OR abs(pub.calibration_error - mine.ce) > 1e-9 * (1 + mine.ce)) AS differ,
  sum(mine.as_) FILTER (WHERE mine.metric = 'expected_purchases') AS purchase_days
FROM pub JOIN mine ON pub.metric = mine.metric AND pub.decile = mine.decile`,
		orders, segs, before, b.Horizon.Months, b.Horizon.Margin, b.Horizon.AnnualDiscountRate,
		filepath.Join(s.outDir, "clv_backtest", "dt="+after, "*.parquet")))
	r := bt[0]
	if r["mine"] != r["published"] || fmt.Sprint(r["differ"]) != "0" || fmt.Sprint(r["purchase_days"]) == "0" {
		t.Errorf("clv_backtest: DuckDB has %v rows, the run %v; %v differ (purchase days %v)", r["mine"], r["published"], r["differ"], r["purchase_days"])
	}
	t.Logf("clv_backtest restated: %v rows, %v purchase days; Gini of expected_purchases %v", r["mine"], r["purchase_days"], b.Rows[0].Gini)
}

// TestMeasurePseudonymised: with pseudonymised ids the earlier run's
// audience and segments hold pseudonyms and the orders raw ids; the
// measurement matches them through the run's key and finds what a run
// with plain ids finds. The plain run reads the measured orders in its own
// extraction (stages.Tapper); the pseudonymised one, and one fitted on a
// sample, in a pass of their own: the three agree.
func TestMeasurePseudonymised(t *testing.T) {
	s := newCampaignShop(t, 3_000, "csv")
	s.cfg.Measurement = &config.Measurement{Segments: true}
	pcfg := campaignConfig(t, "privacy: {pseudonymize: true}\nmeasurement: {segments: true}\n")
	const before, after = "2025-05-31", "2025-09-01"
	pseudOut := objstore.NewMem()
	for _, day := range []string{before, after} {
		runOn(t, s.cfg, s.in, s.out, day)
		runOn(t, pcfg, s.in, pseudOut, day)
	}
	sampled := campaignConfig(t, "measurement: {segments: true}\nfit: {sample_fraction: 0.5}\n")
	sampledOut := objstore.NewMem()
	for _, day := range []string{before, after} {
		runOn(t, sampled, s.in, sampledOut, day)
	}
	var sampledM struct {
		Measure stages.MeasureModel `json:"measure"`
	}
	if _, err := jsonRoundTrip(modelOf(t, sampledOut, after).Stages, &sampledM); err != nil {
		t.Fatal(err)
	}
	var plain, pseud struct {
		Measure stages.MeasureModel `json:"measure"`
	}
	if _, err := jsonRoundTrip(modelOf(t, s.out, after).Stages, &plain); err != nil {
		t.Fatal(err)
	}
	if _, err := jsonRoundTrip(modelOf(t, pseudOut, after).Stages, &pseud); err != nil {
		t.Fatal(err)
	}
	if len(plain.Measure.Campaigns) != 1 || len(plain.Measure.Campaigns[0].Rows) != 6 || len(plain.Measure.Segments) != 1 {
		t.Fatalf("plain run measured %+v", plain.Measure)
	}
	if got, want := fmt.Sprint(sampledM.Measure.Campaigns), fmt.Sprint(plain.Measure.Campaigns); got != want {
		t.Errorf("a run fitted on a sample measured\n%s\nthe run fitted on everyone\n%s", got, want)
	}
	// Sums run in id order, which the pseudonyms change: counts and the
	// figures made of them are equal, money to rounding.
	pc, qc := plain.Measure.Campaigns[0], pseud.Measure.Campaigns
	if len(qc) != 1 || qc[0].Status != pc.Status || qc[0].EarlierAsOf != pc.EarlierAsOf || len(qc[0].Rows) != len(pc.Rows) {
		t.Fatalf("pseudonymised run measured %+v, plain %+v", qc, pc)
	}
	close := func(a, b stages.Num) bool {
		x, y := float64(a), float64(b)
		return x == y || x != x && y != y || math.Abs(x-y) <= 1e-9*math.Abs(y)
	}
	for i, p := range pc.Rows {
		q := qc[0].Rows[i]
		if p.Group != q.Group || p.WindowDays != q.WindowDays || p.Customers != q.Customers || p.Converters != q.Converters ||
			p.Orders != q.Orders || !close(q.Lift, p.Lift) || !close(q.LiftLo, p.LiftLo) || !close(q.Revenue, p.Revenue) ||
			!close(q.RevenueLift, p.RevenueLift) {
			t.Errorf("row %d: pseudonymised %+v, plain %+v", i, q, p)
		}
	}
	// Segment rows hold sums over customers in id order, which the
	// pseudonyms change: compare the counts.
	count := func(m stages.MeasureModel) string {
		var b strings.Builder
		for _, r := range m.Segments[0].Rows {
			fmt.Fprintf(&b, "%s/%s/%d: %d %d %d %d; ", r.SegmentType, r.Segment, r.WindowDays, r.Customers, r.Converters, r.Buyers, r.Retained)
		}
		return b.String()
	}
	if len(pseud.Measure.Segments) != 1 || count(pseud.Measure) != count(plain.Measure) {
		t.Errorf("pseudonymised run's segment counts\n%v\nplain run's\n%s", pseud.Measure.Segments, count(plain.Measure))
	}
}
