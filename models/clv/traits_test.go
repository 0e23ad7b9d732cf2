package clv

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mathext"
)

// A one-time buyer's P(alive) falls with the time since the purchase under
// MBG/NBD and Pareto/NBD; under BG/NBD it is 1 at any age (the documented
// property of that model), and the NBD has no drop-out at all.
func TestOneTimeBuyerPAliveFalls(t *testing.T) {
	for _, m := range []PurchaseModel{
		MBGNBD{R: 0.5, Alpha: 6, A: 1.7, B: 3.1},
		ParetoNBD{R: 0.55, Alpha: 10.6, S: 0.61, Beta: 11.7},
	} {
		prev := 1.0
		for _, T := range []float64{0.5, 1, 4, 13, 26, 52, 104, 260} {
			p := m.PAlive(0, 0, T)
			if !(p < prev) || !(p > 0) {
				t.Errorf("%s: P(alive | x=0, T=%v) = %.6g, not below %.6g", m.Name(), T, p, prev)
			}
			prev = p
		}
		if p := m.PAlive(0, 0, 260); p > 0.6 {
			t.Errorf("%s: a one-time buyer of 5 years ago has P(alive) %.3g", m.Name(), p)
		}
	}
	bg := BGNBD{R: 0.24, Alpha: 4.4, A: 0.79, B: 2.4}
	for _, T := range []float64{1, 52, 520} {
		if p := bg.PAlive(0, 0, T); p != 1 {
			t.Errorf("BG/NBD P(alive | x=0, T=%v) = %v, its known value is 1", T, p)
		}
	}
}

func TestTimeToNextPurchase(t *testing.T) {
	// NBD: the waiting time given the data is exponential with rate
	// λ ~ Gamma(r+x, α+T): P(wait ≤ t) = 1 - ((α+T)/(α+T+t))^{r+x}, so the
	// median is (α+T)(2^{1/(r+x)} - 1).
	m := NBD{R: 0.7, Alpha: 5}
	for _, c := range [][2]float64{{0, 10}, {3, 20}, {12, 40}} {
		x, T := c[0], c[1]
		want := (m.Alpha + T) * (math.Pow(2, 1/(m.R+x)) - 1)
		if got := TimeToNextPurchase(m, 0.5, x, T/2, T); math.Abs(got-want) > 1e-8*want {
			t.Errorf("NBD median at %v = %.10g, want %.10g", c, got, want)
		}
	}
	// A customer who has probably left has no median: P(ever again) < 1/2.
	mb := MBGNBD{R: 0.5, Alpha: 6, A: 1.7, B: 3.1}
	if got := TimeToNextPurchase(mb, 0.5, 1, 1, 200); !math.IsInf(got, 1) {
		t.Errorf("a long-lapsed customer's median wait = %v, want +Inf (P(alive) %.3g)", got, mb.PAlive(1, 1, 200))
	}
	// Monotone: a longer lapse never shortens the median wait, and the
	// quantile solves ProbPurchaseWithin = q.
	pn := ParetoNBD{R: 0.55, Alpha: 10.6, S: 0.61, Beta: 11.7}
	prev := 0.0
	for _, tx := range []float64{38, 30, 20, 10} {
		got := TimeToNextPurchase(pn, 0.3, 6, tx, 39)
		if p := ProbPurchaseWithin(pn, got, 6, tx, 39); !math.IsInf(got, 1) && math.Abs(p-0.3) > 1e-6 {
			t.Errorf("P(buy within %v) = %v, want 0.3", got, p)
		}
		if got < prev {
			t.Errorf("t_x=%v: 30%% wait %.4g below the more recent buyer's %.4g", tx, got, prev)
		}
		prev = got
	}
}

func TestCustomerTraitsAndCLVIntervals(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 5))
	s := simulateShop(rng, 1500, MBGNBD{R: 0.6, Alpha: 8, A: 1.2, B: 2.5}, 26, 78, 39)
	m, _, err := FitMBGNBD(ctx, s.x, s.tx, s.T, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spend := make([]float64, len(s.x))
	for i := range spend {
		if s.x[i] > 0 {
			spend[i] = 20 + 30*rng.Float64()
		}
	}
	gg, _, err := FitGammaGamma(ctx, s.x, spend, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	month := 30.4375 / 7
	tr, err := CustomerTraits(ctx, m, gg, s.x, s.tx, s.T, spend, TraitOptions{PeriodLength: month, Margin: 0.3, DiscountRate: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.x {
		if tr.ChurnRisk[i] != 1-tr.PAlive[i] {
			t.Fatalf("churn risk %v, P(alive) %v", tr.ChurnRisk[i], tr.PAlive[i])
		}
		if !(tr.CLV[0][i] <= tr.CLV[1][i] && tr.CLV[1][i] <= tr.CLV[2][i]) {
			t.Fatalf("customer %d: CLV over 3, 6, 12 months %v %v %v not increasing", i, tr.CLV[0][i], tr.CLV[1][i], tr.CLV[2][i])
		}
		if want := CLV(m, gg, s.x[i], s.tx[i], s.T[i], spend[i], 12, month, 0.3, 0.01); math.Abs(tr.CLV[2][i]-want) > 1e-12*math.Abs(want) {
			t.Fatalf("12-month CLV %v, CLV %v", tr.CLV[2][i], want)
		}
		if w := TimeToNextPurchase(m, 0.5, s.x[i], s.tx[i], s.T[i]); w != tr.NextPurchase[i] && !(math.IsInf(w, 1) && math.IsInf(tr.NextPurchase[i], 1)) {
			t.Fatalf("next purchase %v, want %v", tr.NextPurchase[i], w)
		}
	}
	pu, err := PurchaseUncertainty(m, s.x, s.tx, s.T, 0)
	if err != nil {
		t.Fatal(err)
	}
	su, err := SpendUncertainty(gg, s.x, spend, 0)
	if err != nil {
		t.Fatal(err)
	}
	k := 200
	lo, hi, err := CLVIntervals(ctx, pu, &su, gg, s.x[:k], s.tx[:k], s.T[:k], spend[:k], 12, month, 0.3, 0.01, IntervalOptions{Draws: 100})
	if err != nil {
		t.Fatal(err)
	}
	inside := 0
	for i := range k {
		if !(lo[i] <= hi[i]) {
			t.Fatalf("customer %d: CLV interval [%v, %v]", i, lo[i], hi[i])
		}
		if lo[i] <= tr.CLV[2][i] && tr.CLV[2][i] <= hi[i] {
			inside++
		}
	}
	// The point estimate is a smooth function of the MLE, so it lies in
	// the central 90 % of the draws for nearly every customer.
	if inside < k*9/10 {
		t.Errorf("point CLV inside its interval for %d of %d customers", inside, k)
	}
	// Same seed, same bounds, whatever the workers.
	lo2, _, err := CLVIntervals(ctx, pu, &su, gg, s.x[:k], s.tx[:k], s.T[:k], spend[:k], 12, month, 0.3, 0.01, IntervalOptions{Draws: 100, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range lo {
		if lo[i] != lo2[i] {
			t.Fatalf("bounds depend on workers: %v vs %v", lo[i], lo2[i])
		}
	}
}

// TestPurchaseWithinIsProbPurchaseWithin: the hoisted form TimeToNextPurchase
// bisects on gives ProbPurchaseWithin's bits, for every model, at times from
// none to far beyond the horizon.
func TestPurchaseWithinIsProbPurchaseWithin(t *testing.T) {
	models := []PurchaseModel{
		BGNBD{R: 0.24, Alpha: 4.41, A: 0.79, B: 2.43},
		MBGNBD{R: 0.53, Alpha: 6.18, A: 0.89, B: 1.61},
		ParetoNBD{R: 0.55, Alpha: 10.58, S: 0.61, Beta: 11.67},
		NBD{R: 0.39, Alpha: 5.21},
	}
	for _, m := range models {
		for _, c := range []struct{ x, tx, T float64 }{{0, 0, 30}, {1, 5, 39}, {6, 30.5, 39}, {40, 38, 39}} {
			f := newWithinCurve(m, c.x, c.tx, c.T)
			for _, tt := range []float64{-1, 0, 1e-9, 0.5, 4, 52, 1e3, 1e7} {
				if got, want := f.at(tt), ProbPurchaseWithin(m, tt, c.x, c.tx, c.T); math.Float64bits(got) != math.Float64bits(want) {
					t.Errorf("%T %+v t=%v: %v, ProbPurchaseWithin %v", m, c, tt, got, want)
				}
			}
		}
		if a, ok := alphaOf(m); !ok || a != m.Params()["alpha"] {
			t.Errorf("%T: alphaOf %v %v, Params %v", m, a, ok, m.Params()["alpha"])
		}
	}
}

// bisectNextPurchase is TimeToNextPurchase as it was before the
// closed-form bracket, the reference: a bisection on log t that evaluates
// ProbPurchaseWithin at every step.
func bisectNextPurchase(pm PurchaseModel, q, x, tx, T float64) float64 {
	scale := T + 1
	if a, ok := pm.Params()["alpha"]; ok {
		scale = a + T
	}
	f := func(t float64) float64 { return ProbPurchaseWithin(pm, t, x, tx, T) }
	hi := nextPurchaseMax * scale
	if f(hi) < q {
		return math.Inf(1)
	}
	lo := 1e-9 * scale
	if f(lo) >= q {
		return lo
	}
	for range 200 {
		mid := math.Sqrt(lo * hi)
		if f(mid) >= q {
			hi = mid
		} else {
			lo = mid
		}
		if hi-lo <= 1e-10*hi {
			break
		}
	}
	return hi
}

// TestNextPurchaseClosedFormBits: TimeToNextPurchase, which evaluates
// ProbPurchaseWithin only inside the closed-form bracket, returns the bits
// of the plain bisection (bisectNextPurchase) for every model, on a grid of summaries from new one-time buyers
// to long-lapsed frequent ones and quantiles from 1% to 99%, with the
// parameters lifetimes publishes for CDNOW and a fit's b → ∞ NBD. Where
// the closed form applies and the customer has a finite quantile, the
// bracket must hold the reference, be at most 1e-8 wide relative to it
// (the closed form is that close to the bisection) and be confirmed by
// ProbPurchaseWithin at its ends: the fast path is the one tested.
func TestNextPurchaseClosedFormBits(t *testing.T) {
	models := []PurchaseModel{
		BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		MBGNBD{R: 0.525, Alpha: 6.183, A: 0.891, B: 1.614},
		ParetoNBD{R: 0.553, Alpha: 10.578, S: 0.606, Beta: 11.669},
		NBD{R: 1.1686265024457596, Alpha: 6.173470699448185},
		NBD{R: 0.05, Alpha: 0.3},
		BGNBD{R: 3, Alpha: 80, A: 5, B: 0.2},
	}
	xs := []float64{0, 1, 2, 5, 17, 80, 600}
	Ts := []float64{0.1, 1, 6.5, 39, 52.14, 260, 2000}
	qs := []float64{0.01, 0.25, 0.5, 0.9, 0.99}
	for _, m := range models {
		fast, eligible := 0, 0
		for _, x := range xs {
			for _, T := range Ts {
				for _, frac := range []float64{0, 0.1, 0.5, 0.97, 1} {
					tx := T * frac
					if x == 0 {
						tx = 0
					}
					for _, q := range qs {
						c := newWithinCurve(m, x, tx, T)
						ref := bisectNextPurchase(m, q, x, tx, T)
						got := TimeToNextPurchase(m, q, x, tx, T)
						if math.Float64bits(got) != math.Float64bits(ref) {
							t.Errorf("%T x=%v tx=%v T=%v q=%v: %v, bisection %v", m, x, tx, T, q, got, ref)
						}
						k, s, ok := zeroCountShape(&c)
						if !ok || math.IsInf(ref, 1) {
							continue
						}
						eligible++
						lo, hi, ok := quantileBracket(c.pa, k, s, q)
						if !ok || !(lo <= ref && ref <= hi*(1+1e-10)) || hi-lo > 1e-8*ref {
							t.Errorf("%T x=%v tx=%v T=%v q=%v: bracket [%v, %v] ok=%v, bisection %v", m, x, tx, T, q, lo, hi, ok, ref)
							continue
						}
						if c.at(lo) < q && c.at(hi) >= q && newNextPurchaseSearch(&c, q).guided {
							fast++
						}
					}
				}
			}
		}
		_, isPNBD := m.(ParetoNBD)
		if isPNBD != (eligible == 0) || fast != eligible {
			t.Errorf("%T: the closed-form bracket was confirmed for %d of %d cases", m, fast, eligible)
		}
	}
}

// TestQuantileBracketIsTheInverse: the closed form inverts
// P(Y(t) ≥ 1) = pa·(1 - (s/(s+t))^k) (restated here in the plain
// power form) to a relative 1e-13 where the inverse is well conditioned,
// and has no bracket where P(alive) is at most q.
func TestQuantileBracketIsTheInverse(t *testing.T) {
	for _, c := range []struct{ pa, k, s, q float64 }{
		{1, 1.17, 7.2, 0.5}, {1, 0.05, 0.4, 0.5}, {0.8, 600, 2000, 0.3}, {0.6, 2.2, 45, 0.01}, {1, 3, 1, 0.99},
	} {
		lo, hi, ok := quantileBracket(c.pa, c.k, c.s, c.q)
		if !ok {
			t.Errorf("%+v: no bracket", c)
			continue
		}
		mid := (lo + hi) / 2
		p := c.pa * (1 - math.Pow(c.s/(c.s+mid), c.k))
		if math.Abs(p-c.q) > 1e-13 {
			t.Errorf("%+v: P at the bracket's middle %v = %.17g, want %v", c, mid, p, c.q)
		}
	}
	for _, c := range []struct{ pa, q float64 }{{0.5, 0.5}, {0.3, 0.5}, {0, 0.1}} {
		if _, _, ok := quantileBracket(c.pa, 1, 1, c.q); ok {
			t.Errorf("P(alive) %v, q %v: a bracket, want none", c.pa, c.q)
		}
	}
}

// TestCustomerTraitsBits: CustomerTraits, which shares one index and one
// P(alive) between its traits, returns the bits of the functions of one
// trait each, for every customer and model, whatever the workers: P(alive)
// of PAlives, next-purchase times of TimeToNextPurchase (the NBD's computed
// once per distinct (x, T)), CLVs over each horizon and the expected
// purchases of ExpectedPurchasesAll. Times are whole days in weeks, as in
// the pipeline, so that pairs repeat, and one customer's x is -0.
func TestCustomerTraitsBits(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	s := simulateShop(rng, 3000, NBD{R: 0.8, Alpha: 6}, 4, 104, 0)
	days := func(w float64) float64 { return math.Round(w*7) / 7 }
	spend := make([]float64, len(s.x))
	for i := range s.x {
		s.T[i], s.tx[i] = days(s.T[i]), min(days(s.tx[i]), days(s.T[i]))
		spend[i] = 5 + 50*rng.Float64()
	}
	s.x[0], s.tx[0] = math.Copysign(0, -1), 0
	month := 30.4375 / 7
	gg := GammaGamma{P: 6, Q: 4, Gamma: 15}
	same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
	for _, m := range []PurchaseModel{
		NBD{R: 0.8, Alpha: 6},
		BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		ParetoNBD{R: 0.553, Alpha: 10.578, S: 0.606, Beta: 11.669},
	} {
		for _, workers := range []int{1, 2, 3} {
			opt := TraitOptions{PeriodLength: month, Margin: 0.3, DiscountRate: 0.008, ExpectedHorizon: 12 * month, Workers: workers}
			tr, err := CustomerTraits(ctx, m, gg, s.x, s.tx, s.T, spend, opt)
			if err != nil {
				t.Fatal(err)
			}
			pa, err := PAlives(ctx, m, s.x, s.tx, s.T, 1)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := ExpectedPurchasesAll(ctx, m, 12*month, s.x, s.tx, s.T, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i := range s.x {
				want := TimeToNextPurchase(m, 0.5, s.x[i], s.tx[i], s.T[i])
				if got := tr.NextPurchase[i]; !same(got, want) {
					t.Fatalf("%T, %d workers, customer %d (%v, %v, %v): next purchase %v, want %v", m, workers, i, s.x[i], s.tx[i], s.T[i], got, want)
				}
				if !same(tr.PAlive[i], pa[i]) || !same(tr.Expected[i], exp[i]) {
					t.Fatalf("%T, %d workers, customer %d: P(alive) %v, expected %v; want %v, %v", m, workers, i, tr.PAlive[i], tr.Expected[i], pa[i], exp[i])
				}
			}
			for h, periods := range tr.Horizons {
				v, err := CLVs(ctx, m, gg, s.x, s.tx, s.T, spend, periods, month, 0.3, 0.008, 1)
				if err != nil {
					t.Fatal(err)
				}
				for i := range v {
					if !same(tr.CLV[h][i], v[i]) {
						t.Fatalf("%T, %d workers, customer %d: CLV over %d periods %v, CLVs %v", m, workers, i, periods, tr.CLV[h][i], v[i])
					}
				}
			}
		}
		tr, err := CustomerTraits(ctx, m, gg, s.x, s.tx, s.T, spend, TraitOptions{PeriodLength: month})
		if err != nil || tr.Expected != nil || len(tr.CLV) != 3 {
			t.Errorf("%T without an expected horizon: expected %d values, %d CLVs, %v; want none, 3", m, len(tr.Expected), len(tr.CLV), err)
		}
	}
}

// TestBGNBDNoPurchaseBits: BG/NBD's P(X(t) = 0), computed as (α/(α+t))^r,
// has the bits of FHL 2005 eq. 8 at n = 0 as the general branch writes it
// (restated here), from small to large parameters and times; and its
// value is (α/(α+t))^r to a relative 1e-12 (exp of r·ln loses r·ε).
func TestBGNBDNoPurchaseBits(t *testing.T) {
	general := func(m BGNBD, tt float64) float64 {
		r, al, a, b := m.R, m.Alpha, m.A, m.B
		lbab := mathext.Lbeta(a, b)
		return math.Exp(mathext.Lbeta(a, b) - lbab + lgam(r) - lgam(r) - lgam(1) + r*math.Log(al/(al+tt)) + xlogy(0, tt/(al+tt)))
	}
	for _, m := range []BGNBD{
		{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		{R: 0.243 + 17, Alpha: 4.414 + 39, A: 0.793, B: 2.426 + 17},
		{R: 1e-6, Alpha: 1e-3, A: 1e-5, B: 1e5},
		{R: 600, Alpha: 2000, A: 50, B: 2e5},
		{R: 1e250, Alpha: 1e250, A: 1e-300, B: 1e299},
	} {
		for _, tt := range []float64{0, 1e-9, 0.3, 1, 4.3, 52, 1e4, 1e9} {
			got, want := m.ProbNPurchases(0, tt), general(m, tt)
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("%+v t=%v: %v, the general branch %v", m, tt, got, want)
			}
			if p := math.Pow(m.Alpha/(m.Alpha+tt), m.R); math.Abs(got-p) > 1e-12*p {
				t.Errorf("%+v t=%v: %v, (α/(α+t))^r = %v", m, tt, got, p)
			}
		}
	}
}
