package stages

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// sortedQuantiles5 is the definition quantiles5 must meet: sort, then
// interpolate between neighbouring order statistics.
func sortedQuantiles5(v []float64) [5]float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	var q [5]float64
	for i, p := range []float64{0.10, 0.25, 0.50, 0.75, 0.90} {
		h := p * float64(len(s)-1)
		lo := int(math.Floor(h))
		hi := min(lo+1, len(s)-1)
		q[i] = s[lo] + (h-float64(lo))*(s[hi]-s[lo])
	}
	return q
}

func TestQuantiles5(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := map[string]func(n int) []float64{
		"uniform": func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = rng.Float64() * 1000
			}
			return v
		},
		"all equal": func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = 1
			}
			return v
		},
		"few distinct": func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(rng.IntN(4))
			}
			return v
		},
		"ascending": func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(i)
			}
			return v
		},
		"descending": func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(n - i)
			}
			return v
		},
		// A median-of-three killer for a naive pivot: the depth limit
		// must fall back to sorting, with the same answer.
		"organ pipe": func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(min(i, n-1-i))
			}
			return v
		},
		"with NaN and infinities": func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				switch rng.IntN(10) {
				case 0:
					v[i] = math.NaN()
				case 1:
					v[i] = math.Inf(1 - 2*rng.IntN(2))
				default:
					v[i] = rng.NormFloat64()
				}
			}
			return v
		},
	}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for name, g := range gen {
		for _, n := range []int{1, 2, 3, 10, 13, 100, 1001, 100_000} {
			v := g(n)
			want := sortedQuantiles5(v)
			in := slices.Clone(v)
			got := quantiles5(in)
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("%s, n=%d: quantile %d = %v, want %v", name, n, i, got[i], want[i])
				}
			}
			slices.Sort(in)
			s := slices.Clone(v)
			slices.Sort(s)
			for i := range s {
				if !same(in[i], s[i]) {
					t.Fatalf("%s, n=%d: the values changed, not only their order", name, n)
				}
			}
		}
	}
	if quantiles5(nil) != nil {
		t.Error("no values: want no quantiles")
	}
}
