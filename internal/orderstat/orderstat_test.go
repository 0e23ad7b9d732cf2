package orderstat

import (
	"cmp"
	"math"
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

// TestSelectNthNaN: with NaNs (the slow path), v[k] is still what a sort
// puts there.
func TestSelectNthNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	v := make([]float64, 5000)
	for i := range v {
		v[i] = float64(rng.IntN(100))
		if rng.IntN(20) == 0 {
			v[i] = math.NaN()
		}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	for _, k := range []int{0, 100, 2500, 4999} {
		w := slices.Clone(v)
		SelectNth(w, k)
		if w[k] != s[k] && !(math.IsNaN(w[k]) && math.IsNaN(s[k])) {
			t.Fatalf("k=%d: %v, want %v", k, w[k], s[k])
		}
	}
}

// TestMin: Min is slices.MinFunc by cmp.Compare, bit for bit: the first of
// equal zeros, a NaN when there is one.
func TestMin(t *testing.T) {
	negZero := math.Copysign(0, -1)
	for _, v := range [][]float64{{3}, {2, 1, 3}, {0, negZero}, {negZero, 0}, {1, math.NaN(), -1}, {math.Inf(1), 5}, {math.Inf(-1), math.NaN()}} {
		got, want := Min(v), slices.MinFunc(v, cmp.Compare[float64])
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%v: %v, want %v", v, got, want)
		}
	}
}

// TestSelectRanks: every rank holds the sort's value, bit for bit, and
// the partition property holds around it; with a NaN or a -0, v is left
// as it was.
func TestSelectRanks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 5, 12, 13, 64, 1000, 50_000} {
		for _, distinct := range []int{1, 3, n/3 + 1, n} {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(rng.IntN(distinct)) * 0.5
			}
			s := slices.Clone(v)
			slices.Sort(s)
			ks := []int{0, n / 10, n / 10, n/10 + 1, n / 2, n - 1}
			for i := range ks {
				ks[i] = min(ks[i], n-1)
			}
			slices.Sort(ks)
			w := slices.Clone(v)
			if !SelectRanks(w, ks) {
				t.Fatalf("n=%d: refused", n)
			}
			for _, k := range ks {
				if math.Float64bits(w[k]) != math.Float64bits(s[k]) {
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
	for _, odd := range []float64{math.NaN(), math.Copysign(0, -1)} {
		v := []float64{3, 1, odd, 2}
		w := slices.Clone(v)
		if SelectRanks(w, []int{1}) || !slices.EqualFunc(v, w, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }) {
			t.Errorf("%v: selected, or reordered to %v", v, w)
		}
	}
}
