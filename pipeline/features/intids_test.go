package features

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

// TestIntegerIDs: integer customer ids stay integers (in numeric order),
// whether their range lets the shards address them directly (dense ids)
// or not (sparse ones), with timestamps given as epoch seconds.
func TestIntegerIDs(t *testing.T) {
	day := func(s string) int64 {
		return time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC).Unix() - 86400*map[string]int64{"D": 0, "D-1": 1, "D-10": 10}[s]
	}
	for _, c := range []struct {
		name string
		ids  []int64
	}{
		{"dense", []int64{9, 10, 100, 9, 10}},
		{"sparse", []int64{9, 10, 1 << 40, 9, 10}},
		{"negative", []int64{-5, 10, 100, -5, 10}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tables.WriteParquet(&buf, []tables.OutColumn{
				{Name: "cid", Type: tables.OutInt64, I64: c.ids},
				{Name: "ts", Type: tables.OutInt64, I64: []int64{day("D-10"), day("D-1"), day("D"), day("D"), day("D") + 3600}},
				{Name: "amt", Type: tables.OutDouble, F64: []float64{1, 2, 3, 4, 5}},
			}, tables.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b := objstore.NewMem()
			if err := b.Upload(context.Background(), "o/p.parquet", &buf); err != nil {
				t.Fatal(err)
			}
			spec := extract.Spec{AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), Orders: extract.Table{Bucket: b, Prefix: "o",
				Columns: map[string]string{"customer_id": "cid", "order_ts": "ts:epoch_s", "amount": "amt"}}}
			for _, w := range []int{1, 3} {
				ds, set, err := Run(context.Background(), spec, Options{Workers: w})
				if err != nil {
					t.Fatal(err)
				}
				want := []string{"9", "10", "100"}
				switch c.name {
				case "sparse":
					want[2] = "1099511627776"
				case "negative":
					want[0] = "-5"
				}
				if !ds.NumericIDs || !reflect.DeepEqual(ds.IDs, want) {
					t.Fatalf("ids %v (numeric %v), want %v", ds.IDs, ds.NumericIDs, want)
				}
				if i, ok := ds.Index(want[1]); !ok || i != 1 {
					t.Errorf("Index(%s) = %d %v", want[1], i, ok)
				}
				b := set.Behaviour
				if !reflect.DeepEqual(b.Frequency, []int32{2, 2, 1}) || !reflect.DeepEqual(b.Monetary, []float64{5, 7, 3}) ||
					!reflect.DeepEqual(b.RecencyDays, []int32{0, 0, 0}) || !reflect.DeepEqual(b.PurchaseDays, []int32{2, 2, 1}) {
					t.Errorf("%d workers: frequency %v monetary %v recency %v days %v", w, b.Frequency, b.Monetary, b.RecencyDays, b.PurchaseDays)
				}
			}
		})
	}
}
