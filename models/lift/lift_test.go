package lift

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// Newcombe (1998), Table II, method 10 (score interval without continuity
// correction, the hybrid): the eight worked examples, to the four decimals
// the paper prints.
func TestNewcombeTableII(t *testing.T) {
	for _, c := range []struct {
		name           string
		t, c           Counts
		wantLo, wantHi float64
	}{
		{"a", Counts{56, 70}, Counts{48, 80}, 0.0524, 0.3339},
		{"b", Counts{9, 10}, Counts{3, 10}, 0.1705, 0.8090},
		{"c", Counts{6, 7}, Counts{2, 7}, 0.0582, 0.8062},
		{"d", Counts{5, 56}, Counts{0, 29}, -0.0381, 0.1926},
		{"e", Counts{0, 10}, Counts{0, 20}, -0.1611, 0.2775},
		{"f", Counts{0, 10}, Counts{0, 10}, -0.2775, 0.2775},
		{"g", Counts{10, 10}, Counts{0, 20}, 0.6791, 1.0000},
		{"h", Counts{10, 10}, Counts{0, 10}, 0.6075, 1.0000},
	} {
		got := Newcombe(c.t, c.c)
		if math.Abs(got.Lo-c.wantLo) > 0.5e-4 || math.Abs(got.Hi-c.wantHi) > 0.5e-4 {
			t.Errorf("example %s %v vs %v: got [%.6f, %.6f], Newcombe prints [%.4f, %.4f]",
				c.name, c.t, c.c, got.Lo, got.Hi, c.wantLo, c.wantHi)
		}
	}
}

// scipy.stats.contingency.relative_risk's documented example:
// relative_risk(27, 122, 44, 487) = 2.4495156482861398, 95 % interval
// (1.5836990926700116, 3.7886786315466354), Katz's log method.
func TestKatzScipyExample(t *testing.T) {
	rel, ci := Katz(Counts{27, 122}, Counts{44, 487})
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"ratio", rel + 1, 2.4495156482861398},
		{"lo", ci.Lo + 1, 1.5836990926700116},
		{"hi", ci.Hi + 1, 3.7886786315466354},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %.16g, scipy %.16g", c.name, c.got, c.want)
		}
	}
	if _, ci := Katz(Counts{3, 100}, Counts{0, 100}); !math.IsNaN(ci.Lo) {
		t.Errorf("no control converter: interval %v, want NaN", ci)
	}
}

// The pooled z-test equals Pearson's χ² test of the 2×2 table without
// continuity correction; the χ² is restated here cell by cell.
func TestPooledZIsPearsonChiSquare(t *testing.T) {
	for _, c := range [][2]Counts{
		{{56, 70}, {48, 80}}, {{27, 122}, {44, 487}}, {{5, 56}, {1, 29}}, {{130, 2000}, {11, 220}},
	} {
		r, err := CompareConversion(c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		obs := [4]float64{float64(c[0].Converted), float64(c[0].N - c[0].Converted),
			float64(c[1].Converted), float64(c[1].N - c[1].Converted)}
		n := obs[0] + obs[1] + obs[2] + obs[3]
		rows := [2]float64{obs[0] + obs[1], obs[2] + obs[3]}
		cols := [2]float64{obs[0] + obs[2], obs[1] + obs[3]}
		var chi2 float64
		for i := range 2 {
			for j := range 2 {
				e := rows[i] * cols[j] / n
				chi2 += (obs[2*i+j] - e) * (obs[2*i+j] - e) / e
			}
		}
		want := distuv.ChiSquared{K: 1}.Survival(chi2)
		if math.Abs(r.P-want) > 1e-12*math.Max(1, want) {
			t.Errorf("%v: p = %.15g, Pearson χ² gives %.15g", c, r.P, want)
		}
	}
	if r, _ := CompareConversion(Counts{0, 10}, Counts{0, 20}); r.P != 1 {
		t.Errorf("nobody converted: p = %v, want 1", r.P)
	}
}

func TestCompareConversionRejects(t *testing.T) {
	for _, c := range [][2]Counts{{{1, 0}, {1, 2}}, {{3, 2}, {1, 2}}, {{1, 2}, {-1, 2}}} {
		if _, err := CompareConversion(c[0], c[1]); err == nil {
			t.Errorf("%v: no error", c)
		}
	}
}

// R: t.test(extra ~ group, data = sleep) (Welch Two Sample t-test):
// t = -1.8608, df = 17.776, p-value = 0.07939, 95 percent confidence
// interval -3.3654832 0.2054832, means 0.75 and 2.33.
func TestWelchSleep(t *testing.T) {
	g1 := []float64{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0}
	g2 := []float64{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4}
	r, err := Welch(Summarize(g1), Summarize(g2))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name           string
		got, want, tol float64
	}{
		{"diff", r.Diff, 0.75 - 2.33, 1e-12},
		{"lo", r.CI.Lo, -3.3654832, 1e-7},
		{"hi", r.CI.Hi, 0.2054832, 1e-7},
		{"df", r.DF, 17.776, 1e-3},
		{"p", r.P, 0.07939, 1e-5},
	} {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.8f, R gives %v", c.name, c.got, c.want)
		}
	}
	z := make([]float64, 5)
	r, err = Welch(Summarize(z), Summarize(z))
	if err != nil || r.P != 1 || r.CI != (Interval{0, 0}) {
		t.Errorf("no spread: %+v %v, want the point 0 and p 1", r, err)
	}
	if _, err := Welch(Summarize([]float64{1}), Summarize(z)); err == nil {
		t.Error("one treated customer: no error")
	}
}

// group simulates n customers converting with probability rate and, when
// they do, spending a log-normal amount (median 40, a long tail) times
// spendFactor: the shape of campaign revenue.
func group(rng *rand.Rand, n int, rate, spendFactor float64) (Counts, []float64) {
	c := Counts{N: n}
	rev := make([]float64, n)
	for i := range rev {
		if rng.Float64() < rate {
			c.Converted++
			rev[i] = spendFactor * math.Exp(math.Log(40)+0.9*rng.NormFloat64())
		}
	}
	return c, rev
}

// A/A: treated and control drawn alike (4 % conversion, log-normal
// spend). Over 40 seeds each 95 % interval must cover zero at least 36
// times. Conversion is checked at a 10 % holdout of 2,000 customers, the
// shape of a campaign; revenue per customer with equal groups of 1,000,
// because at the 10 % holdout Welch's interval undercovers on skewed
// revenue (35 of 40 here; the package doc gives the measured coverage).
func TestAACoverage(t *testing.T) {
	const seeds = 40
	var convCover, relCover, revCover int
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 29))
		tc, _ := group(rng, 1800, 0.04, 1)
		cc, _ := group(rng, 200, 0.04, 1)
		conv, err := CompareConversion(tc, cc)
		if err != nil {
			t.Fatal(err)
		}
		_, tr := group(rng, 1000, 0.04, 1)
		_, cr := group(rng, 1000, 0.04, 1)
		rev, err := Welch(Summarize(tr), Summarize(cr))
		if err != nil {
			t.Fatal(err)
		}
		if conv.DiffCI.Covers(0) {
			convCover++
		}
		if conv.RelativeCI.Covers(0) {
			relCover++
		}
		if rev.CI.Covers(0) {
			revCover++
		}
	}
	t.Logf("A/A over %d seeds: zero covered by the conversion difference interval %d times, the relative one %d, revenue per customer %d",
		seeds, convCover, relCover, revCover)
	for _, c := range []struct {
		name string
		n    int
	}{{"conversion difference", convCover}, {"relative lift", relCover}, {"revenue per customer", revCover}} {
		if c.n < 36 {
			t.Errorf("%s: zero covered in %d of %d seeds, want at least 36", c.name, c.n, seeds)
		}
	}
}

// A planted effect: 6 % treated against 4 % control conversion, spend
// 10 % higher when treated, 5,000 customers a group. The intervals must
// cover the planted values; the test prints how far the estimates missed.
func TestPlantedEffect(t *testing.T) {
	const (
		rt, rc = 0.06, 0.04
		factor = 1.1
	)
	rng := rand.New(rand.NewPCG(7, 29))
	tc, tr := group(rng, 5000, rt, factor)
	cc, cr := group(rng, 5000, rc, 1)
	conv, err := CompareConversion(tc, cc)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := Welch(Summarize(tr), Summarize(cr))
	if err != nil {
		t.Fatal(err)
	}
	// Mean of the log-normal spend: exp(μ + σ²/2).
	spend := math.Exp(math.Log(40) + 0.9*0.9/2)
	for _, c := range []struct {
		name    string
		planted float64
		est     float64
		ci      Interval
	}{
		{"conversion difference", rt - rc, conv.Diff, conv.DiffCI},
		{"relative lift", rt/rc - 1, conv.Relative, conv.RelativeCI},
		{"revenue per customer", rt*spend*factor - rc*spend, rev.Diff, rev.CI},
	} {
		t.Logf("%s: planted %.5f, estimated %.5f (missed by %+.5f), 95%% interval [%.5f, %.5f]",
			c.name, c.planted, c.est, c.est-c.planted, c.ci.Lo, c.ci.Hi)
		if !c.ci.Covers(c.planted) {
			t.Errorf("%s: interval [%.5f, %.5f] misses the planted %.5f", c.name, c.ci.Lo, c.ci.Hi, c.planted)
		}
	}
	if conv.P >= 0.05 {
		t.Errorf("planted 2-point lift on 5,000 a group: p = %.3g, expected it to be detected", conv.P)
	}
}
