package features

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/synth"
)

// The demo shop of jobs/demo.go, as of a date with orders after it.
var (
	demoStart = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	demoEnd   = time.Date(2025, 9, 30, 0, 0, 0, 0, time.UTC)
	demoAsOf  = time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
)

// demoData generates the synthetic shop into a temporary directory.
func demoData(t testing.TB, customers int, format string) (string, objstore.Bucket) {
	t.Helper()
	dir := t.TempDir()
	b, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Small files and row groups, so that there are many units to read in
	// parallel and many blocks to put back in order.
	if _, err := synth.Generate(context.Background(), b, synth.Config{Customers: customers, Seed: 42,
		Start: demoStart, End: demoEnd, Format: format, RowsPerFile: 20_000, RowGroupRows: 4096}); err != nil {
		t.Fatal(err)
	}
	return dir, b
}

// demoSpec maps every column of the synthetic shop.
func demoSpec(b objstore.Bucket) extract.Spec {
	return extract.Spec{
		AsOf: demoAsOf,
		Orders: extract.Table{Bucket: b, Prefix: "orders", Columns: map[string]string{
			"order_ts": "ordered_at", "amount": "net_amount"}},
		Customers: &extract.Table{Bucket: b, Prefix: "customers", Columns: map[string]string{
			"signup_ts": "signup_at", "income": "annual_income"}},
		Events: &extract.Table{Bucket: b, Prefix: "events", Columns: map[string]string{"event_ts": "event_at"}},
	}
}

// demoOptions exercise "other" in the category mix.
func demoOptions(workers int) Options {
	// A shard per 1,000 rows at most: as many shards as the workers
	// make, on this small shop too.
	return Options{Workers: workers, TopCategories: 5, Repeat: true, CalibrationDays: 90, shardRows: 1000}
}

// TestWorkersDoNotChangeFeatures: 1, 2 and 8 workers (and as many shards)
// give the same dataset and features, bit for bit.
func TestWorkersDoNotChangeFeatures(t *testing.T) {
	_, b := demoData(t, 3000, "parquet")
	var first *Set
	var firstDS *extract.Dataset
	for _, w := range []int{1, 2, 8} {
		ds, set, err := Run(context.Background(), demoSpec(b), demoOptions(w))
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first, firstDS = set, ds
			if len(set.Table.Cols) < 80 || ds.Quarantine.Len() == 0 || ds.Quality.Duplicates["orders"] == 0 {
				t.Fatalf("the demo data should exercise every feature and quality rule: %d features, %d quarantined",
					len(set.Table.Cols), ds.Quarantine.Len())
			}
			continue
		}
		compareTables(t, first.Table, set.Table)
		if !reflect.DeepEqual(first.Behaviour, set.Behaviour) {
			t.Errorf("%d workers: behaviour differs", w)
		}
		if !reflect.DeepEqual(firstDS.IDs.Strings(), ds.IDs.Strings()) || !reflect.DeepEqual(firstDS.Quality, ds.Quality) ||
			!reflect.DeepEqual(firstDS.Quarantine, ds.Quarantine) || !reflect.DeepEqual(firstDS.Signup, ds.Signup) ||
			firstDS.Orders != ds.Orders || firstDS.Events != ds.Events {
			t.Errorf("%d workers: dataset differs", w)
		}
	}
}

// TestFillBlocksDoNotChangeFeatures: fill's blocks (customers in id order
// whose records are gathered in arena order) of any size, on several
// shards, give the same features, bit for bit, as one block.
func TestFillBlocksDoNotChangeFeatures(t *testing.T) {
	_, b := demoData(t, 3000, "parquet")
	var first *Set
	for _, rows := range []int{0, 1, 97, 1024} {
		opt := demoOptions(4)
		opt.fillRows = rows
		_, set, err := Run(context.Background(), demoSpec(b), opt)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = set
			continue
		}
		compareTables(t, first.Table, set.Table)
		if !reflect.DeepEqual(first.Behaviour, set.Behaviour) {
			t.Errorf("blocks of %d: behaviour differs", rows)
		}
	}
}

// TestCSVAndParquetAgree: the same shop written as CSV gives the same
// features (CSV ids are text either way).
func TestCSVAndParquetAgree(t *testing.T) {
	_, bp := demoData(t, 1500, "parquet")
	_, bc := demoData(t, 1500, "csv")
	dp, sp, err := Run(context.Background(), demoSpec(bp), demoOptions(2))
	if err != nil {
		t.Fatal(err)
	}
	dc, sc, err := Run(context.Background(), demoSpec(bc), demoOptions(2))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dp.IDs.Strings(), dc.IDs.Strings()) || dp.Orders != dc.Orders {
		t.Fatalf("customers %d vs %d, orders %d vs %d", dp.IDs.Len(), dc.IDs.Len(), dp.Orders, dc.Orders)
	}
	compareTables(t, sp.Table, sc.Table)
	if dp.Quarantine.Len() != dc.Quarantine.Len() {
		t.Errorf("quarantine %d vs %d rows", dp.Quarantine.Len(), dc.Quarantine.Len())
	}
}
