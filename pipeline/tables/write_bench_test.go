package tables

import (
	"io"
	"strconv"
	"testing"
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
