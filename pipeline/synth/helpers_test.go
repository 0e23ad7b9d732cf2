package synth

import (
	"context"
	"io"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/pipeline/objstore"
)

func generate(t testing.TB, cfg Config) (*objstore.Mem, Stats) {
	t.Helper()
	b := objstore.NewMem()
	st, err := Generate(context.Background(), b, cfg)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return b, st
}

// readTable reads every Parquet part under prefix, in key order.
func readTable[T any](t testing.TB, b objstore.Bucket, prefix string) []T {
	t.Helper()
	ctx := context.Background()
	keys, err := objstore.List(ctx, b, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatalf("no objects under %s", prefix)
	}
	var out []T
	for _, k := range keys {
		r, n, err := b.ReaderAt(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parquet.Read[T](r, n)
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		out = append(out, rows...)
	}
	return out
}

// discard is a Bucket that drains uploads and keeps only their sizes, for
// benchmarks that should not measure a store.
type discard struct{ objstore.Bucket }

func (discard) Upload(ctx context.Context, key string, r io.Reader) error {
	if err := objstore.ValidateKey(key); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, r)
	return err
}
