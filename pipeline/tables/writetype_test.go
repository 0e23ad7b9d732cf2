package tables

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestOnceTypesWriteTheSameBytes checks that the wrapped column types
// (onceType: bounds computed once, strings found by address) write the
// bytes parquet-go's own types write: every OutType, required and
// optional, several row groups and pages, and string levels that share
// their bytes, that do not (the same text at different addresses), that
// outnumber the address cache's slots, and empty ones.
func TestOnceTypesWriteTheSameBytes(t *testing.T) {
	// Row groups of 70,000 rows: a dictionary column's indexes take two
	// pages of each.
	const n, group = 150_000, 70_000
	null := nullsNear(n, group)
	cols := roundTripTable(n, null, false)
	shared, copied, wide, nulls := make([]string, n), make([]string, n), make([]string, n), make([]bool, n)
	// Levels that start at the same address and differ in length.
	long := strings.Clone("Champions and more")
	levels := []string{"", long[:9], long, long[:5], "Loyal", "At Risk", "Hibernating", "Ñew ✓", "555", "111"}
	r := uint64(7)
	for i := range n {
		r ^= r << 13
		r ^= r >> 7
		r ^= r << 17
		shared[i] = levels[r%uint64(len(levels))]
		copied[i] = strings.Clone(shared[i]) // same text, its own address
		// 400 levels: more than the cache's slots, few enough for a
		// dictionary (8 rows a level in the sample).
		wide[i] = "level-" + strconv.Itoa(int(r>>20)%400)
		nulls[i] = null(i)
	}
	cols = append(cols,
		OutColumn{Name: "shared", Type: OutString, Str: shared},
		OutColumn{Name: "copied", Type: OutString, Str: copied},
		OutColumn{Name: "wide", Type: OutString, Optional: true, Str: wide, Null: nulls},
	)
	if !cols[len(cols)-1].repeats(n) || !cols[len(cols)-2].repeats(n) {
		t.Fatal("the string columns of the test must be dictionary-encoded")
	}
	for _, compression := range []string{"zstd", "snappy", "uncompressed"} {
		opt := WriteOptions{RowsPerGroup: group, Workers: 3, Compression: compression}
		var got, want bytes.Buffer
		if err := WriteParquet(&got, cols, opt); err != nil {
			t.Fatal(err)
		}
		opt.ownTypes = true
		if err := WriteParquet(&want, cols, opt); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: %d bytes with the wrapped types, %d with parquet-go's, not the same", compression, got.Len(), want.Len())
		}
	}
}

// TestHugeStringColumnsKeepParquetGoTypes checks that a string column of
// 1 GiB or more (here one 1 MiB string, 1,024 times) is written with
// parquet-go's own types, whose dictionary can fall back to PLAIN, and a
// smaller one with onceType.
func TestHugeStringColumnsKeepParquetGoTypes(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	for _, rows := range []int{1023, 1024} {
		c := OutColumn{Name: "s", Type: OutString, Str: make([]string, rows)}
		for i := range c.Str {
			c.Str[i] = long
		}
		_, wrapped := c.node(encodingChoice{groupRows: rows}).Type().(onceType)
		if want := rows < 1024; wrapped != want {
			t.Errorf("%d MiB: onceType %v, want %v", rows, wrapped, want)
		}
	}
}
