package drift

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func seq(lo, hi int) []float64 {
	var x []float64
	for v := lo; v <= hi; v++ {
		x = append(x, float64(v))
	}
	return x
}

// Hand-computed PSI. The baseline 1..10 has deciles q_k = k, so its bins
// (−∞,1], (1,2], ..., (8,9], (9,∞) each hold 0.1 (and the NaN bin 0).
//
//   - current 1,1,1,2,3,3,4,4,...,9,9,10,10 (20 values): shares 0.15,
//     0.05, then 0.1 each. PSI = 0.05·ln 1.5 + (−0.05)·ln 0.5
//     = 0.05·ln 3 = 0.0549306.
//   - current 1,1,1,2,...,8: 0.3 in the first bin, 0.1 in the next seven,
//     the last two empty (ε = 1e-4). PSI = 0.2·ln 3 + 2·(ε − 0.1)·ln(ε/0.1)
//     = 0.2197225 + 1.3801695 = 1.5998920.
//   - current 1..9 and one NaN: the last bin empty, the NaN bin 0.1 against
//     ε: PSI = 2·(0.1 − ε)·ln(0.1/ε) = 1.3801695.
func TestPSIHandComputed(t *testing.T) {
	base := seq(1, 10)
	for _, c := range []struct {
		name string
		cur  []float64
		want float64
	}{
		{"one decile moved", []float64{1, 1, 1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10}, 0.05 * math.Log(3)},
		{"two deciles emptied", []float64{1, 1, 1, 2, 3, 4, 5, 6, 7, 8}, 0.2*math.Log(3) + 2*(Epsilon-0.1)*math.Log(Epsilon/0.1)},
		{"gone missing", append(seq(1, 9), math.NaN()), 2 * (0.1 - Epsilon) * math.Log(0.1/Epsilon)},
		{"the same", seq(1, 10), 0},
	} {
		got, err := PSI(base, c.cur)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: PSI %.7f, by hand %.7f", c.name, got, c.want)
		}
	}
	if got, _ := PSI(base, []float64{1, 1, 1, 2, 3, 4, 5, 6, 7, 8}); math.Abs(got-1.5998920) > 1e-7 {
		t.Errorf("PSI %.7f, the comment's figure 1.5998920", got)
	}
	// Ties: a baseline of 0,0,...,0,5 (nine zeros) has one distinct cut,
	// 0, so bins (−∞,0], (0,∞) with 0.9 and 0.1.
	if c := deciles(append(make([]float64, 9), 5)); len(c) != 1 || c[0] != 0 {
		t.Errorf("cuts of nine zeros and a 5: %v, want [0]", c)
	}
	if _, err := PSI(nil, base); err == nil {
		t.Error("empty baseline: no error")
	}
}

// A feature shifted by one standard deviation breaches 0.2; the same
// distribution drawn again stays near 0, and neither depends on luck: 20
// seeds each.
func TestPSIShiftedAndUnchanged(t *testing.T) {
	draw := func(rng *rand.Rand, n int, shift float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = math.Exp(rng.NormFloat64() + shift) // log-normal, like spend
		}
		return x
	}
	var maxSame, minShifted float64 = 0, math.Inf(1)
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		base := draw(rng, 5000, 0)
		same, err := PSI(base, draw(rng, 5000, 0))
		if err != nil {
			t.Fatal(err)
		}
		shifted, err := PSI(base, draw(rng, 5000, 1))
		if err != nil {
			t.Fatal(err)
		}
		maxSame, minShifted = max(maxSame, same), min(minShifted, shifted)
	}
	t.Logf("20 seeds, 5,000 customers: unchanged PSI at most %.4f, shifted by 1 sd at least %.4f", maxSame, minShifted)
	if maxSame > 0.02 {
		t.Errorf("unchanged feature: PSI up to %.4f, want about 0 (≤ 0.02)", maxSame)
	}
	if minShifted <= 0.2 {
		t.Errorf("shifted feature: PSI down to %.4f, want above 0.2", minShifted)
	}
}

func TestFeaturesAndCheck(t *testing.T) {
	base := map[string][]float64{"recency_days": seq(1, 10), "frequency": seq(1, 10)}
	cur := map[string][]float64{"recency_days": {1, 1, 1, 2, 3, 4, 5, 6, 7, 8}, "frequency": seq(1, 10)}
	psi, err := Features(context.Background(), base, cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(psi) != 2 || psi[0].Feature != "frequency" || psi[0].PSI != 0 || psi[1].Feature != "recency_days" {
		t.Fatalf("features %+v, want frequency (0) then recency_days", psi)
	}
	shares, err := SegmentShares(map[string]int{"Champions": 20, "At Risk": 30, "New": 50},
		map[string]int{"Champions": 10, "At Risk": 30, "Lost": 60})
	if err != nil {
		t.Fatal(err)
	}
	want := []ShareChange{{"At Risk", 0.3, 0.3, 0}, {"Champions", 0.2, 0.1, -0.1}, {"Lost", 0, 0.6, 0.6}, {"New", 0.5, 0, -0.5}}
	if len(shares) != len(want) {
		t.Fatalf("shares %+v, want %+v", shares, want)
	}
	for i := range want {
		if shares[i].Segment != want[i].Segment || math.Abs(shares[i].Change-want[i].Change) > 1e-15 {
			t.Errorf("share %d: %+v, want %+v", i, shares[i], want[i])
		}
	}
	got := Check(psi, shares, Thresholds{MaxPSI: 0.2, MaxSegmentShift: 0.1})
	var s []string
	for _, b := range got {
		s = append(s, b.String())
	}
	// Champions moved exactly 0.1: not above the threshold.
	wantS := []string{
		"feature recency_days: PSI 1.600 above 0.2",
		"segment Lost: share changed by +60.0 points, more than 10",
		"segment New: share changed by -50.0 points, more than 10",
	}
	if strings.Join(s, "\n") != strings.Join(wantS, "\n") {
		t.Errorf("breaches:\n%s\nwant:\n%s", strings.Join(s, "\n"), strings.Join(wantS, "\n"))
	}
	if b := Check(psi, shares, Thresholds{}); b != nil {
		t.Errorf("no thresholds: %v, want none", b)
	}
	if _, err := Features(context.Background(), base, map[string][]float64{"frequency": nil, "x": nil}); err == nil {
		t.Error("features that differ: no error")
	}
	if _, err := SegmentShares(map[string]int{}, map[string]int{"a": 1}); err == nil {
		t.Error("empty run: no error")
	}
}

// TestBinsAddUp: counting a sample in parts against the baseline's bins
// and adding the counts gives the PSI of the whole sample, exactly: what
// a sharded run relies on.
func TestBinsAddUp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := make([]float64, 997)
	for i := range base {
		base[i] = math.Floor(rng.NormFloat64() * 20)
		if i%50 == 0 {
			base[i] = math.NaN()
		}
	}
	for _, c := range []struct {
		name  string
		shift float64
		parts int
	}{
		{"unchanged, 1 part", 0, 1},
		{"unchanged, 3 parts", 0, 3},
		{"shifted, 2 parts", 15, 2},
		{"shifted, 7 parts", 15, 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			cur := make([]float64, 1501)
			for i := range cur {
				cur[i] = math.Floor(rng.NormFloat64()*20 + c.shift)
				if i%50 == 0 { // missing as often as in the baseline
					cur[i] = math.NaN()
				}
			}
			want, err := PSI(base, cur)
			if err != nil {
				t.Fatal(err)
			}
			b := NewBins(base)
			sum := make([]int64, len(b.Counts))
			for p := range c.parts {
				lo, hi := p*len(cur)/c.parts, (p+1)*len(cur)/c.parts
				for i, n := range b.CountsOf(cur[lo:hi]) {
					sum[i] += n
				}
			}
			got, err := PSICounts(b.Counts, sum)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("PSI of the summed parts %v, of the whole sample %v", got, want)
			}
			if c.shift > 0 && got <= 0.25 || c.shift == 0 && got > 0.1 {
				t.Errorf("PSI %v for a shift of %v", got, c.shift)
			}
		})
	}
}

func TestPSICountsErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		base, cur []int64
	}{
		{"bins differ", []int64{1, 2, 0}, []int64{1, 2}},
		{"empty current", []int64{1, 2}, []int64{0, 0}},
		{"negative", []int64{1, 2}, []int64{-1, 2}},
	} {
		if _, err := PSICounts(c.base, c.cur); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
