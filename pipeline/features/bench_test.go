package features

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// Run these under the shared lock: flock /tmp/strata-bench.lock go test -bench .

const (
	benchRows      = 4 << 20
	benchCustomers = 400_000
	benchDay0      = 19358 // 2023-01-01
)

var benchAsOf = time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)

// benchBlocks makes the order blocks of benchRows random transactions over
// two years, the shape of ../shared/bench/gen_transactions.py.
func benchBlocks() []*extract.OrderBlock {
	r := rand.New(rand.NewPCG(7, 7))
	var blocks []*extract.OrderBlock
	for lo := 0; lo < benchRows; lo += extract.BlockRows {
		b := &extract.OrderBlock{}
		for range min(extract.BlockRows, benchRows-lo) {
			id := r.Int64N(benchCustomers)
			day := int32(benchDay0 + r.IntN(730))
			b.Int = append(b.Int, id)
			b.Hash = append(b.Hash, extract.HashInt(id))
			b.Day = append(b.Day, day)
			b.Time = append(b.Time, int64(day)*86_400_000_000+r.Int64N(86_400_000_000))
			b.Amount = append(b.Amount, float64(r.IntN(200_000))/100)
			b.Refund = append(b.Refund, false)
			b.Drop = append(b.Drop, false)
			b.N++
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// BenchmarkAggregate feeds decoded order blocks straight to the shards:
// the aggregation alone, without reading.
func BenchmarkAggregate(b *testing.B) {
	blocks := benchBlocks()
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			opt := Options{Workers: w}.resolved()
			info := extract.Info{AsOf: benchAsOf, AsOfDay: benchDay0 + 730, Location: time.UTC, IntIDs: true,
				IDRange: [2]int64{0, benchCustomers - 1}, HasIDRange: true, Rows: benchRows, Tables: []string{"orders"}}
			for range b.N {
				e := &engine{opt: &opt}
				if err := e.Begin(info); err != nil {
					b.Fatal(err)
				}
				for _, blk := range blocks {
					if err := e.Orders(blk); err != nil {
						b.Fatal(err)
					}
				}
				e.stop()
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
		})
	}
}

// BenchmarkExtractParquet reads and aggregates a zstd Parquet orders file
// from memory, and computes the feature table: the engine end to end.
func BenchmarkExtractParquet(b *testing.B) {
	type tx struct {
		CustomerID int64   `parquet:"customer_id"`
		TS         int64   `parquet:"ts"`
		Amount     float64 `parquet:"amount,dict"`
	}
	blocks := benchBlocks()
	var rows []tx
	for _, blk := range blocks {
		for i := range blk.N {
			rows = append(rows, tx{blk.Int[i], blk.Time[i] / 1e6, blk.Amount[i]})
		}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[tx](&buf, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(1<<20))
	if _, err := w.Write(rows); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	bk := objstore.NewMem()
	if err := bk.Upload(context.Background(), "tx/part-0.parquet", bytes.NewReader(buf.Bytes())); err != nil {
		b.Fatal(err)
	}
	spec := extract.Spec{AsOf: benchAsOf, Orders: extract.Table{Bucket: bk, Prefix: "tx",
		Columns: map[string]string{"order_ts": "ts:epoch_s"}}}
	for _, wk := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", wk), func(b *testing.B) {
			for range b.N {
				if _, _, err := Run(context.Background(), spec, Options{Workers: wk}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
		})
	}
}
