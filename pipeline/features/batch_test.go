package features

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

// batchOrders writes n integer-keyed orders as Parquet: refunds, days out
// of order, a first block of recent days (so that later, older days widen
// the bitmap) and some days beyond the widest bitmap (kept in old), and
// with cats/chans a category and a channel column; with dups, an order id
// column whose repeats the coordinator drops in some blocks.
func batchOrders(t *testing.T, n int, asOf time.Time, cats, chans, dups bool) extract.Spec {
	t.Helper()
	ids, ts, amt := make([]int64, n), make([]int64, n), make([]float64, n)
	refund := make([]bool, n)
	var cat, chn, oid []string
	x := uint64(99)
	for i := range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		ids[i] = 500 + int64(x%40_000)
		days := int64(x>>24) % 700
		switch {
		case i < extract.BlockRows:
			days %= 200
		case x>>50%97 == 0:
			days = 2100 + int64(x>>30)%3000 // beyond the bitmap's 2048 days
		case x>>50%89 == 0:
			days = 700 + int64(x>>30)%1300 // widens the bitmap
		}
		ts[i] = asOf.Unix() - days*86400 - int64(x>>40)%86400
		amt[i] = float64(x>>20%10000)/100 + 0.01
		if x>>45%23 == 0 {
			refund[i], amt[i] = true, -amt[i]
		}
		if cats {
			cat = append(cat, fmt.Sprintf("c%d", x>>33%17))
		}
		if chans {
			chn = append(chn, []string{"web", "app", "store"}[x>>37%3])
		}
		if dups {
			o := fmt.Sprintf("o%d", i)
			if i > 0 && i%(3*extract.BlockRows/2) == 0 {
				o = fmt.Sprintf("o%d", i-1) // dropped: that block is not clean
			}
			oid = append(oid, o)
		}
	}
	cols := []tables.OutColumn{
		{Name: "cid", Type: tables.OutInt64, I64: ids},
		{Name: "ts", Type: tables.OutInt64, I64: ts},
		{Name: "amt", Type: tables.OutDouble, F64: amt},
		{Name: "refund", Type: tables.OutBool, B: refund},
	}
	m := map[string]string{"customer_id": "cid", "order_ts": "ts:epoch_s", "amount": "amt", "is_refund": "refund"}
	for _, c := range []struct {
		field, name string
		v           []string
	}{{"category", "cat", cat}, {"channel", "chn", chn}, {"order_id", "oid", oid}} {
		if c.v != nil {
			cols = append(cols, tables.OutColumn{Name: c.name, Type: tables.OutString, Str: c.v})
			m[c.field] = c.name
		}
	}
	var buf bytes.Buffer
	if err := tables.WriteParquet(&buf, cols, tables.WriteOptions{RowsPerGroup: 2 * extract.BlockRows}); err != nil {
		t.Fatal(err)
	}
	b := objstore.NewMem()
	if err := b.Upload(context.Background(), "o/p.parquet", &buf); err != nil {
		t.Fatal(err)
	}
	return extract.Spec{AsOf: asOf, Orders: extract.Table{Bucket: b, Prefix: "o", Columns: m}}
}

// TestSortedBatchesChangeNothing: holding clean blocks' rows back and
// applying them sorted by record (batch.go) gives every feature column
// bit for bit, and the same bitmap width and days kept aside in the same
// order, whether the batches are smaller than a block, applied over the
// next blocks or span them all, and with the optional columns that keep
// blocks out of the batches.
func TestSortedBatchesChangeNothing(t *testing.T) {
	asOf := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name              string
		cats, chans, dups bool
		repeat            bool
		calibration       int
	}{
		{name: "plain"},
		{name: "repeat and calibration", repeat: true, calibration: 90},
		{name: "duplicates", dups: true},
		{name: "categories", cats: true},
		{name: "channels", chans: true, repeat: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := batchOrders(t, 4*extract.BlockRows+321, asOf, tc.cats, tc.chans, tc.dups)
			var ref *Set
			var refShard *shard
			for _, batch := range []int{-1, 1000, 100_000, 1 << 20} {
				opt := Options{Workers: 2, batchRows: batch, Repeat: tc.repeat, CalibrationDays: tc.calibration,
					TopCategories: 5, TopChannels: 2}
				a, err := Extract(context.Background(), spec, opt)
				if err != nil {
					t.Fatal(err)
				}
				if len(a.shards) != 1 || !a.shards[0].ranged {
					t.Fatalf("%d shards, ranged %v: the test wants one directly addressed shard", len(a.shards), a.shards[0].ranged)
				}
				s := a.shards[0]
				if len(s.old) == 0 || s.bw <= 4 {
					t.Fatalf("batch %d: %d days kept aside, %d bitmap words: the data should fill both", batch, len(s.old), s.bw)
				}
				if held := s.held > 0; held != (batch > 0 && !tc.cats && !tc.chans) {
					t.Fatalf("batch %d: %d rows held back", batch, s.held)
				}
				set, err := a.Compute(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if ref == nil {
					ref, refShard = set, s
					continue
				}
				compareTables(t, ref.Table, set.Table)
				if !reflect.DeepEqual(ref.Behaviour, set.Behaviour) {
					t.Errorf("batch %d: behaviour differs", batch)
				}
				if s.bw != refShard.bw || !reflect.DeepEqual(s.old, refShard.old) {
					t.Errorf("batch %d: bitmap %d words, %d old days; without batches %d, %d (or in another order)",
						batch, s.bw, len(s.old), refShard.bw, len(refShard.old))
				}
			}
		})
	}
}

// TestBatchFor: sorted batches only for many directly addressed
// customers, unless a test asks.
func TestBatchFor(t *testing.T) {
	for _, c := range []struct {
		opt       int
		ranged    bool
		customers int64
		want      int
	}{
		{0, true, batchMinCustomers, batchRows},
		{0, true, batchMinCustomers - 1, 0},
		{0, false, 50_000_000, 0},
		{-1, true, 50_000_000, 0},
		{100, true, 10, 100},
	} {
		if got := batchFor(&Options{batchRows: c.opt}, c.ranged, c.customers); got != c.want {
			t.Errorf("batchFor(%d, %v, %d) = %d, want %d", c.opt, c.ranged, c.customers, got, c.want)
		}
	}
}
