package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
	"github.com/strata-oss/strata/pipeline/tables"
)

// benchRows makes an orders file of about 100 MB: random amounts and
// instants do not compress, which is the honest case for I/O.
const benchRows = 5_000_000

func writeOrders(b *testing.B, path string) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, benchRows)
	ts := make([]int64, benchRows)
	amt := make([]float64, benchRows)
	cat := make([]string, benchRows)
	cats := []string{"books", "garden", "toys", "electronics", "beauty", "grocery", "sports", "fashion"}
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for i := range ids {
		ids[i] = fmt.Sprintf("C%08d", rng.IntN(1_000_000))
		ts[i] = start + rng.Int64N(2*365*86400*1_000_000)
		amt[i] = rng.ExpFloat64() * 50
		cat[i] = cats[rng.IntN(len(cats))]
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	err = tables.WriteParquet(f, []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, Str: ids},
		{Name: "ordered_at", Type: tables.OutTimestamp, I64: ts},
		{Name: "net_amount", Type: tables.OutDouble, F64: amt},
		{Name: "category", Type: tables.OutString, Str: cat},
	}, tables.WriteOptions{RowsPerGroup: 512 << 10})
	if err != nil {
		b.Fatal(err)
	}
}

func scanAll(ctx context.Context, bkt objstore.Bucket) (int, error) {
	src := tables.Source{Bucket: bkt, Prefix: "orders", Format: "parquet", Fields: []tables.Field{
		{Name: "customer_id", Kind: tables.String, Required: true},
		{Name: "ordered_at", Kind: tables.Time, Required: true},
		{Name: "net_amount", Kind: tables.Float, Required: true},
		{Name: "category", Kind: tables.String, Required: true},
	}}
	rows := 0
	err := src.Scan(ctx, func(bt *tables.Batch) error { rows += bt.N; return nil })
	return rows, err
}

// BenchmarkReadParquetS3VsLocal reads the same ~100 MB Parquet file through
// the full input path (listing, footer, every column chunk decoded) from a
// local directory and from versitygw on loopback, alternating within each
// iteration so both see the same machine state, and reports the ratio.
//
//	go test -run '^$' -bench ReadParquetS3VsLocal -benchtime 5x ./pipeline/storage/
func BenchmarkReadParquetS3VsLocal(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	file := filepath.Join(dir, "in", "orders", "part-0.parquet")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		b.Fatal(err)
	}
	writeOrders(b, file)
	st, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	local, err := objstore.NewLocal(filepath.Join(dir, "in"))
	if err != nil {
		b.Fatal(err)
	}
	srv := s3test.Start(b)
	srv.CreateBucket(b, "bench")
	remote := srv.NewBucket(b, "bench", "in")
	fh, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Upload(ctx, "orders/part-0.parquet", fh); err != nil {
		b.Fatal(err)
	}
	fh.Close()

	b.SetBytes(st.Size())
	b.ResetTimer()
	var tLocal, tS3 time.Duration
	for range b.N {
		for _, c := range []struct {
			bkt objstore.Bucket
			d   *time.Duration
		}{{local, &tLocal}, {remote, &tS3}} {
			t0 := time.Now()
			n, err := scanAll(ctx, c.bkt)
			if err != nil {
				b.Fatal(err)
			}
			if n != benchRows {
				b.Fatalf("read %d rows, want %d", n, benchRows)
			}
			*c.d += time.Since(t0)
		}
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB")
	b.ReportMetric(tLocal.Seconds()/float64(b.N), "local-s/op")
	b.ReportMetric(tS3.Seconds()/float64(b.N), "s3-s/op")
	b.ReportMetric(tS3.Seconds()/tLocal.Seconds(), "s3/local")
}
