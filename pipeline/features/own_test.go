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
	if len(rows) != len(ds.IDs) {
		t.Fatalf("duckdb sees %d customers, the engine %d", len(rows), len(ds.IDs))
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
		if got := set.Behaviour.OwnLevels["lifestyle"][g]; got != style {
			t.Errorf("lifestyle level of %s: %q, duckdb %q", id, got, style)
		}
	}
	t.Logf("%d customers, %d values checked against DuckDB", len(rows), checked)
}
