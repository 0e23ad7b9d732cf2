package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// features names the generator's columns (gen_customers.py, in order).
var features = []string{"recency_days", "frequency", "monetary_log", "tenure_days",
	"avg_order_value", "cat_share_a", "cat_share_b", "cat_share_c", "age", "income_k"}

// parquetGroupRows is the row-group size DuckDB's COPY writes (122,880), so
// that `strata cluster` reads the file as it would read an export.
const parquetGroupRows = 122_880

// writeParquet writes the n×d row-major matrix as a Parquet file of d
// DOUBLE columns named after the generator's features, zstd, for the
// whole-process comparison of `strata cluster` (run.sh).
func writeParquet(path string, data []float64, n, d int) error {
	if d != len(features) {
		return fmt.Errorf("want %d columns, the file has %d", len(features), d)
	}
	group := parquet.Group{}
	for _, f := range features {
		group[f] = parquet.Compressed(parquet.Required(parquet.Leaf(parquet.DoubleType)), &zstd.Codec{Level: zstd.SpeedDefault})
	}
	schema := parquet.NewSchema("customers", group)
	// The schema orders its columns by name; map them to the file's.
	col := make([]int, d)
	for i, f := range schema.Fields() {
		for t, name := range features {
			if f.Name() == name {
				col[i] = t
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	w := parquet.NewWriter(f, schema, parquet.MaxRowsPerRowGroup(parquetGroupRows))
	rows := make([]parquet.Row, 0, 4096)
	for lo := 0; lo < n; lo += cap(rows) {
		rows = rows[:0]
		for i := lo; i < min(n, lo+cap(rows)); i++ {
			r := make(parquet.Row, d)
			for c := range d {
				r[c] = parquet.DoubleValue(data[i*d+col[c]]).Level(0, 0, c)
			}
			rows = append(rows, r)
		}
		if _, err := w.WriteRows(rows); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
