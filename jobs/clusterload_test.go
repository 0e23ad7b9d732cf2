package jobs

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/models/cluster"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/storage"
)

type loadRow struct {
	A *float64 `parquet:"a,optional"`
	B *float64 `parquet:"b,optional"`
	C *float64 `parquet:"c,optional"`
}

// loadRows makes n rows of three columns in which some cells are null,
// NaN or infinite, and the rows loadMatrix should keep (a, c order: the
// test reads columns c and a).
func loadRows(n int) ([]loadRow, []float64) {
	var rows []loadRow
	var want []float64
	for i := range n {
		a, b, c := float64(i), float64(-i), float64(i)/7
		r := loadRow{A: &a, B: &b, C: &c}
		ok := true
		switch {
		case i%97 == 5:
			r.A, ok = nil, false
		case i%89 == 3:
			nan := math.NaN()
			r.C, ok = &nan, false
		case i%83 == 1:
			inf := math.Inf(-1)
			r.A, ok = &inf, false
		case i%79 == 2:
			r.B = nil // not read: does not count
		}
		rows = append(rows, r)
		if ok {
			want = append(want, c, a)
		}
	}
	return rows, want
}

// TestLoadMatrixParquet: the rows of every row group land in file order
// in one matrix, whatever the workers, with the rows that have a null,
// NaN or infinite value in a read column left out and counted.
func TestLoadMatrixParquet(t *testing.T) {
	const n = 1000
	rows, want := loadRows(n)
	file := filepath.Join(t.TempDir(), "x.parquet")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[loadRow](f, parquet.MaxRowsPerRowGroup(128))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2, 5, -1} {
		if workers < 0 {
			// A footer not trusted with the allocation: read in order.
			trustFooter = func(context.Context, objstore.Bucket, string, int64, int) bool { return false }
			defer func() { trustFooter = plausibleRows }()
		}
		X, skipped, err := loadMatrix(context.Background(), file, []string{"c", "a"}, workers)
		if err != nil {
			t.Fatal(err)
		}
		if X.D != 2 || X.N != len(want)/2 || skipped != n-X.N || len(X.Data) != len(want) {
			t.Fatalf("workers %d: %d×%d (%d values), %d skipped; want %d rows, %d skipped", workers, X.N, X.D, len(X.Data), skipped, len(want)/2, n-len(want)/2)
		}
		if !slices.Equal(X.Data, want) {
			t.Fatalf("workers %d: the matrix is not the kept rows in order", workers)
		}
	}
	if _, _, err := loadMatrix(context.Background(), file, []string{"a", "nope"}, 2); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("a missing column: %v", err)
	}
}

// TestLoadMatrixCSV: a CSV file is read front to back, across batches,
// with unparsable, empty, NaN and infinite values and malformed lines
// skipped.
func TestLoadMatrixCSV(t *testing.T) {
	var b strings.Builder
	b.WriteString("a,b,c\n")
	var want []float64
	skipped := 0
	for i := range 5000 {
		switch {
		case i%101 == 7:
			fmt.Fprintf(&b, "abc,%d,%d\n", i, i)
			skipped++
		case i%103 == 8:
			fmt.Fprintf(&b, ",%d,%d\n", i, i)
			skipped++
		case i%107 == 9:
			fmt.Fprintf(&b, "%d,%d,NaN\n", i, i)
			skipped++
		case i%109 == 10:
			fmt.Fprintf(&b, "%d,%d,-Inf\n", i, i)
			skipped++
		case i%113 == 11:
			fmt.Fprintf(&b, "%d,\"%d\n", i, i) // an unclosed quote: malformed
			skipped++
		default:
			fmt.Fprintf(&b, "%d,%d,%d.5\n", i, -i, i)
			want = append(want, float64(i)+0.5, float64(i))
		}
	}
	file := filepath.Join(t.TempDir(), "x.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	X, got, err := loadMatrix(context.Background(), file, []string{"c", "a"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got != skipped || X.N != len(want)/2 || !slices.Equal(X.Data, want) {
		t.Fatalf("%d rows, %d skipped; want %d rows, %d skipped (equal data: %v)", X.N, got, len(want)/2, skipped, slices.Equal(X.Data, want))
	}
}

// BenchmarkFitClusters is `strata cluster` on 200k × 10 Parquet rows,
// k = 8, 10 inits, zscore: with -benchmem, what the command allocates.
func BenchmarkFitClusters(b *testing.B) {
	const n, d = 200_000, 10
	names := make([]string, d)
	group := parquet.Group{}
	for t := range d {
		names[t] = fmt.Sprintf("x%d", t)
		group[names[t]] = parquet.Required(parquet.Leaf(parquet.DoubleType))
	}
	schema := parquet.NewSchema("x", group)
	file := filepath.Join(b.TempDir(), "x.parquet")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	w := parquet.NewWriter(f, schema, parquet.MaxRowsPerRowGroup(122_880))
	rows := make([]parquet.Row, 0, n)
	for i := range n {
		r := make(parquet.Row, d)
		g := float64(i % 5)
		for t := range d {
			r[t] = parquet.DoubleValue(g*float64(t+1)+math.Sin(float64(i*(t+3)))).Level(0, 0, t)
		}
		rows = append(rows, r)
	}
	if _, err := w.WriteRows(rows); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	var rep *ClusterReport
	b.ReportAllocs()
	for b.Loop() {
		if rep, err = FitClusters(context.Background(), ClusterOptions{Input: file, K: 8, NInit: 10, Seed: 1,
			Scale: string(cluster.ScaleZScore), SilhouetteSample: 10_000}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(rep.Inertia, "inertia")
}

// TestPlausibleRows: a footer's row count sizes the matrix only when the
// file could hold that many rows.
func TestPlausibleRows(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.parquet"), make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := storage.Open(context.Background(), dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rows int64
		want bool
	}{
		{1_000_000, true},          // 80 MB: under 256 MiB whatever the file
		{3_000_000, true},          // 240 MB from a 4 MiB file: 60 bytes a byte
		{4_000_000, false},         // 320 MB: more than 64 bytes a byte
		{1 << 40, false},           // a corrupt footer
		{math.MaxInt64 / 4, false}, // overflows the matrix's size
	} {
		if got := plausibleRows(context.Background(), b, "x.parquet", tc.rows, 10); got != tc.want {
			t.Errorf("%d rows × 10 from 4 MiB: %v, want %v", tc.rows, got, tc.want)
		}
	}
}
