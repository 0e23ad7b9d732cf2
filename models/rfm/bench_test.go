package rfm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkQuintileBreaks: the breaks of 1M customers' monetary values
// (continuous) and day counts (heavily tied), by selection (QuintileBreaks,
// what the pipeline runs) and by the sort it replaced (sortedBreaks on a
// copy), so that one run gives their ratio.
func BenchmarkQuintileBreaks(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(1, 1))
	money, days := make([]float64, n), make([]int32, n)
	for i := range n {
		money[i] = math.Round(rng.ExpFloat64()*50_000) / 100
		days[i] = int32(rng.IntN(730))
	}
	b.Run("monetary/select", func(b *testing.B) {
		for range b.N {
			QuintileBreaks(money, nil, true, 1)
		}
	})
	b.Run("monetary/select-2-workers", func(b *testing.B) {
		for range b.N {
			QuintileBreaks(money, nil, true, 2)
		}
	})
	b.Run("monetary/sort", func(b *testing.B) {
		for range b.N {
			var br [5]float64
			sortedBreaks(slices.Clone(money), &br)
		}
	})
	b.Run("recency/count", func(b *testing.B) {
		for range b.N {
			QuintileBreaks(days, nil, false, 1)
		}
	})
	// What counting replaced (selection), and what that replaced (a sort).
	for _, alt := range []struct {
		name   string
		breaks func([]float64, *[5]float64)
	}{{"select", func(vs []float64, br *[5]float64) { selectedBreaks(vs, br, 1) }}, {"sort", sortedBreaks}} {
		b.Run("recency/"+alt.name, func(b *testing.B) {
			vs := make([]float64, n)
			for range b.N {
				for i, d := range days {
					vs[i] = -float64(d)
				}
				var br [5]float64
				alt.breaks(vs, &br)
			}
		})
	}
}
