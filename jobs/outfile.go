package jobs

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/strata-oss/strata/pipeline/tables"
)

// outFormat returns "csv" or "parquet" for an output file named by the
// user, from its extension: the one-file commands write what the name says.
func outFormat(flag, file string) (string, error) {
	switch strings.ToLower(path.Ext(file)) {
	case ".csv":
		return "csv", nil
	case ".parquet":
		return "parquet", nil
	}
	return "", &UsageError{Msg: fmt.Sprintf("%s %q: the name must end in .csv or .parquet", flag, file)}
}

// writeFile writes data to file, local or s3://, replacing it atomically
// (the bucket's Upload), so that a reader never sees half a file.
func writeFile(ctx context.Context, file string, data []byte) error {
	b, base, err := fileBucket(ctx, file, "output", true)
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := b.Upload(ctx, base, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// writeTable writes cols to file as CSV or Parquet by its extension (see
// outFormat). The bytes are a function of the columns alone.
func writeTable(ctx context.Context, flag, file string, cols []tables.OutColumn) error {
	f, err := outFormat(flag, file)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if f == "csv" {
		err = tables.WriteCSV(&buf, cols)
	} else {
		err = tables.WriteParquet(&buf, cols, tables.WriteOptions{Workers: 1})
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", file, err)
	}
	return writeFile(ctx, file, buf.Bytes())
}

// floatCol is an optional DOUBLE column whose NaN and ±Inf values are
// written as nulls: CSV and Parquet readers differ on how they spell them,
// and a missing value is what they mean here (no spend model, or a next
// order that probably never comes).
func floatCol(name string, v []float64) tables.OutColumn {
	c := tables.OutColumn{Name: name, Type: tables.OutDouble, Optional: true, F64: make([]float64, len(v)), Null: make([]bool, len(v))}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			c.Null[i] = true
		} else {
			c.F64[i] = x
		}
	}
	return c
}
