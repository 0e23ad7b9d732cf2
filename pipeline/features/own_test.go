package features

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/pipeline/audience"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// ownShop writes customers with a categorical lifestyle and a numeric
// loyalty_points column (blanks, bad numbers, several versions a customer)
// and orders with discount and coupon columns (blanks, bad numbers,
// refunds, orders after the as-of date) into dir.
func ownShop(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(26, 2))
	styles := []string{"urban", "outdoor", "family", "student", "retired", ""}
	var c strings.Builder
	c.WriteString("id,updated,lifestyle,loyalty_points\n")
	for i := range 300 {
		for v := range 1 + rng.IntN(3) {
			pts := fmt.Sprintf("%d", rng.IntN(5000))
			switch rng.IntN(12) {
			case 0:
				pts = ""
			case 1:
				pts = "n/a"
			}
			// Versions a day apart; some after the as-of date.
			fmt.Fprintf(&c, "c%03d,2024-%02d-%02d,%s,%s\n", i, 3+v*2, 1+rng.IntN(28), styles[rng.IntN(len(styles))], pts)
		}
	}
	var o strings.Builder
	o.WriteString("customer_id,ts,amt,refund,discount,coupon\n")
	for range 3000 {
		id := rng.IntN(340) // some customers only have orders
		amt := 1 + rng.Float64()*200
		refund := rng.IntN(15) == 0
		disc := fmt.Sprintf("%.2f", amt*rng.Float64()*0.3)
		switch rng.IntN(10) {
		case 0:
			disc = ""
		case 1:
			disc = "free"
		}
		fmt.Fprintf(&o, "c%03d,2024-%02d-%02dT%02d:00:00Z,%.2f,%v,%s,%d\n", id, 1+rng.IntN(7), 1+rng.IntN(28), rng.IntN(24),
			amt, refund, disc, rng.IntN(3))
	}
	for name, text := range map[string]string{"customers/c.csv": c.String(), "orders/o.csv": o.String()} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ownSQL restates the own features from the raw rows: each customer's
// latest version at or before the as-of day, and sums over the purchases
// (refunds and rows after the day left out).
const ownSQL = `SET TimeZone = 'UTC';
WITH c AS (
  SELECT id, lifestyle, TRY_CAST(loyalty_points AS DOUBLE) AS pts,
    row_number() OVER (PARTITION BY id ORDER BY updated DESC) AS k
  FROM read_csv('%[1]s/customers/c.csv', header = true, all_varchar = true)
  WHERE CAST(updated AS DATE) <= DATE '%[2]s'
), cur AS (SELECT * FROM c WHERE k = 1),
o AS (
  SELECT customer_id AS id, CAST(amt AS DOUBLE) AS amt, TRY_CAST(discount AS DOUBLE) AS disc, CAST(coupon AS DOUBLE) AS coupon
  FROM read_csv('%[1]s/orders/o.csv', header = true, all_varchar = true)
  WHERE CAST(ts AS TIMESTAMPTZ) < TIMESTAMPTZ '%[3]s' AND refund = 'false'
), tot AS (
  SELECT id, sum(amt) AS gross, coalesce(sum(disc), 0) AS disc, sum(coupon) AS coupon FROM o GROUP BY id
), allc AS (
  SELECT id FROM cur UNION SELECT customer_id FROM read_csv('%[1]s/orders/o.csv', header = true, all_varchar = true)
  WHERE CAST(ts AS TIMESTAMPTZ) < TIMESTAMPTZ '%[3]s'
)
SELECT a.id AS cid, cur.lifestyle AS style, cur.pts AS pts, coalesce(tot.disc, 0) AS disc_total,
  CASE WHEN tot.gross > 0 THEN tot.disc / tot.gross END AS disc_share,
  coalesce(tot.coupon, 0) AS coupon_total, CASE WHEN tot.gross > 0 THEN tot.coupon / tot.gross END AS coupon_share
FROM allc a LEFT JOIN cur USING (id) LEFT JOIN tot USING (id)`

// TestOwnAttributesAgainstDuckDB: the user's own customer attributes (a
// categorical lifestyle, numeric loyalty points) and order measures
// (discount, coupon) give, for every customer, the features DuckDB
// computes from the raw rows.
func TestOwnAttributesAgainstDuckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("DuckDB comparison")
	}
	dir := t.TempDir()
	ownShop(t, dir)
	b, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	spec := extract.Spec{AsOf: asOf,
		Orders: extract.Table{Bucket: b, Prefix: "orders", Columns: map[string]string{"order_ts": "ts", "amount": "amt", "is_refund": "refund"},
			Own: []extract.Own{{Name: "discount", Column: "discount"}, {Name: "coupons", Column: "coupon"}}},
		Customers: &extract.Table{Bucket: b, Prefix: "customers", Columns: map[string]string{"customer_id": "id", "updated_at": "updated"},
			Own: []extract.Own{{Name: "lifestyle", Column: "lifestyle", Categorical: true}, {Name: "loyalty", Column: "loyalty_points"}}}}
	opt := Options{Own: []OwnAttribute{{Name: "lifestyle", Column: "lifestyle", Categorical: true}, {Name: "loyalty", Column: "loyalty_points"}},
		Measures: []Measure{{Name: "discount", Column: "discount"}, {Name: "coupons", Column: "coupon"}}}
	ds, set, err := Run(context.Background(), spec, opt)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Quality.Invalid["customers"]["loyalty"] == 0 || ds.Quality.Invalid["orders"]["discount"] == 0 {
		t.Errorf("invalid counts %v", ds.Quality.Invalid)
	}
	rows := duckdbtest.Query(t, fmt.Sprintf(ownSQL, dir, asOf.Format("2006-01-02"), asOf.AddDate(0, 0, 1).Format("2006-01-02")+" 00:00:00+00"))
	if len(rows) != ds.IDs.Len() {
		t.Fatalf("duckdb sees %d customers, the engine %d", len(rows), ds.IDs.Len())
	}
	tab := set.Table
	col := func(name string) *Column {
		c, ok := tab.Col(name)
		if !ok {
			t.Fatalf("no feature %s; features %v", name, tab.Names())
		}
		if c.Personal == "" || c.Family != Own {
			t.Errorf("%s: %+v, want an own, personal feature", name, c.Feature)
		}
		return c
	}
	value := func(v any) float64 {
		if v == nil {
			return math.NaN()
		}
		return num(t, v)
	}
	same := func(a, b float64) bool {
		return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
	}
	checked := 0
	for _, r := range rows {
		id := fmt.Sprint(r["cid"])
		i, ok := ds.Index(id)
		if !ok {
			t.Fatalf("duckdb has customer %s, the engine does not", id)
		}
		g := int(i)
		for name, want := range map[string]float64{"loyalty": value(r["pts"]), "discount_total": value(r["disc_total"]),
			"discount_share": value(r["disc_share"]), "coupons_total": value(r["coupon_total"]), "coupons_share": value(r["coupon_share"])} {
			if got := col(name).Value(g); !same(got, want) {
				t.Errorf("%s[%s] = %v, duckdb %v", name, id, got, want)
			}
			checked++
		}
		style, _ := r["style"].(string)
		for _, level := range []string{"urban", "outdoor", "family", "student", "retired", "unknown"} {
			want := 0.0
			if style == level || (level == "unknown" && style == "") {
				want = 1
			}
			if got := col("lifestyle_" + level).Value(g); got != want {
				t.Errorf("lifestyle_%s[%s] = %v, duckdb lifestyle %q", level, id, got, style)
			}
			checked++
		}
		if got := set.Behaviour.OwnLevels["lifestyle"].At(g); got != style {
			t.Errorf("lifestyle level of %s: %q, duckdb %q", id, got, style)
		}
	}
	t.Logf("%d customers, %d values checked against DuckDB", len(rows), checked)
}

// lineShop writes an invoice export of order lines with per-line discount
// and coupon columns into dir: orders of one to six lines listed together,
// blank and bad discounts, returned lines (negative amounts, netted by
// the rule amount < 0), orders whose lines net to a return, orders whose
// first two lines cancel out, and lines after the as-of date.
func lineShop(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(26, 3))
	var o strings.Builder
	o.WriteString("invoice,customer_id,ts,amt,discount,coupon\n")
	for inv := range 1500 {
		id := rng.IntN(200)
		ts := fmt.Sprintf("2024-%02d-%02dT%02d:00:00Z", 1+rng.IntN(7), 1+rng.IntN(28), rng.IntN(24))
		n := 1 + rng.IntN(6)
		kind := rng.IntN(20) // 0: nets to a return, 1: cancels out
		for l := range n {
			amt := 1 + float64(rng.IntN(20000))/100
			switch {
			case kind == 0:
				amt = -amt
			case kind == 1 && l == 1:
				amt = -1 // with the line before, made to cancel below
			}
			disc := fmt.Sprintf("%.2f", amt*rng.Float64()*0.3)
			switch rng.IntN(10) {
			case 0:
				disc = ""
			case 1:
				disc = "free"
			}
			if kind == 1 && n >= 2 && l < 2 {
				amt = []float64{25, -25}[l]
			}
			fmt.Fprintf(&o, "I%05d,c%03d,%s,%.2f,%s,%d\n", inv, id, ts, amt, disc, rng.IntN(3))
		}
	}
	p := filepath.Join(dir, "orders", "o.csv")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(o.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lineMeasureSQL restates measures at line grain from the raw lines: an
// order is its invoice's lines, its amount and measures their sums; an
// order of positive amount is a purchase, one of negative amount a return
// (net revenue counts both), and a customer's measure total is the sum over
// their purchases, its share that over their purchase spend.
const lineMeasureSQL = `SET TimeZone = 'UTC';
WITH l AS (
  SELECT invoice, customer_id AS id, CAST(amt AS DOUBLE) AS amt, coalesce(TRY_CAST(discount AS DOUBLE), 0) AS disc,
    CAST(coupon AS DOUBLE) AS coupon
  FROM read_csv('%[1]s/orders/o.csv', header = true, all_varchar = true)
  WHERE CAST(ts AS TIMESTAMPTZ) < TIMESTAMPTZ '%[2]s'
), o AS (
  SELECT invoice, id, sum(amt) AS amt, sum(disc) AS disc, sum(coupon) AS coupon FROM l GROUP BY ALL
), c AS (
  SELECT id, count(*) FILTER (amt > 0) AS frequency, sum(amt) AS net, sum(amt) FILTER (amt > 0) AS gross,
    coalesce(sum(disc) FILTER (amt > 0), 0) AS disc, coalesce(sum(coupon) FILTER (amt > 0), 0) AS coupon
  FROM o WHERE amt <> 0 GROUP BY id
)
SELECT id AS cid, frequency::DOUBLE AS frequency, net, disc AS disc_total, coupon AS coupon_total,
  CASE WHEN gross > 0 THEN disc / gross END AS disc_share, CASE WHEN gross > 0 THEN coupon / gross END AS coupon_share
FROM c`

// TestLineMeasuresAgainstDuckDB: with line grain an order's measure is the
// sum of its lines' (as its amount is), for every customer as DuckDB sums
// the raw lines.
func TestLineMeasuresAgainstDuckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("DuckDB comparison")
	}
	dir := t.TempDir()
	lineShop(t, dir)
	b, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	for _, workers := range []int{1, 3} {
		cols := map[string]string{"order_id": "invoice", "order_ts": "ts", "amount": "amt"}
		returns, err := audience.Compile("amount < 0", extract.RuleSchema(cols))
		if err != nil {
			t.Fatal(err)
		}
		spec := extract.Spec{AsOf: asOf, Rules: &extract.Rules{Lines: true, Returns: returns},
			Orders: extract.Table{Bucket: b, Prefix: "orders", Columns: cols,
				Own: []extract.Own{{Name: "discount", Column: "discount"}, {Name: "coupons", Column: "coupon"}}}}
		opt := Options{Workers: workers, Measures: []Measure{{Name: "discount", Column: "discount"}, {Name: "coupons", Column: "coupon"}}}
		ds, set, err := Run(context.Background(), spec, opt)
		if err != nil {
			t.Fatal(err)
		}
		rows := duckdbtest.Query(t, fmt.Sprintf(lineMeasureSQL, dir, asOf.AddDate(0, 0, 1).Format("2006-01-02")+" 00:00:00+00"))
		if len(rows) < 150 {
			t.Fatalf("duckdb: %d buyers", len(rows))
		}
		checked, multi := 0, 0
		for _, r := range rows {
			id := fmt.Sprint(r["cid"])
			i, ok := ds.Index(id)
			if !ok {
				t.Fatalf("duckdb has customer %s, the engine does not", id)
			}
			value := func(v any) float64 {
				if v == nil {
					return math.NaN()
				}
				return num(t, v)
			}
			for name, want := range map[string]float64{"frequency": value(r["frequency"]), "monetary_value": value(r["net"]),
				"discount_total": value(r["disc_total"]), "discount_share": value(r["disc_share"]),
				"coupons_total": value(r["coupon_total"]), "coupons_share": value(r["coupon_share"])} {
				c, ok := set.Table.Col(name)
				if !ok {
					t.Fatalf("no feature %s", name)
				}
				if got := c.Value(int(i)); !(math.IsNaN(got) && math.IsNaN(want)) && !(math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))) {
					t.Errorf("workers %d: %s[%s] = %v, duckdb %v", workers, name, id, got, want)
				}
				checked++
			}
			if value(r["coupon_total"]) > 2*value(r["frequency"]) {
				multi++ // more coupons than an order's one line could give: lines were summed
			}
		}
		if multi == 0 {
			t.Error("no customer's coupons exceed one line's per order: the fixture does not test summing lines")
		}
		t.Logf("workers %d: %d customers, %d values checked against DuckDB", workers, len(rows), checked)
	}
}
