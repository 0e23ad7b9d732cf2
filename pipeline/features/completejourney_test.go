package features

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// TestCompleteJourneyAgainstDuckDB runs the engine on the real Complete
// Journey slice in testdata (banded demographics, line items, zone-less
// local timestamps) with the mapping of configs/examples/complete_journey.yaml,
// and checks against DuckDB over the same CSV files: the behavioural
// features of every household to 1e-9, and that each banded attribute's
// indicators count exactly the households DuckDB finds at each level.
func TestCompleteJourneyAgainstDuckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("DuckDB comparison")
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "complete_journey"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2017, 9, 30, 0, 0, 0, 0, time.UTC) // three months of orders after it
	spec := extract.Spec{
		AsOf: asOf,
		Orders: extract.Table{Bucket: b, Prefix: "orders", Format: "csv", Columns: map[string]string{
			"customer_id": "household_id", "order_ts": "transaction_timestamp", "amount": "sales_value", "quantity": "quantity"}},
		Customers: &extract.Table{Bucket: b, Prefix: "customers", Format: "csv", Columns: map[string]string{
			"customer_id": "household_id", "age_group": "age", "income_group": "income", "home_ownership": "home_ownership",
			"marital_status": "marital_status", "household_size": "household_size", "children": "kids_count"}},
	}
	ds, set, err := Run(context.Background(), spec, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ds.IDs.Len() != 801 || ds.Quarantine.Len() != 0 {
		t.Fatalf("%d households, %d quarantined; want 801 and 0", ds.IDs.Len(), ds.Quarantine.Len())
	}

	behaviour := duckdbtest.Query(t, fmt.Sprintf(`
SELECT household_id::VARCHAR AS cid, count(*)::DOUBLE AS frequency,
  count(DISTINCT CAST(transaction_timestamp AS DATE))::DOUBLE AS purchase_days,
  sum(sales_value) AS monetary_value, max(sales_value) AS max_order_value,
  (DATE '2017-09-30' - max(CAST(transaction_timestamp AS DATE)))::DOUBLE AS recency_days,
  count(*) FILTER (CAST(transaction_timestamp AS DATE) > DATE '2017-09-30' - 90)::DOUBLE AS orders_90d
FROM read_csv('%s/orders/transactions.csv', header=true, types={'household_id': 'VARCHAR', 'transaction_timestamp': 'TIMESTAMP'})
WHERE transaction_timestamp < TIMESTAMP '2017-10-01 00:00:00'
GROUP BY 1`, dir))
	if len(behaviour) < 700 {
		t.Fatalf("duckdb: %d households with orders by the as-of date", len(behaviour))
	}
	checked := 0
	for _, r := range behaviour {
		row, ok := ds.Index(fmt.Sprint(r["cid"]))
		if !ok {
			t.Fatalf("household %v: not in the engine's dictionary", r["cid"])
		}
		for _, name := range []string{"frequency", "purchase_days", "monetary_value", "max_order_value", "recency_days", "orders_90d"} {
			col, ok := set.Table.Col(name)
			if !ok {
				t.Fatalf("no feature %s", name)
			}
			if got, want := col.Value(int(row)), num(t, r[name]); math.Abs(got-want) > 1e-9 {
				t.Errorf("%s[%v] = %v, duckdb %v", name, r["cid"], got, want)
			}
			checked++
		}
	}

	levels := duckdbtest.Query(t, fmt.Sprintf(`
SELECT attr, level, count(*)::DOUBLE AS n FROM (
  UNPIVOT (SELECT age AS age_group, income AS income_group, home_ownership, marital_status,
      household_size::VARCHAR AS household_size, kids_count::VARCHAR AS children
    FROM read_csv('%s/customers/demographics.csv', header=true, all_varchar=true))
  ON COLUMNS(*) INTO NAME attr VALUE level)
GROUP BY ALL`, dir))
	for _, r := range levels {
		attr, level := fmt.Sprint(r["attr"]), fmt.Sprint(r["level"])
		name := attr + "_" + slug(level)
		col, ok := set.Table.Col(name)
		if !ok {
			t.Errorf("level %q of %s: no feature %s", level, attr, name)
			continue
		}
		var n float64
		for i := range ds.IDs.Len() {
			n += col.Value(i)
		}
		if want := num(t, r["n"]); n != want || col.Family != Demographic {
			t.Errorf("%s: %v households (%s), duckdb %v", name, n, col.Family, want)
		}
		checked++
	}
	// Blank home_ownership (a real gap in the file) is unknown, never a zero
	// of every level.
	unk, ok := set.Table.Col("home_ownership_unknown")
	if !ok {
		t.Fatal("no home_ownership_unknown")
	}
	var blanks float64
	for i := range ds.IDs.Len() {
		blanks += unk.Value(i)
	}
	want := num(t, duckdbtest.Query(t, fmt.Sprintf(`SELECT count(*)::DOUBLE AS n FROM read_csv('%s/customers/demographics.csv', header=true, all_varchar=true) WHERE home_ownership IS NULL`, dir))[0]["n"])
	if blanks != want || want == 0 {
		t.Errorf("home_ownership_unknown: %v households, duckdb counts %v blanks", blanks, want)
	}
	t.Logf("%d values checked against DuckDB", checked)
}
