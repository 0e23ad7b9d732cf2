package tables

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// benchTx is the shape of ../shared/bench/gen_transactions.py's table.
type benchTx struct {
	CustomerID int64   `parquet:"customer_id"`
	TS         int64   `parquet:"ts"`
	Amount     float64 `parquet:"amount,dict"`
}

// benchFile writes n transactions over 100k customers, zstd, in row
// groups of 256k rows.
func benchFile(b *testing.B, n int) objstore.Bucket {
	b.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	rows := make([]benchTx, n)
	for i := range rows {
		rows[i] = benchTx{CustomerID: r.Int64N(100_000), TS: 1_672_531_200 + r.Int64N(2*365*86400),
			Amount: float64(r.IntN(200_000)) / 100}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[benchTx](&buf, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(256<<10))
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
	return bk
}

// BenchmarkParquetDecode decodes the three columns of a transactions file
// through the typed page readers, one goroutine.
func BenchmarkParquetDecode(b *testing.B) {
	const n = 1 << 20
	bk := benchFile(b, n)
	src := &Source{Bucket: bk, Prefix: "tx", Columns: map[string]string{"ts": "ts:epoch_s"},
		Fields: []Field{{Name: "customer_id", Kind: Key}, {Name: "ts", Kind: Time}, {Name: "amount", Kind: Float}}}
	batch := &Batch{}
	b.SetBytes(n * 24)
	b.ResetTimer()
	for range b.N {
		var rows int
		err := src.Units(context.Background(), func(u Unit) error {
			return src.ReadUnit(context.Background(), u, batch, func(bt *Batch) error { rows += bt.N; return nil })
		})
		if err != nil || rows != n {
			b.Fatalf("%d rows, %v", rows, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
}
