package rfm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveScore is the documented rule, computed the slow, obvious way.
func naiveScore(values []float64, scored []bool, i int, higherIsBetter bool) int8 {
	n, worse := 0, 0
	for j, v := range values {
		if scored != nil && !scored[j] {
			continue
		}
		n++
		if (higherIsBetter && v < values[i]) || (!higherIsBetter && v > values[i]) {
			worse++
		}
	}
	return int8(1 + 5*worse/n)
}

func TestQuintilesHeavyTies(t *testing.T) {
	cases := []struct {
		name   string
		values []float64
		higher bool
		want   []int8
	}{
		{"distinct", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, true, []int8{1, 1, 2, 2, 3, 3, 4, 4, 5, 5}},
		{"all tied", []float64{3, 3, 3, 3}, true, []int8{1, 1, 1, 1}},
		// 6 of 10 buy once: all share F=1; the next value has 6 worse → 1+3 = 4.
		{"most buy once", []float64{1, 1, 1, 1, 1, 1, 2, 2, 3, 9}, true, []int8{1, 1, 1, 1, 1, 1, 4, 4, 5, 5}},
		{"recency reversed", []float64{0, 10, 20, 30, 40}, false, []int8{5, 4, 3, 2, 1}},
		{"recency ties", []float64{5, 5, 100, 100, 100}, false, []int8{4, 4, 1, 1, 1}},
		{"single customer", []float64{42}, true, []int8{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := Quintiles(tc.values, nil, tc.higher)
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Fatalf("scores %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestQuintilesMatchRuleAndIgnoreOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		n := 1 + r.IntN(300)
		values := make([]float64, n)
		scored := make([]bool, n)
		for i := range values {
			// Geometric-ish frequencies: ties dominate, like real data.
			values[i] = float64(1 + int(r.ExpFloat64()*float64(1+trial%4)))
			scored[i] = r.IntN(10) > 0
		}
		scored[0] = true
		for _, higher := range []bool{true, false} {
			got, breaks := Quintiles(values, scored, higher)
			for i := range values {
				if !scored[i] {
					if got[i] != 0 {
						t.Fatalf("unscored customer %d got score %d", i, got[i])
					}
					continue
				}
				if want := naiveScore(values, scored, i, higher); got[i] != want {
					t.Fatalf("trial %d customer %d value %v: score %d, rule says %d", trial, i, values[i], got[i], want)
				}
				// Equal values share a score; better values never score lower.
				for j := range values {
					if !scored[j] {
						continue
					}
					better := values[j] > values[i]
					if !higher {
						better = values[j] < values[i]
					}
					if values[j] == values[i] && got[j] != got[i] || better && got[j] < got[i] {
						t.Fatalf("monotonicity broken: %v→%d vs %v→%d", values[i], got[i], values[j], got[j])
					}
				}
			}
			// Breaks: the first value reaching each score.
			for s := 1; s <= 5; s++ {
				b := breaks[s-1]
				if b != b {
					continue
				}
				for i := range values {
					if scored[i] && values[i] == b && got[i] != int8(s) {
						t.Fatalf("break %v of score %d scores %d", b, s, got[i])
					}
				}
			}
			// Shuffling the customers changes nothing per value.
			perm := r.Perm(n)
			pv, ps := make([]float64, n), make([]bool, n)
			for i, p := range perm {
				pv[i], ps[i] = values[p], scored[p]
			}
			pg, _ := Quintiles(pv, ps, higher)
			for i, p := range perm {
				if pg[i] != got[p] {
					t.Fatal("score depends on input order")
				}
			}
		}
	}
}

func TestDefaultGrid(t *testing.T) {
	g, err := NewGrid(DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	// The full grid, row R=5 first, F=1..5 left to right.
	want := [5][5]string{
		{New, PotentialLoyalist, PotentialLoyalist, Champions, Champions},
		{Promising, PotentialLoyalist, PotentialLoyalist, Loyal, Loyal},
		{AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal},
		{Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem},
		{Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem},
	}
	for ri, row := range want {
		r := int8(5 - ri)
		for fi, name := range row {
			if got := g.Segment(r, int8(fi+1)); got != name {
				t.Errorf("R=%d F=%d: %q, want %q", r, fi+1, got, name)
			}
		}
	}
	if got := g.Segment(0, 0); got != NoPurchases {
		t.Errorf("unscored customer in %q", got)
	}
}

func TestGridErrors(t *testing.T) {
	cases := []struct {
		name  string
		rules []Rule
	}{
		{"gap", []Rule{{"A", [2]int{1, 5}, [2]int{1, 4}}}},
		{"overlap", []Rule{{"A", [2]int{1, 5}, [2]int{1, 5}}, {"B", [2]int{1, 1}, [2]int{1, 1}}}},
		{"out of range", []Rule{{"A", [2]int{0, 5}, [2]int{1, 5}}}},
		{"reversed", []Rule{{"A", [2]int{5, 1}, [2]int{1, 5}}}},
	}
	for _, tc := range cases {
		if _, err := NewGrid(tc.rules); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestScoreByBreaksReproducesQuintiles: every member of the population
// scores by the breaks what Quintiles gave it, on heavily tied and on
// continuous values, both directions; an outsider scores like the
// nearest member not better than it.
func TestScoreByBreaksReproducesQuintiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, tc := range []struct {
		name   string
		gen    func() float64
		higher bool
	}{
		{"tied counts", func() float64 { return float64(1 + rng.IntN(4)*rng.IntN(3)) }, true},
		{"continuous", func() float64 { return rng.ExpFloat64() * 100 }, true},
		{"recency", func() float64 { return float64(rng.IntN(700)) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := make([]float64, 5000)
			for i := range v {
				v[i] = tc.gen()
			}
			scores, breaks := Quintiles(v, nil, tc.higher)
			for i, x := range v {
				if got := ScoreByBreaks(x, breaks, tc.higher); got != scores[i] {
					t.Fatalf("value %v: by breaks %d, quintile %d (breaks %v)", x, got, scores[i], breaks)
				}
			}
			// An outsider between two members scores as the worse one.
			for range 200 {
				x := tc.gen() + 0.5
				best, found := int8(1), false
				for i, y := range v {
					if (tc.higher && y <= x) || (!tc.higher && y >= x) {
						if !found || scores[i] > best {
							best, found = scores[i], true
						}
					}
				}
				if got := ScoreByBreaks(x, breaks, tc.higher); got != best {
					t.Fatalf("outsider %v: %d, nearest worse member %d", x, got, best)
				}
			}
		})
	}
}

// TestScoreAllEqualsScoreByBreaks: ScoreAll gives each customer who
// bought ScoreByBreaks' score and leaves the others as they were, for
// breaks with and without NaN gaps, values beyond, between and on the
// breaks, NaN and ±Inf values, both directions, float64 and int32.
func TestScoreAllEqualsScoreByBreaks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	nan := math.NaN()
	for _, breaks := range [][5]float64{
		{1, 2, 3, 4, 5},
		{-10, 0, 0.5, 7, 1e9},
		{nan, 2, nan, 4, 5},
		{1, nan, nan, nan, nan},
		{nan, nan, nan, nan, nan},
		{3, 3, 3, 4, 4},
	} {
		for _, higher := range []bool{true, false} {
			bs := breaks
			if !higher { // breaks fall when lower is better
				slices.Reverse(bs[:])
			}
			f := make([]float64, 3000)
			i32 := make([]int32, len(f))
			has := make([]bool, len(f))
			for i := range f {
				switch k := rng.IntN(10); {
				case k == 0:
					f[i] = bs[rng.IntN(5)] // on a break (or NaN)
				case k == 1:
					f[i] = []float64{nan, math.Inf(1), math.Inf(-1)}[rng.IntN(3)]
				default:
					f[i] = rng.NormFloat64() * 6
				}
				i32[i] = int32(rng.IntN(13) - 3)
				has[i] = rng.IntN(7) != 0
			}
			got, got32 := make([]int8, len(f)), make([]int8, len(f))
			for i := range got {
				got[i], got32[i] = -7, -7 // customers without orders keep this
			}
			ScoreAll(got, f, has, bs, higher)
			ScoreAll(got32, i32, has, bs, higher)
			for i := range f {
				want, want32 := int8(-7), int8(-7)
				if has[i] {
					want, want32 = ScoreByBreaks(f[i], bs, higher), ScoreByBreaks(float64(i32[i]), bs, higher)
				}
				if got[i] != want || got32[i] != want32 {
					t.Fatalf("breaks %v higher %v: value %v / %d: ScoreAll %d / %d, want %d / %d",
						bs, higher, f[i], i32[i], got[i], got32[i], want, want32)
				}
			}
		}
	}
}

// TestQuintileBreaksEqualQuintiles: QuintileBreaks, which selects, gives
// Quintiles' breaks, which sort, bit for bit (NaN where no one scored) on
// tied and continuous values, both directions, with and without excluded
// customers, from float64 and from int32 values.
func TestQuintileBreaksEqualQuintiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	same := func(a, b [5]float64) bool {
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
				return false
			}
		}
		return true
	}
	// Float values: continuous with some ties; one value for nearly all
	// (quintiles nobody starts in: NaN breaks); NaNs and both zeros (the
	// sorting path); zeros of one sign.
	kinds := []func(i int) float64{
		func(int) float64 { return math.Round(rng.ExpFloat64()*1000) / 10 },
		func(int) float64 { return float64(rng.IntN(50) / 49) },
		func(i int) float64 {
			switch rng.IntN(8) {
			case 0:
				return math.NaN()
			case 1:
				return math.Copysign(0, -1)
			case 2:
				return 0
			}
			return float64(rng.IntN(20))
		},
		func(int) float64 { return math.Copysign(float64(rng.IntN(3)), -1) },
	}
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 11, 5000, 100_003, 2*countChunk + 5} {
		for k, higher := range []bool{true, false, true, false} {
			kind := kinds[(k+n)%len(kinds)]
			ints := make([]int32, n)
			floats := make([]float64, n)
			scored := make([]bool, n)
			for i := range n {
				// Heavily tied, zeros included (counted); day counts
				// over two years (counted); a wide spread with the
				// extremes (selected).
				switch (k + n) % 3 {
				case 0:
					ints[i] = int32(rng.IntN(6) * rng.IntN(4))
				case 1:
					ints[i] = int32(rng.IntN(731))
				default:
					ints[i] = []int32{math.MinInt32, math.MaxInt32, -7, 0, int32(rng.Uint32())}[rng.IntN(5)]
				}
				floats[i] = kind(i)
				scored[i] = rng.IntN(5) > 0
			}
			for _, sc := range [][]bool{nil, scored} {
				_, want := Quintiles(floats, sc, higher)
				// The selection's workers change its order of work,
				// never the breaks.
				for _, w := range []int{1, 2, 3, 8} {
					if got := QuintileBreaks(floats, sc, higher, w); !same(got, want) {
						t.Fatalf("n %d higher %v workers %d, floats: breaks %v, want %v", n, higher, w, got, want)
					}
				}
				asFloat := make([]float64, n)
				for i, v := range ints {
					asFloat[i] = float64(v)
				}
				_, want = Quintiles(asFloat, sc, higher)
				if got := QuintileBreaks(ints, sc, higher, 2); !same(got, want) {
					t.Fatalf("n %d higher %v, ints: breaks %v, want %v", n, higher, got, want)
				}
			}
		}
	}
}
