package features

import (
	"bytes"
	"context"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

// TestIntegerIDs: integer customer ids stay integers (in numeric order),
// whether their range lets the shards address them directly (dense ids)
// or not (sparse ones), with timestamps given as epoch seconds; a
// duplicate order is dropped either way.
func TestIntegerIDs(t *testing.T) {
	day := func(s string) int64 {
		return time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC).Unix() - 86400*map[string]int64{"D": 0, "D-1": 1, "D-10": 10}[s]
	}
	for _, c := range []struct {
		name string
		ids  []int64
	}{
		{"dense", []int64{9, 10, 100, 9, 10, 9}},
		{"sparse", []int64{9, 10, 1 << 40, 9, 10, 9}},
		{"negative", []int64{-5, 10, 100, -5, 10, -5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tables.WriteParquet(&buf, []tables.OutColumn{
				{Name: "cid", Type: tables.OutInt64, I64: c.ids},
				{Name: "ts", Type: tables.OutInt64, I64: []int64{day("D-10"), day("D-1"), day("D"), day("D"), day("D") + 3600, day("D-10")}},
				{Name: "amt", Type: tables.OutDouble, F64: []float64{1, 2, 3, 4, 5, 1}},
				// The last row repeats the first order: it is dropped, on
				// every path (one shard addressing ids directly, or several).
				{Name: "oid", Type: tables.OutInt64, I64: []int64{1, 2, 3, 4, 5, 1}},
			}, tables.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b := objstore.NewMem()
			if err := b.Upload(context.Background(), "o/p.parquet", &buf); err != nil {
				t.Fatal(err)
			}
			spec := extract.Spec{AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), Orders: extract.Table{Bucket: b, Prefix: "o",
				Columns: map[string]string{"customer_id": "cid", "order_ts": "ts:epoch_s", "amount": "amt", "order_id": "oid"}}}
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
				if d := ds.Quality.Duplicates["orders"]; d != 1 {
					t.Errorf("%d workers: %d duplicate orders, want 1", w, d)
				}
				if !ds.NumericIDs || !reflect.DeepEqual(ds.IDs.Strings(), want) {
					t.Fatalf("ids %v (numeric %v), want %v", ds.IDs.Strings(), ds.NumericIDs, want)
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

// TestHintedRows: with dense integer ids and no order ids the readers add
// each row's customer to the shard's dictionary themselves, several at
// once (engine.HintOrders, custDict.directRows), so which of them adds a
// customer first differs from run to run. Over several blocks of ids
// whose customers keep appearing, every worker count must give what a map
// computes row by row, sums included to the last bit.
func TestHintedRows(t *testing.T) {
	const n, span = 5*extract.BlockRows + 123, 150_000
	asOf := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	ids, ts, amt := make([]int64, n), make([]int64, n), make([]float64, n)
	type ref struct {
		freq     int32
		monetary float64
		last     int64
	}
	want := map[int64]*ref{}
	x := uint64(12345)
	for i := range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		// Later rows reach further into the id range, so new customers
		// turn up in every block.
		ids[i] = 1000 + int64(x%uint64(span*(i+1)/n+1))
		ts[i] = asOf.Unix() - int64(x>>40)%(700*86400)
		amt[i] = float64(x>>20%10000) / 100
		r := want[ids[i]]
		if r == nil {
			r = &ref{last: math.MinInt64}
			want[ids[i]] = r
		}
		r.freq++
		r.monetary += amt[i]
		r.last = max(r.last, ts[i])
	}
	var buf bytes.Buffer
	err := tables.WriteParquet(&buf, []tables.OutColumn{
		{Name: "cid", Type: tables.OutInt64, I64: ids},
		{Name: "ts", Type: tables.OutInt64, I64: ts},
		{Name: "amt", Type: tables.OutDouble, F64: amt},
	}, tables.WriteOptions{RowsPerGroup: 2 * extract.BlockRows})
	if err != nil {
		t.Fatal(err)
	}
	b := objstore.NewMem()
	if err := b.Upload(context.Background(), "o/p.parquet", &buf); err != nil {
		t.Fatal(err)
	}
	spec := extract.Spec{AsOf: asOf, Orders: extract.Table{Bucket: b, Prefix: "o",
		Columns: map[string]string{"customer_id": "cid", "order_ts": "ts:epoch_s", "amount": "amt"}}}
	for _, w := range []int{1, 2, 3, 4} {
		ds, set, err := Run(context.Background(), spec, Options{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		if ds.IDs.Len() != len(want) {
			t.Fatalf("%d workers: %d customers, want %d", w, ds.IDs.Len(), len(want))
		}
		beh := set.Behaviour
		for g, s := range ds.IDs.All() {
			id, _ := strconv.ParseInt(s, 10, 64)
			r := want[id]
			if r == nil {
				t.Fatalf("%d workers: customer %s not in the input", w, s)
			}
			rec := int32((asOf.Unix() - r.last + 86399) / 86400)
			if beh.Frequency[g] != r.freq || beh.Monetary[g] != r.monetary || beh.RecencyDays[g] != rec {
				t.Fatalf("%d workers: customer %s: frequency %d monetary %v recency %d, want %+v (recency %d)",
					w, s, beh.Frequency[g], beh.Monetary[g], beh.RecencyDays[g], r, rec)
			}
		}
	}
}
