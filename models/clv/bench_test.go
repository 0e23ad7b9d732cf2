package clv

import (
	"context"
	"testing"
)

// benchSummary is the master calibration summary when shared/ is present,
// else the sample.
func benchSummary(b *testing.B) (x, tx, T []float64) {
	b.Helper()
	s := sampleSummary(b)
	if _, ok := masterPath(); ok {
		s = masterSummary(b)
	}
	x, tx, T, _ = present(s)
	return
}

func BenchmarkBGNBDLogLik(b *testing.B) {
	x, tx, T := benchSummary(b)
	c, _ := Compress(x, tx, T)
	p := []float64{0.2516, 4.7889, 0.7234, 2.1611}
	grad := make([]float64, 4)
	b.ReportMetric(float64(c.Len()), "rows")
	for b.Loop() {
		bgnbdLogLik(p, c.X, c.Tx, c.T, c.W, grad)
	}
}

func BenchmarkFitBGNBD(b *testing.B) {
	x, tx, T := benchSummary(b)
	for b.Loop() {
		if _, _, err := FitBGNBD(context.Background(), x, tx, T, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitParetoNBD(b *testing.B) {
	x, tx, T := benchSummary(b)
	for b.Loop() {
		if _, _, err := FitParetoNBD(context.Background(), x, tx, T, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPAlive reports the cost of P(alive) for one million customers.
func BenchmarkPAlive(b *testing.B) {
	x, tx, T, _ := synthetic(1_000_000)
	for _, w := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[w], func(b *testing.B) {
			for b.Loop() {
				if _, err := PAlives(context.Background(), published, x, tx, T, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
