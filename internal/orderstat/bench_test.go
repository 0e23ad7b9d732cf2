package orderstat

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkSelectRanks: the ten ranks of the report's percentiles of 1M
// values, random and with a third of them equal (P(alive) of 1).
func BenchmarkSelectRanks(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 1_000_000
	ks := []int{}
	for _, p := range []float64{0.10, 0.25, 0.50, 0.75, 0.90} {
		k := int(p * float64(n-1))
		ks = append(ks, k, k+1)
	}
	for name, gen := range map[string]func() float64{
		"random":   func() float64 { return rng.Float64() },
		"thirdone": func() float64 { return min(1, rng.Float64()*1.5) },
	} {
		v := make([]float64, n)
		for i := range v {
			v[i] = gen()
		}
		w := make([]float64, n)
		b.Run(name, func(b *testing.B) {
			for range b.N {
				copy(w, v)
				SelectRanks(w, ks)
			}
		})
		b.Run(name+"/nested", func(b *testing.B) {
			for range b.N {
				copy(w, v)
				from := 0
				for _, k := range slices.Compact(slices.Clone(ks)) {
					SelectNth(w[from:], k-from)
					from = k
				}
			}
		})
	}
}
