package clv

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// boundsShop is a shop shaped like strata demo's CLV input: buyers of an
// MBG/NBD near the demo's fit, a weekly model, customers acquired over
// three years with whole-day summaries (so that, as in the demo, about
// three in four customers have a summary (x, t_x, T) of their own and one
// in four an (x, T) pair of their own), Gamma-Gamma spend, and the fits'
// uncertainty as the pipeline builds it.
type boundsShop struct {
	x, tx, T, spend []float64
	pu, su          ParamUncertainty
	gg              GammaGamma
	horizon         float64 // 12 months in weeks
	periodLen       float64 // a month in weeks
	monthly         float64 // the monthly discount rate of 10 % a year
}

func newBoundsShop(tb testing.TB, n int) *boundsShop {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(2026, 12))
	s := simulateShop(rng, n, MBGNBD{R: 1.3, Alpha: 3.7, A: 0.53, B: 2.6}, 0, 156, 0)
	spendRate := distuv.Gamma{Alpha: 3.5, Beta: 150, Src: rng}
	sh := &boundsShop{x: s.x, tx: s.tx, T: s.T, spend: make([]float64, n),
		periodLen: 30.4375 / 7, monthly: math.Pow(1.1, 1.0/12) - 1}
	sh.horizon = 12 * sh.periodLen
	for i := range n {
		// Whole days, as SummarizeCounts makes them.
		sh.T[i] = math.Round(sh.T[i]*7) / 7
		sh.tx[i] = min(math.Round(sh.tx[i]*7)/7, sh.T[i])
		if sh.x[i] > 0 {
			nu := spendRate.Rand()
			sh.spend[i] = distuv.Gamma{Alpha: 4 * sh.x[i], Beta: nu * sh.x[i], Src: rng}.Rand()
		}
	}
	m, _, err := FitMBGNBD(ctx, sh.x, sh.tx, sh.T, FitOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if sh.pu, err = PurchaseUncertainty(m, sh.x, sh.tx, sh.T, 0); err != nil {
		tb.Fatal(err)
	}
	if sh.gg, _, err = FitGammaGamma(ctx, sh.x, sh.spend, FitOptions{}); err != nil {
		tb.Fatal(err)
	}
	if sh.su, err = SpendUncertainty(sh.gg, sh.x, sh.spend, 0); err != nil {
		tb.Fatal(err)
	}
	return sh
}

func (sh *boundsShop) purchase(ctx context.Context, opt IntervalOptions) (Intervals, error) {
	return PurchaseIntervals(ctx, sh.pu, sh.x, sh.tx, sh.T, sh.horizon, opt)
}

func (sh *boundsShop) clv(ctx context.Context, opt IntervalOptions) (lo, hi []float64, err error) {
	return CLVIntervals(ctx, sh.pu, &sh.su, sh.gg, sh.x, sh.tx, sh.T, sh.spend, 12, sh.periodLen, 0.3, sh.monthly, opt)
}

// BenchmarkPurchaseIntervals and BenchmarkCLVIntervals time the bounds of
// a demo-sized shop (88,884 buyers, the demo's 50 draws, 12 months):
//
//	flock /tmp/strata-bench.lock go test -run '^$' -bench 'Intervals$' -cpu 2 -count 6 ./models/clv/
func BenchmarkPurchaseIntervals(b *testing.B) {
	sh := newBoundsShop(b, 88884)
	opt := IntervalOptions{Draws: 50, Seed: 1}
	for b.Loop() {
		if _, err := sh.purchase(context.Background(), opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCLVIntervals(b *testing.B) {
	sh := newBoundsShop(b, 88884)
	opt := IntervalOptions{Draws: 50, Seed: 1}
	for b.Loop() {
		if _, _, err := sh.clv(context.Background(), opt); err != nil {
			b.Fatal(err)
		}
	}
}

// diagUncertainty is a ParamUncertainty around truth with standard error
// se on every log-parameter, for a model of truth's type.
func diagUncertainty(truth PurchaseModel, se float64) ParamUncertainty {
	var names []string
	var vec []float64
	var build func(t []float64) any
	switch m := truth.(type) {
	case BGNBD:
		names, vec = []string{"r", "alpha", "a", "b"}, m.vec()
		build = func(t []float64) any { return BGNBD{R: t[0], Alpha: t[1], A: t[2], B: t[3]} }
	case MBGNBD:
		names, vec = []string{"r", "alpha", "a", "b"}, m.vec()
		build = func(t []float64) any { return MBGNBD{R: t[0], Alpha: t[1], A: t[2], B: t[3]} }
	case ParetoNBD:
		names, vec = []string{"r", "alpha", "s", "beta"}, m.vec()
		build = func(t []float64) any { return ParetoNBD{R: t[0], Alpha: t[1], S: t[2], Beta: t[3]} }
	case NBD:
		names, vec = []string{"r", "alpha"}, m.vec()
		build = func(t []float64) any { return NBD{R: t[0], Alpha: t[1]} }
	}
	n := len(vec)
	u := ParamUncertainty{Names: names, Cov: make([]float64, n*n), model: build}
	for i, v := range vec {
		u.LogTheta = append(u.LogTheta, math.Log(v))
		u.Cov[i*n+i] = se * se
	}
	return u
}

func sameBits(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

// The grouped bounds (per (x, T) pair what depends on it alone, per
// summary P(alive) and the walks) are those of the per-customer
// evaluation they replaced, refPurchaseIntervals and refCLVIntervals, for
// every model and any number of workers: to the bit, but for the CLV
// bounds of BG/NBD and MBG/NBD, whose discounted horizon is summed by
// bgHorizonSeries and agrees to 1e-11 relative (and is the same bytes for
// any number of workers).
func TestBoundsMatchReference(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, truth := range []PurchaseModel{
		MBGNBD{R: 1.3, Alpha: 3.7, A: 0.53, B: 2.6},
		BGNBD{R: 0.6, Alpha: 8, A: 0.9, B: 2.5},
		ParetoNBD{R: 1.2, Alpha: 6, S: 1.5, Beta: 40},
		NBD{R: 0.8, Alpha: 5},
	} {
		t.Run(truth.Name(), func(t *testing.T) {
			n := 3000
			if _, ok := truth.(ParetoNBD); ok {
				n = 600 // its count walk is costly
			}
			s := simulateShop(rng, n, truth, 0, 100, 0)
			spend := make([]float64, n)
			for i := range n {
				s.T[i] = math.Round(s.T[i]*7) / 7
				s.tx[i] = min(math.Round(s.tx[i]*7)/7, s.T[i])
				if s.x[i] > 0 {
					spend[i] = 20 + 30*rng.Float64()
				}
			}
			pu := diagUncertainty(truth, 0.1)
			su := ParamUncertainty{Names: []string{"p", "q", "gamma"}, LogTheta: []float64{math.Log(6), math.Log(4), math.Log(15)},
				Cov: []float64{0.01, 0, 0, 0, 0.01, 0, 0, 0, 0.01}, model: func(t []float64) any { return GammaGamma{P: t[0], Q: t[1], Gamma: t[2]} }}
			gg := GammaGamma{P: 6, Q: 4, Gamma: 15}
			opt, err := IntervalOptions{Draws: 20, Seed: 3}.resolve()
			if err != nil {
				t.Fatal(err)
			}
			ms, ggs, err := clvDraws(pu, &su, gg, opt)
			if err != nil {
				t.Fatal(err)
			}
			want, err := refPurchaseIntervals(ctx, ms, s.x, s.tx, s.T, 20, opt)
			if err != nil {
				t.Fatal(err)
			}
			wlo, whi, err := refCLVIntervals(ctx, ms, ggs, s.x, s.tx, s.T, spend, 6, 4.35, 0.3, 0.008, opt)
			if err != nil {
				t.Fatal(err)
			}
			_, series := truth.(BGNBD)
			if _, ok := truth.(MBGNBD); ok {
				series = true
			}
			var first []float64
			var worst float64
			for _, w := range []int{1, 2, 3} {
				o := opt
				o.Workers = w
				got, err := PurchaseIntervals(ctx, pu, s.x, s.tx, s.T, 20, o)
				if err != nil {
					t.Fatal(err)
				}
				lo, hi, err := CLVIntervals(ctx, pu, &su, gg, s.x, s.tx, s.T, spend, 6, 4.35, 0.3, 0.008, o)
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					for _, c := range []struct {
						name      string
						got, want float64
					}{
						{"p_alive_low", got.PAliveLow[i], want.PAliveLow[i]}, {"p_alive_high", got.PAliveHigh[i], want.PAliveHigh[i]},
						{"expected_low", got.ExpectedLow[i], want.ExpectedLow[i]}, {"expected_high", got.ExpectedHigh[i], want.ExpectedHigh[i]},
						{"count_low", got.CountLow[i], want.CountLow[i]}, {"count_high", got.CountHigh[i], want.CountHigh[i]},
						{"clv_low", lo[i], wlo[i]}, {"clv_high", hi[i], whi[i]},
					} {
						if series && c.name[:3] == "clv" {
							rel := math.Abs(c.got-c.want) / math.Abs(c.want)
							worst = max(worst, rel)
							if !(rel <= 1e-11) {
								t.Fatalf("workers %d, customer %d (x %v, t_x %v, T %v): %s %v, per-customer evaluation %v (relative difference %.3g)",
									w, i, s.x[i], s.tx[i], s.T[i], c.name, c.got, c.want, rel)
							}
							continue
						}
						if !sameBits(c.got, c.want) {
							t.Fatalf("workers %d, customer %d (x %v, t_x %v, T %v): %s %v, per-customer evaluation %v",
								w, i, s.x[i], s.tx[i], s.T[i], c.name, c.got, c.want)
						}
					}
				}
				// Whatever the workers, the same bytes.
				cur := append(slices.Clone(lo), hi...)
				if first == nil {
					first = cur
				} else if !slices.EqualFunc(first, cur, sameBits) {
					t.Fatalf("workers %d: clv bounds differ from one worker's", w)
				}
			}
			t.Logf("clv bounds: largest relative difference from the per-customer evaluation %.3g", worst)
		})
	}
}

// bgHorizonSeries sums the discounted horizon of BG/NBD and MBG/NBD as
// discountedHorizon (a hypergeometric function per period) does, to
// 1e-10 relative (1e-12 but for a within a few per cent of 1), over parameters from the fits' usual range to far
// outside it, weekly and daily periods, new and old customers, and one-time
// and heavy buyers.
func TestSeriesDiscountedHorizon(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	logU := func(lo, hi float64) float64 {
		return math.Exp(math.Log(lo) + (math.Log(hi)-math.Log(lo))*rng.Float64())
	}
	var worst float64
	for trial := range 4000 {
		r, al, a, b := logU(0.05, 10), logU(0.3, 300), logU(0.05, 20), logU(0.1, 50)
		var f factored = BGNBD{R: r, Alpha: al, A: a, B: b}
		if trial%2 == 1 {
			f = MBGNBD{R: r, Alpha: al, A: a, B: b}
		}
		L := 30.4375 / 7
		if trial%3 == 0 {
			L = 30.4375
		}
		periods := []int{1, 3, 12, 36}[trial%4]
		hs := newHorizonSeries(1)
		for range 8 {
			x := math.Round(logU(1, 300)) - 1
			T := math.Round(logU(1, 1100)) - 1
			if L < 30 {
				T /= 7
			}
			want := discountedHorizon(f, x, T, periods, L, 0.008)
			got := hs.discounted(0, f, x, T, periods, L, 0.008)
			rel := math.Abs(got-want) / math.Abs(want)
			if want == 0 {
				rel = math.Abs(got)
			}
			if !(rel <= 1e-10) {
				t.Errorf("%s %+v, x %v, T %v, %d periods of %v: series %v, hypergeometric %v (relative difference %.3g)",
					f.Name(), f, x, T, periods, L, got, want, rel)
			}
			worst = max(worst, rel)
		}
	}
	t.Logf("largest relative difference %.3g", worst)
}

// The no-drop-out bound's pmf rows, kept per (x, T) pair up to nbdRows
// counts and stepped in place beyond, give the quantile of the recursion
// run afresh, near 0 and far beyond nbdRows.
func TestNBDBoundRows(t *testing.T) {
	u := diagUncertainty(BGNBD{R: 0.6, Alpha: 8, A: 0.9, B: 2.5}, 0.2)
	ms, err := u.purchaseDraws(IntervalOptions{Draws: 30, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	pa := make([]float64, len(ms))
	for d := range pa {
		pa[d] = 0.5 + 0.01*float64(d)
	}
	nb := newNBDBound(ms)
	s := nb.scratch()
	for _, c := range []struct{ x, T, t float64 }{{0, 50, 20}, {3, 40, 39}, {4000, 30, 60}} {
		nb.start(s, c.x, c.T, c.t)
		for _, q := range []float64{0.05, 0.95, 0.5, 0.999} {
			got, want := nb.quantile(s, pa, q), refNBDMixtureQuantile(ms, pa, c.x, c.T, c.t, q)
			if got != want {
				t.Errorf("x %v, T %v, t %v, q %v: %d, afresh %d", c.x, c.T, c.t, q, got, want)
			}
			if c.x == 4000 && q == 0.999 && got <= nbdRows {
				t.Errorf("x 4000: quantile %d, want beyond %d rows", got, nbdRows)
			}
		}
	}
}
