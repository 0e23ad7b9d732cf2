package tables

import (
	"bytes"
	"strings"
	"testing"

	"github.com/strata-oss/strata/internal/strcol"
)

// TestStrColWritesTheSameBytes: a string column given as a strcol.Column,
// or as Codes into a Dict, is written byte for byte as the same strings
// given as Str, in Parquet (dictionary or not, required or optional, with
// and without statistics) and in CSV.
func TestStrColWritesTheSameBytes(t *testing.T) {
	const n, group = 50_000, 20_000
	cols := roundTripTable(n, nullsNear(n, group), false)
	long := make([]string, n)
	for i := range long {
		long[i] = "id-" + strings.Repeat("y", i%3)
	}
	long[n/2] = strings.Repeat("z", MaxStatisticsBytes+1) // no min/max for this column
	cols = append(cols, OutColumn{Name: "long", Type: OutString, Str: long})
	asCol, asCodes := make([]OutColumn, len(cols)), make([]OutColumn, len(cols))
	strs := 0
	for i, c := range cols {
		asCol[i], asCodes[i] = c, c
		if c.Type != OutString {
			continue
		}
		strs++
		asCol[i].StrCol, asCol[i].Str = strcol.Of(c.Str...), nil
		// Numbered in order of first appearance; any numbering writes
		// the same bytes.
		code := map[string]int32{}
		asCodes[i].Codes, asCodes[i].Str = make([]int32, len(c.Str)), nil
		for r, s := range c.Str {
			k, ok := code[s]
			if !ok {
				k = int32(len(asCodes[i].Dict))
				code[s] = k
				asCodes[i].Dict = append(asCodes[i].Dict, s)
			}
			asCodes[i].Codes[r] = k
		}
	}
	if strs < 3 {
		t.Fatalf("only %d string columns", strs)
	}
	for how, other := range map[string][]OutColumn{"Columns": asCol, "Codes": asCodes} {
		for _, compression := range []string{"zstd", "uncompressed"} {
			opt := WriteOptions{RowsPerGroup: group, Workers: 3, Compression: compression}
			var want, got bytes.Buffer
			if err := WriteParquet(&want, cols, opt); err != nil {
				t.Fatal(err)
			}
			if err := WriteParquet(&got, other, opt); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%s: %d bytes from %s, %d from []string, not the same", compression, got.Len(), how, want.Len())
			}
		}
		var want, got bytes.Buffer
		if err := WriteCSV(&want, cols); err != nil {
			t.Fatal(err)
		}
		if err := WriteCSV(&got, other); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("CSV: %d bytes from %s, %d from []string, not the same", got.Len(), how, want.Len())
		}
	}
}
