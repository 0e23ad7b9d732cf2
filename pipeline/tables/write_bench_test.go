package tables

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// BenchmarkWriteParquet writes a segments-shaped table of 1M customers:
// string ids and segment names, INT32 scores and days (some null), DOUBLE
// money and probabilities, timestamps.
func BenchmarkWriteParquet(b *testing.B) {
	const n = 1 << 20
	ids, seg := make([]string, n), make([]string, n)
	i32, f64, ts := make([]int32, n), make([]float64, n), make([]int64, n)
	null := make([]bool, n)
	names := []string{"Champions", "Loyal", "At Risk", "Hibernating", "New"}
	for i := range n {
		ids[i] = strconv.Itoa(i * 7)
		seg[i] = names[i%len(names)]
		i32[i], f64[i], ts[i] = int32(i%731), float64(i)*0.37, int64(i)*1e6
		null[i] = i%10 == 0
	}
	cols := []OutColumn{{Name: "customer_id", Type: OutString, Str: ids}, {Name: "segment", Type: OutString, Str: seg}}
	for k := range 5 {
		cols = append(cols, OutColumn{Name: "i" + strconv.Itoa(k), Type: OutInt32, Optional: k%2 == 0, I32: i32, Null: null},
			OutColumn{Name: "f" + strconv.Itoa(k), Type: OutDouble, Optional: k%2 == 1, F64: f64, Null: null})
	}
	cols = append(cols, OutColumn{Name: "last_order_at", Type: OutTimestamp, I64: ts})
	b.ResetTimer()
	for range b.N {
		if err := WriteParquet(io.Discard, cols, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
}

// TestWriteParquetWorkersSameBytes: row groups encoded in parallel give
// the bytes of a serial write, whatever the number of workers.
func TestWriteParquetWorkersSameBytes(t *testing.T) {
	const n = 300_001 // several row groups and a short last one
	ids, f := make([]string, n), make([]float64, n)
	null := make([]bool, n)
	for i := range n {
		ids[i], f[i], null[i] = strconv.Itoa(i), float64(i)/3, i%7 == 0
	}
	cols := []OutColumn{{Name: "customer_id", Type: OutString, Str: ids}, {Name: "x", Type: OutDouble, Optional: true, F64: f, Null: null}}
	var first []byte
	for _, w := range []int{1, 2, 3, 8} {
		var buf bytes.Buffer
		if err := WriteParquet(&buf, cols, WriteOptions{RowsPerGroup: 50_000, Workers: w}); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = buf.Bytes()
			continue
		}
		if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("%d workers: %d bytes differ from 1 worker's %d", w, buf.Len(), len(first))
		}
	}
	f2, err := parquet.OpenFile(bytes.NewReader(first), int64(len(first)))
	if err != nil || f2.NumRows() != n || len(f2.RowGroups()) != 7 {
		t.Fatalf("read back: %v, %d rows, %d row groups", err, f2.NumRows(), len(f2.RowGroups()))
	}
}
