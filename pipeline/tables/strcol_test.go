package tables

import (
	"bytes"
	"strings"
	"testing"

	"github.com/strata-oss/strata/internal/strcol"
)

// TestStrColWritesTheSameBytes: a string column given as a strcol.Column
// is written byte for byte as the same strings given as Str, in Parquet
// (dictionary or not, required or optional, with and without statistics)
// and in CSV.
func TestStrColWritesTheSameBytes(t *testing.T) {
	const n, group = 50_000, 20_000
	cols := roundTripTable(n, nullsNear(n, group), false)
	long := make([]string, n)
	for i := range long {
		long[i] = "id-" + strings.Repeat("y", i%3)
	}
	long[n/2] = strings.Repeat("z", MaxStatisticsBytes+1) // no min/max for this column
	cols = append(cols, OutColumn{Name: "long", Type: OutString, Str: long})
	asCol := make([]OutColumn, len(cols))
	strs := 0
	for i, c := range cols {
		if c.Type == OutString {
			c.StrCol, c.Str = strcol.Of(c.Str...), nil
			strs++
		}
		asCol[i] = c
	}
	if strs < 3 {
		t.Fatalf("only %d string columns", strs)
	}
	for _, compression := range []string{"zstd", "uncompressed"} {
		opt := WriteOptions{RowsPerGroup: group, Workers: 3, Compression: compression}
		var want, got bytes.Buffer
		if err := WriteParquet(&want, cols, opt); err != nil {
			t.Fatal(err)
		}
		if err := WriteParquet(&got, asCol, opt); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: %d bytes from Columns, %d from []string, not the same", compression, got.Len(), want.Len())
		}
	}
	var want, got bytes.Buffer
	if err := WriteCSV(&want, cols); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSV(&got, asCol); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("CSV: %d bytes from Columns, %d from []string, not the same", got.Len(), want.Len())
	}
}
