package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/strata-oss/strata/pipeline/storage"
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
	dir, base := path.Split(strings.TrimRight(file, "/"))
	if base == "" {
		return &UsageError{Msg: fmt.Sprintf("output %q is not a file", file)}
	}
	if dir == "" {
		dir = "."
	}
	b, err := storage.Create(ctx, dir, storage.Options{})
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
		err = writeCSVTable(&buf, cols)
	} else {
		err = tables.WriteParquet(&buf, cols, tables.WriteOptions{Workers: 1})
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", file, err)
	}
	return writeFile(ctx, file, buf.Bytes())
}

// writeCSVTable writes cols as RFC 4180 CSV with a header: numbers in
// their shortest exact form, nulls as empty fields. Only the column types
// the one-file commands produce are supported.
func writeCSVTable(w io.Writer, cols []tables.OutColumn) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	rec := make([]string, len(cols))
	for i := range cols {
		rec[i] = cols[i].Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	n := 0
	if len(cols) > 0 {
		n = cols[0].Len()
	}
	for r := range n {
		for i := range cols {
			c := &cols[i]
			if c.Null != nil && c.Null[r] {
				rec[i] = ""
				continue
			}
			switch c.Type {
			case tables.OutString:
				rec[i] = c.Str[r]
			case tables.OutInt32:
				rec[i] = strconv.FormatInt(int64(c.I32[r]), 10)
			case tables.OutInt64:
				rec[i] = strconv.FormatInt(c.I64[r], 10)
			case tables.OutDouble:
				rec[i] = strconv.FormatFloat(c.F64[r], 'g', -1, 64)
			default:
				return fmt.Errorf("csv: column %s: unsupported type %d", c.Name, c.Type)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
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
