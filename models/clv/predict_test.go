package clv

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mathext"

	"github.com/strata-oss/strata/internal/racetest"
)

// Published BG/NBD estimates (Fader, Hardie and Lee 2005).
var published = BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}

func TestPublishedBGNBDPredictions(t *testing.T) {
	cases := []struct {
		name      string
		got, want float64
		tol       float64 // relative
	}{
		// Published to 3 decimals.
		{"E[Y(39) | 2, 30.43, 38.86]", published.ExpectedPurchases(39, 2, 30.43, 38.86), 1.226, 5e-4},
		{"P(X(39)=0)", published.ProbNPurchases(0, 39), 0.5737864, 1e-7},
		{"P(X(2)=10)", published.ProbNPurchases(10, 2), 1.07869e-07, 1e-5},
	}
	for _, c := range cases {
		if e := relErr(c.got, c.want); e > c.tol {
			t.Errorf("%s = %.8g, want %.8g (rel err %.2g)", c.name, c.got, c.want, e)
		}
	}
}

// lifetimesExpected is the textbook form of the conditional expectations,
// with the hypergeometric function in its original argument, as lifetimes
// evaluates it. The package uses a transformed form; agreement checks the
// transformation.
func lifetimesExpected(m PurchaseModel, t, x, tx, T float64) float64 {
	switch m := m.(type) {
	case BGNBD:
		r, al, a, b := m.R, m.Alpha, m.A, m.B
		h := mathext.Hypergeo(r+x, b+x, a+b+x-1, t/(al+T+t))
		num := (a + b + x - 1) / (a - 1) * (1 - h*math.Pow((al+T)/(al+T+t), r+x))
		den := 1.0
		if x > 0 {
			den += a / (b + x - 1) * math.Pow((al+T)/(al+tx), r+x)
		}
		return num / den
	case MBGNBD:
		r, al, a, b := m.R, m.Alpha, m.A, m.B
		h := mathext.Hypergeo(r+x, b+x+1, a+b+x, t/(al+T+t))
		num := (a + b + x) / (a - 1) * (1 - h*math.Pow((al+T)/(al+t+T), r+x))
		return num / (1 + a/(b+x)*math.Pow((al+T)/(al+tx), r+x))
	}
	panic("unsupported")
}

func TestExpectedPurchasesMatchesTextbookForm(t *testing.T) {
	models := []PurchaseModel{
		published, BGNBD{R: 0.8, Alpha: 3, A: 1.7, B: 4}, BGNBD{R: 2, Alpha: 10, A: 0.4, B: 0.9},
		MBGNBD{R: 0.5248, Alpha: 6.183, A: 0.8914, B: 1.614}, MBGNBD{R: 1.5, Alpha: 2, A: 2.5, B: 3},
	}
	for _, m := range models {
		for _, c := range [][4]float64{{39, 2, 30.43, 38.86}, {10, 0, 0, 20}, {52, 7, 10, 35}, {5, 25, 30, 31}, {100, 1, 0.5, 12}} {
			got := m.ExpectedPurchases(c[0], c[1], c[2], c[3])
			want := lifetimesExpected(m, c[0], c[1], c[2], c[3])
			if e := relErr(got, want); e > 1e-9 {
				t.Errorf("%s %v at %v: got %.12g, want %.12g", m.Name(), m.Params(), c, got, want)
			}
		}
	}
}

// P(X(t)=n) must be a distribution whose mean is E[X(t)]; this ties
// ProbNPurchases and UnconditionalExpectedPurchases, derived separately,
// to each other.
func TestProbNPurchasesIsDistribution(t *testing.T) {
	racetest.Skip(t, "a check of the formulas, with no goroutines of its own")
	models := []PurchaseModel{
		published,
		MBGNBD{R: 0.5248, Alpha: 6.183, A: 0.8914, B: 1.614},
		ParetoNBD{R: 0.5533, Alpha: 10.5778, S: 0.6062, Beta: 11.6669},
		ParetoNBD{R: 0.8, Alpha: 5, S: 1.3, Beta: 20},
		NBD{R: 1.5, Alpha: 12},
	}
	for _, m := range models {
		for _, tt := range []float64{2, 39, 78} {
			var sum, mean float64
			for n := range 400 {
				p := m.ProbNPurchases(n, tt)
				if !(p >= 0) {
					t.Fatalf("%s: P(X(%v)=%d) = %v", m.Name(), tt, n, p)
				}
				sum += p
				mean += float64(n) * p
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("%s %v: Σ P(X(%v)=n) = %.12g, want 1", m.Name(), m.Params(), tt, sum)
			}
			if want := m.UnconditionalExpectedPurchases(tt); relErr(mean, want) > 1e-7 {
				t.Errorf("%s %v: Σ n P(X(%v)=n) = %.10g, E[X(t)] = %.10g", m.Name(), m.Params(), tt, mean, want)
			}
		}
	}
}

// The Pareto/NBD closed form against its definition: alive through t, or
// dead at τ ∈ (0, t] with a Pareto(s, β) lifetime, purchases NBD(r, α) in
// the time alive.
func TestParetoProbNPurchasesQuadrature(t *testing.T) {
	for _, m := range []ParetoNBD{{0.5533, 10.5778, 0.6062, 11.6669}, {2, 3, 0.5, 30}} {
		nb := func(n int, tau float64) float64 {
			fn := float64(n)
			return math.Exp(lgam(m.R+fn) - lgam(m.R) - lgam(fn+1) + m.R*math.Log(m.Alpha/(m.Alpha+tau)) + xlogy(fn, tau/(m.Alpha+tau)))
		}
		for _, n := range []int{0, 1, 3, 10} {
			tt := 39.0
			want := math.Pow(m.Beta/(m.Beta+tt), m.S)*nb(n, tt) + quad.Fixed(func(tau float64) float64 {
				return m.S * math.Pow(m.Beta, m.S) * math.Pow(m.Beta+tau, -m.S-1) * nb(n, tau)
			}, 0, tt, 200, nil, 0)
			if got := m.ProbNPurchases(n, tt); relErr(got, want) > 1e-8 {
				t.Errorf("%v: P(X(39)=%d) = %.12g, quadrature %.12g", m, n, got, want)
			}
		}
	}
}

// The Pareto/NBD log-likelihood in its stable form against the textbook
// expression with gonum's Hypergeo, for moderate x where the latter is safe.
func TestParetoLogLikMatchesHypergeoForm(t *testing.T) {
	textbook := func(m ParetoNBD, x, tx, T float64) float64 {
		r, al, s, be := m.R, m.Alpha, m.S, m.Beta
		rsx := r + s + x
		var a0 float64
		if al >= be {
			a0 = mathext.Hypergeo(rsx, s+1, rsx+1, (al-be)/(al+tx))/math.Pow(al+tx, rsx) -
				mathext.Hypergeo(rsx, s+1, rsx+1, (al-be)/(al+T))/math.Pow(al+T, rsx)
		} else {
			a0 = mathext.Hypergeo(rsx, r+x, rsx+1, (be-al)/(be+tx))/math.Pow(be+tx, rsx) -
				mathext.Hypergeo(rsx, r+x, rsx+1, (be-al)/(be+T))/math.Pow(be+T, rsx)
		}
		l := 1/(math.Pow(al+T, r+x)*math.Pow(be+T, s)) + s/rsx*a0
		return lgam(r+x) - lgam(r) + r*math.Log(al) + s*math.Log(be) + math.Log(l)
	}
	for _, m := range []ParetoNBD{{0.5533, 10.5778, 0.6062, 11.6669}, {0.5533, 11.6669, 0.6062, 10.5778}, {1.2, 2, 3, 40}, {0.3, 80, 0.9, 1.5}} {
		for _, c := range [][3]float64{{0, 0, 38}, {1, 5, 38}, {4, 20, 30}, {12, 29.9, 30}, {30, 1, 60}} {
			got := m.LogLik([]float64{c[0]}, []float64{c[1]}, []float64{c[2]}, nil)
			want := textbook(m, c[0], c[1], c[2])
			if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("%v at %v: LL %.12g, textbook %.12g", m, c, got, want)
			}
			// P(alive) is the alive term's share of the likelihood.
			x, T := c[0], c[2]
			alive := lgam(m.R+x) - lgam(m.R) + m.R*math.Log(m.Alpha) + m.S*math.Log(m.Beta) - (m.R+x)*math.Log(m.Alpha+T) - m.S*math.Log(m.Beta+T)
			if pa, want := m.PAlive(c[0], c[1], c[2]), math.Exp(alive-want); math.Abs(pa-want) > 1e-9 {
				t.Errorf("%v at %v: P(alive) %.12g, textbook %.12g", m, c, pa, want)
			}
		}
	}
}

// Large frequencies must not overflow: powers like (α+T)^{r+x} exceed
// float64 long before x = 500.
func TestNoOverflowAtLargeFrequency(t *testing.T) {
	models := []PurchaseModel{
		published, MBGNBD{R: 0.5248, Alpha: 6.183, A: 0.8914, B: 1.614},
		ParetoNBD{R: 0.5533, Alpha: 10.5778, S: 0.6062, Beta: 11.6669}, ParetoNBD{R: 0.5533, Alpha: 11.6669, S: 0.6062, Beta: 10.5778},
		NBD{R: 0.243, Alpha: 4.414},
	}
	for _, m := range models {
		for _, c := range [][3]float64{{500, 900, 1000}, {500, 300, 5000}, {800, 1e4, 1e4}, {300, 1e3, 1e5}} {
			x, tx, T := c[0], c[1], c[2]
			ll := m.LogLik([]float64{x}, []float64{tx}, []float64{T}, nil)
			pa := m.PAlive(x, tx, T)
			e := m.ExpectedPurchases(52, x, tx, T)
			if math.IsNaN(ll) || math.IsInf(ll, 0) || !(pa >= 0 && pa <= 1) || math.IsNaN(e) || math.IsInf(e, 0) || e < 0 {
				t.Errorf("%s at %v: LL %v, P(alive) %v, E[Y(52)] %v", m.Name(), c, ll, pa, e)
			}
		}
	}
	gg := GammaGamma{6.25, 3.74, 15.44}
	if ll := gg.LogLik([]float64{500}, []float64{35}, nil); math.IsNaN(ll) || math.IsInf(ll, 0) {
		t.Errorf("Gamma-Gamma LL at x=500: %v", ll)
	}
}

// Analytic gradients against central differences, including x in the
// hundreds.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	x := []float64{0, 1, 2, 7, 150, 500}
	tx := []float64{0, 3, 30.4, 35, 37, 300}
	T := []float64{38.9, 38, 38.9, 39, 38, 310}
	w := []float64{3, 1, 2, 1, 1, 1}
	spend := []float64{20, 11.8, 22.4, 40, 35, 60}
	type llf func(p, grad []float64) float64
	cases := []struct {
		name   string
		f      llf
		points [][]float64
	}{
		{"bgnbd", func(p, g []float64) float64 { return bgnbdLogLik(p, x, tx, T, w, g) },
			[][]float64{{0.243, 4.414, 0.793, 2.426}, {2, 0.5, 3, 0.7}, {0.05, 40, 0.2, 9}}},
		{"mbgnbd", func(p, g []float64) float64 { return mbgnbdLogLik(p, x, tx, T, w, g) },
			[][]float64{{0.5248, 6.183, 0.8914, 1.614}, {2, 0.5, 3, 0.7}, {0.05, 40, 0.2, 9}}},
		{"gammagamma", func(p, g []float64) float64 { return ggLogLik(p, x[1:], spend[1:], w[1:], g) },
			[][]float64{{6.25, 3.74, 15.44}, {0.5, 1.2, 200}, {40, 10, 3}}},
	}
	for _, c := range cases {
		for _, p := range c.points {
			g := make([]float64, len(p))
			c.f(p, g)
			q := slices.Clone(p)
			for i := range p {
				h := 1e-6 * p[i]
				q[i] = p[i] + h
				fp := c.f(q, nil)
				q[i] = p[i] - h
				fm := c.f(q, nil)
				q[i] = p[i]
				num := (fp - fm) / (2 * h)
				if math.Abs(g[i]-num) > 1e-6*math.Max(1, math.Abs(num)) {
					t.Errorf("%s at %v: d/dp%d analytic %.10g, numeric %.10g", c.name, p, i, g[i], num)
				}
			}
		}
	}
}

func TestCompressedLogLikEqualsRaw(t *testing.T) {
	x, tx, T, m := present(sampleSummary(t))
	c, err := Compress(x, tx, T)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() >= len(x) {
		t.Fatalf("compression kept %d of %d rows", c.Len(), len(x))
	}
	var wsum float64
	for _, w := range c.W {
		wsum += w
	}
	if wsum != float64(len(x)) {
		t.Fatalf("weights sum to %v, want %d", wsum, len(x))
	}
	for _, ref := range sampleRefs {
		pm := modelFrom(ref.model, ref.params)
		raw := pm.LogLik(x, tx, T, nil)
		comp := pm.LogLik(c.X, c.Tx, c.T, c.W)
		if math.Abs(raw-comp) > 1e-9*math.Abs(raw) {
			t.Errorf("%s: raw LL %.12g, compressed %.12g", ref.model, raw, comp)
		}
	}
	var gx, gm []float64
	for i := range x {
		if x[i] > 0 {
			gx, gm = append(gx, x[i]), append(gm, m[i])
		}
	}
	cx, cm, w := compressSpend(gx, gm)
	if len(cx) >= len(gx) {
		t.Errorf("Gamma-Gamma compression kept %d of %d rows", len(cx), len(gx))
	}
	gg := GammaGamma{6.25, 3.74, 15.44}
	if raw, comp := gg.LogLik(gx, gm, nil), gg.LogLik(cx, cm, w); math.Abs(raw-comp) > 1e-9*math.Abs(raw) {
		t.Errorf("Gamma-Gamma: raw LL %.12g, compressed %.12g", raw, comp)
	}
}

// synthetic returns n plausible customer summaries.
func synthetic(n int) (x, tx, T, m []float64) {
	rng := rand.New(rand.NewPCG(3, 4))
	x, tx, T, m = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		T[i] = math.Round(7*(27+12*rng.Float64())) / 7
		if rng.Float64() < 0.6 {
			continue
		}
		x[i] = float64(1 + rng.IntN(20))
		tx[i] = T[i] * rng.Float64()
		m[i] = 5 + 60*rng.Float64()
	}
	return
}

func TestSlicePredictionsIndependentOfWorkers(t *testing.T) {
	x, tx, T, m := synthetic(50000)
	ctx := context.Background()
	gg := GammaGamma{6.25, 3.74, 15.44}
	for _, pm := range []PurchaseModel{published, MBGNBD{R: 0.5248, Alpha: 6.183, A: 0.8914, B: 1.614}, ParetoNBD{0.5533, 10.5778, 0.6062, 11.6669}, ParetoNBD{0.5533, 11.6669, 0.6062, 10.5778}, NBD{1.5, 12}} {
		var ref [][]float64
		for _, workers := range []int{1, 2, 7} {
			pa, err := PAlives(ctx, pm, x, tx, T, workers)
			if err != nil {
				t.Fatal(err)
			}
			ep, err := ExpectedPurchasesAll(ctx, pm, 39, x, tx, T, workers)
			if err != nil {
				t.Fatal(err)
			}
			clv, err := CLVs(ctx, pm, gg, x, tx, T, m, 12, 4.345, 0.3, 0.01, workers)
			if err != nil {
				t.Fatal(err)
			}
			got := [][]float64{pa, ep, clv}
			if ref == nil {
				ref = got
				// The slice functions share terms between customers;
				// they must still agree with the scalar ones to the bit.
				for i := range x {
					if want := pm.PAlive(x[i], tx[i], T[i]); pa[i] != want {
						t.Fatalf("%s row %d: P(alive) slice %v, scalar %v", pm.Name(), i, pa[i], want)
					}
					if want := pm.ExpectedPurchases(39, x[i], tx[i], T[i]); ep[i] != want {
						t.Fatalf("%s row %d: E[Y] slice %v, scalar %v", pm.Name(), i, ep[i], want)
					}
					if want := CLV(pm, gg, x[i], tx[i], T[i], m[i], 12, 4.345, 0.3, 0.01); clv[i] != want {
						t.Fatalf("%s row %d: CLV slice %v, scalar %v", pm.Name(), i, clv[i], want)
					}
				}
				continue
			}
			for k := range got {
				if !slices.Equal(got[k], ref[k]) {
					t.Errorf("%s: output %d differs with %d workers", pm.Name(), k, workers)
				}
			}
		}
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := PAlives(ctx2, published, x, tx, T, 2); err == nil {
		t.Error("cancelled context: no error")
	}
}

// CLV against an independent computation: the textbook conditional
// expectation, evaluated period by period with its own discounting.
func TestCLVIndependent(t *testing.T) {
	gg := GammaGamma{6.25, 3.74, 15.44}
	for _, pm := range []PurchaseModel{published, MBGNBD{R: 0.5248, Alpha: 6.183, A: 0.8914, B: 1.614}} {
		for _, c := range [][4]float64{{2, 30.43, 38.86, 22.35}, {0, 0, 38.86, 0}, {10, 36, 38, 80}} {
			x, tx, T, spend := c[0], c[1], c[2], c[3]
			const periods, L, margin, d = 12, 4.345, 0.25, 0.01
			var want float64
			for k := 1; k <= periods; k++ {
				inc := lifetimesExpected(pm, float64(k)*L, x, tx, T) - lifetimesExpected(pm, float64(k-1)*L+1e-300, x, tx, T)
				want += margin * gg.ExpectedSpend(x, spend) * inc / math.Pow(1+d, float64(k))
			}
			got := CLV(pm, gg, x, tx, T, spend, periods, L, margin, d)
			if relErr(got, want) > 1e-9 {
				t.Errorf("%s %v: CLV %.10g, independent %.10g", pm.Name(), c, got, want)
			}
			// Undiscounted, the increments telescope.
			und := CLV(pm, gg, x, tx, T, spend, periods, L, margin, 0)
			if tel := margin * gg.ExpectedSpend(x, spend) * pm.ExpectedPurchases(periods*L, x, tx, T); relErr(und, tel) > 1e-12 {
				t.Errorf("%s %v: undiscounted CLV %.10g, telescoped %.10g", pm.Name(), c, und, tel)
			}
		}
	}
}

func TestExpectedSpend(t *testing.T) {
	gg := GammaGamma{P: 6, Q: 4, Gamma: 15}
	// Population mean pγ/(q-1) = 30 for x = 0; a credibility-weighted mean
	// otherwise: (q-1)/(px+q-1)·30 + px/(px+q-1)·m.
	if got := gg.ExpectedSpend(0, 99); got != 30 {
		t.Errorf("x=0: %v, want 30", got)
	}
	if got, want := gg.ExpectedSpend(2, 50), (3.0/15)*30+(12.0/15)*50; math.Abs(got-want) > 1e-12 {
		t.Errorf("x=2: %v, want %v", got, want)
	}
	if got := (GammaGamma{P: 1, Q: 0.5, Gamma: 1}).ExpectedSpend(0, 0); !math.IsNaN(got) {
		t.Errorf("q<1, x=0: %v, want NaN", got)
	}
}
