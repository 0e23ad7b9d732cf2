package orderstat

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSelectNth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 5, 12, 13, 64, 1000, 50_000} {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(rng.IntN(n/3 + 1))
		}
		s := slices.Clone(v)
		slices.Sort(s)
		for _, k := range []int{0, n / 2, n - 1, rng.IntN(n)} {
			w := slices.Clone(v)
			SelectNth(w, k)
			if w[k] != s[k] {
				t.Fatalf("n=%d k=%d: %v, want %v", n, k, w[k], s[k])
			}
			for i := range w {
				if i < k && w[i] > w[k] || i > k && w[i] < w[k] {
					t.Fatalf("n=%d k=%d: v[%d]=%v on the wrong side of %v", n, k, i, w[i], w[k])
				}
			}
		}
	}
}
