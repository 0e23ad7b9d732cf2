package clv

import (
	"context"
	"fmt"
	"math"
)

// ChurnRisk returns 1 - P(alive | x, t_x, T), the probability that the
// customer has already left. It is 0 for every customer of an NBD and for
// BG/NBD's one-time buyers (x = 0), whom that model cannot see leave; see
// the package documentation.
func ChurnRisk(pm PurchaseModel, x, tx, T float64) float64 {
	return 1 - pm.PAlive(x, tx, T)
}

// ProbPurchaseWithin returns the probability that the customer buys at
// least once in (T, T+t]:
//
//	P(Y(t) ≥ 1 | x, t_x, T) = P(alive) · (1 - P_A(X(t) = 0))
//
// with P_A the count distribution of AliveModel(pm, x, T); for models of
// other types, the Poisson approximation of ProbFuturePurchases.
func ProbPurchaseWithin(pm PurchaseModel, t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	return 1 - ProbFuturePurchases(pm, 0, t, x, tx, T)
}

// purchaseWithin returns t ↦ ProbPurchaseWithin(pm, t, x, tx, T) with
// what does not depend on t, P(alive) and the alive model, computed once:
// TimeToNextPurchase evaluates it many times a customer, and each
// ProbPurchaseWithin boxed a new alive model on the heap and computed
// P(alive) again (20M customers: gigabytes of garbage, and for Pareto/NBD a
// hypergeometric series per call). Both go through aliveMixture, so the
// values are the same bits.
func purchaseWithin(pm PurchaseModel, x, tx, T float64) func(t float64) float64 {
	return newWithinCurve(pm, x, tx, T).at
}

// withinCurve is purchaseWithin's function with its parts: am is the alive
// model (nil for a model AliveModel does not know) and pa P(alive).
type withinCurve struct {
	pm       PurchaseModel
	x, tx, T float64
	am       PurchaseModel
	pa       float64
}

func newWithinCurve(pm PurchaseModel, x, tx, T float64) withinCurve {
	c := withinCurve{pm: pm, x: x, tx: tx, T: T}
	if am, ok := AliveModel(pm, x, T); ok {
		c.am, c.pa = am, pm.PAlive(x, tx, T)
	}
	return c
}

// at is ProbPurchaseWithin(c.pm, t, c.x, c.tx, c.T).
func (c withinCurve) at(t float64) float64 {
	if c.am == nil {
		return ProbPurchaseWithin(c.pm, t, c.x, c.tx, c.T)
	}
	if t <= 0 {
		return 0
	}
	return 1 - aliveMixture(c.pa, c.am, 0, t)
}

// zeroCountShape returns (k, s) such that an alive customer of am buys
// nothing in (0, t] with probability
//
//	P_A(X(t) = 0) = (s/(s+t))^k,
//
// and ok false when P_A(X(t) = 0) has no such form. For the NBD it is the
// negative binomial at 0, with (k, s) = (r, α). For the BG/NBD it is the
// same, FHL 2005 eq. 8 at n = 0: a customer drops out only just after a
// purchase, so nobody who has not bought yet has left. AliveModel returns
// one of these two for BG/NBD, MBG/NBD and NBD models. The Pareto/NBD's
// P_A(X(t) = 0) mixes the exponential lifetime in (Fader, Hardie and
// Lee, "A Note on Deriving the Pareto/NBD Model and Related Expressions",
// 2005, eq. 18-19: Gauss hypergeometric functions of t), which has no
// closed-form inverse.
func zeroCountShape(am PurchaseModel) (k, s float64, ok bool) {
	switch m := am.(type) {
	case NBD:
		return m.R, m.Alpha, true
	case BGNBD:
		return m.R, m.Alpha, true
	}
	return 0, 0, false
}

// quantileBracket returns lo < hi around the t solving
//
//	P(Y(t) ≥ 1) = pa·(1 - (s/(s+t))^k) = q,
//
// that is t* = s·((1 - q/pa)^{-1/k} - 1), the closed-form inverse of
// ProbPurchaseWithin when P_A(X(t) = 0) = (s/(s+t))^k (zeroCountShape).
// The bracket is t*·(1 ± w) with w a generous bound on the relative
// distance between t* and the time where the floating-point
// ProbPurchaseWithin crosses q: 16 times its rounding error, about
// 8ε·(1 + pa·g·(k + |ln g| + 1)) with g = 1 - q/pa, over its slope
// t·∂P/∂t = pa·k·g·t/(s+t) at t*; at least 1e-12. ok is false when there
// is no finite positive t* (pa ≤ q: the customer probably never buys
// again).
func quantileBracket(pa, k, s, q float64) (lo, hi float64, ok bool) {
	if !(pa > q) || !(k > 0) || !(s > 0) {
		return 0, 0, false
	}
	g := 1 - q/pa
	lg := math.Log1p(-q / pa)
	t := s * math.Expm1(-lg/k)
	u := t / (s + t)
	const eps = 0x1p-52
	errF := 8 * eps * (1 + pa*g*(k-lg+1))
	w := max(1e-12, 16*errF/(pa*k*g*u))
	lo, hi = t*(1-w), t*(1+w)
	if !(lo > 0) || math.IsInf(hi, 0) || !(w < 0.5) {
		return 0, 0, false
	}
	return lo, hi, true
}

// alphaOf is the model's α (its time scale) without building Params' map.
func alphaOf(pm PurchaseModel) (float64, bool) {
	switch m := pm.(type) {
	case BGNBD:
		return m.Alpha, true
	case MBGNBD:
		return m.Alpha, true
	case ParetoNBD:
		return m.Alpha, true
	case NBD:
		return m.Alpha, true
	}
	a, ok := pm.Params()["alpha"]
	return a, ok
}

// nextPurchaseMax is the horizon, in multiples of α+T, beyond which a
// purchase is treated as never coming.
const nextPurchaseMax = 1e6

// TimeToNextPurchase returns the q-quantile of the predictive time from T
// to the customer's next purchase, in model time units: the t solving
// ProbPurchaseWithin(pm, t, ...) = q. With q = 0.5 it is the median: by
// then the odds are even that the customer has ordered again. It is +Inf
// when the probability of ever buying again, P(alive) times the
// probability that an alive customer buys before leaving, is at most q
// (numerically: not reached within 10^6·(α+T)) — the honest answer for a
// customer who has probably gone.
//
// Why a quantile and not a mean: the waiting time of an alive customer is
// exponential with rate λ ~ Gamma(r+x, α+T) given the data, whose mean
// E[1/λ] = (α+T)/(r+x-1) is infinite whenever r+x ≤ 1 — the one-time
// buyers of most shops, r being typically below 1 — and whose tail is
// dominated by slow buyers. The mean over "never" (a customer who has
// left) does not exist either. A quantile exists, is in the unit of time,
// and combines P(alive) and the rate honestly: a customer likely to have
// left gets a long or infinite time, not the time of an alive one.
func TimeToNextPurchase(pm PurchaseModel, q, x, tx, T float64) float64 {
	if !(q > 0 && q < 1) {
		return math.NaN()
	}
	c := newWithinCurve(pm, x, tx, T)
	return bisectQuantile(nextPurchaseScale(pm, T), nextPurchaseTest(c, q))
}

// nextPurchaseScale is α+T, the time scale of the customer's posterior
// purchase rate (T+1 for a model without α).
func nextPurchaseScale(pm PurchaseModel, T float64) float64 {
	if a, ok := alphaOf(pm); ok {
		return a + T
	}
	return T + 1
}

// nextPurchaseTest returns t ↦ c.at(t) ≥ q. Where the closed-form
// inverse applies (zeroCountShape) it evaluates c.at only inside
// quantileBracket's [lo, hi], once the bracket is confirmed by c.at(lo) < q
// ≤ c.at(hi), and answers t ≥ hi outside it: c.at rises with t, so that is
// its answer there too, and the bisection takes the same steps and returns
// the same bits as with c.at everywhere, in two to four evaluations a
// customer instead of about forty.
func nextPurchaseTest(c withinCurve, q float64) func(t float64) bool {
	atLeast := func(t float64) bool { return c.at(t) >= q }
	if c.am == nil {
		return atLeast
	}
	k, s, ok := zeroCountShape(c.am)
	if !ok {
		return atLeast
	}
	lo, hi, ok := quantileBracket(c.pa, k, s, q)
	if !ok || atLeast(lo) || !atLeast(hi) {
		return atLeast
	}
	return func(t float64) bool {
		if t <= lo || t >= hi {
			return t >= hi
		}
		return atLeast(t)
	}
}

// bisectQuantile returns the least time, to a relative 1e-10, at which
// atLeast (a test of P(purchase within t) ≥ q, rising with t) holds:
// bisection on log t from 10^-9·scale to nextPurchaseMax·scale, +Inf when
// it does not hold at the top.
func bisectQuantile(scale float64, atLeast func(t float64) bool) float64 {
	hi := nextPurchaseMax * scale
	if !atLeast(hi) {
		return math.Inf(1)
	}
	lo := 1e-9 * scale
	if atLeast(lo) {
		return lo
	}
	for range 200 {
		mid := math.Sqrt(lo * hi)
		if atLeast(mid) {
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

// CLVByHorizon returns the CLV (see CLV) accumulated over each number of
// periods in horizons, e.g. {3, 6, 12} months with periodLength the length
// of a month in model units: the value of the customer over the next
// quarter, half-year and year, each discounted as CLV discounts.
func CLVByHorizon(pm PurchaseModel, gg GammaGamma, x, tx, T, meanSpend float64, horizons []int, periodLength, margin, discountRate float64) []float64 {
	out := make([]float64, len(horizons))
	for i, h := range horizons {
		out[i] = CLV(pm, gg, x, tx, T, meanSpend, h, periodLength, margin, discountRate)
	}
	return out
}

// TraitOptions sets the horizons of CustomerTraits.
type TraitOptions struct {
	// Horizons are the numbers of periods of the CLVs; nil means
	// {3, 6, 12} (months when PeriodLength is a month).
	Horizons []int
	// PeriodLength is a period in model time units (e.g. 30.4375/7 for
	// months in a weekly model); required.
	PeriodLength float64
	// Margin and DiscountRate (per period) are as for CLV.
	Margin, DiscountRate float64
	// NextPurchaseQuantile is the q of TimeToNextPurchase; 0 means 0.5.
	NextPurchaseQuantile float64
	// ExpectedHorizon, when positive, asks for Traits.Expected: the
	// expected purchases over that time (model units).
	ExpectedHorizon float64
	Workers              int
}

// Traits are per-customer business traits derived from a fitted model.
type Traits struct {
	// PAlive and ChurnRisk = 1 - PAlive.
	PAlive, ChurnRisk []float64
	// NextPurchase is TimeToNextPurchase at the options' quantile, in
	// model time units (+Inf: probably never); times Summarize's unitDays
	// it is the expected days to the next order.
	NextPurchase []float64
	// Horizons echoes the options; CLV[h][i] is customer i's CLV over
	// Horizons[h] periods.
	Horizons []int
	CLV      [][]float64
	// Expected is ExpectedPurchasesAll over the options' ExpectedHorizon
	// (nil without one): the scoring columns share the traits' index.
	Expected []float64
}

// CustomerTraits computes Traits for every customer.
func CustomerTraits(ctx context.Context, pm PurchaseModel, gg GammaGamma, x, tx, T, meanSpend []float64, opt TraitOptions) (Traits, error) {
	if err := checkLens("traits", len(x), tx, T, meanSpend); err != nil {
		return Traits{}, err
	}
	if !(opt.PeriodLength > 0) || math.IsInf(opt.PeriodLength, 0) {
		return Traits{}, fmt.Errorf("traits: period length %v, want positive", opt.PeriodLength)
	}
	q := opt.NextPurchaseQuantile
	if q == 0 {
		q = 0.5
	}
	if !(q > 0 && q < 1) {
		return Traits{}, fmt.Errorf("traits: next-purchase quantile %v, want in (0, 1)", q)
	}
	tr := Traits{Horizons: opt.Horizons}
	if tr.Horizons == nil {
		tr.Horizons = []int{3, 6, 12}
	}
	// One index of the (x, T) pairs and one P(alive) for every trait.
	f, factored := pm.(factored)
	ix, pa, err := prepare(ctx, pm, x, tx, T, opt.Workers, factored)
	if err != nil {
		return Traits{}, fmt.Errorf("traits: %w", err)
	}
	tr.PAlive = make([]float64, len(x))
	if err := parallel(ctx, tr.PAlive, opt.Workers, pa); err != nil {
		return Traits{}, fmt.Errorf("traits: %w", err)
	}
	tr.ChurnRisk = make([]float64, len(x))
	for i, p := range tr.PAlive {
		tr.ChurnRisk[i] = 1 - p
	}
	if tr.NextPurchase, err = nextPurchases(ctx, pm, q, ix, x, tx, T, opt.Workers); err != nil {
		return Traits{}, fmt.Errorf("traits: %w", err)
	}
	if t := opt.ExpectedHorizon; t > 0 {
		if factored {
			tr.Expected, err = expectedPrepared(ctx, f, ix, pa, t, opt.Workers)
		} else {
			tr.Expected, err = ExpectedPurchasesAll(ctx, pm, t, x, tx, T, opt.Workers)
		}
		if err != nil {
			return Traits{}, fmt.Errorf("traits: expected purchases: %w", err)
		}
	}
	for _, h := range tr.Horizons {
		var v []float64
		if factored {
			if err = checkHorizon(h, opt.PeriodLength, opt.DiscountRate); err == nil {
				v, err = clvsPrepared(ctx, f, gg, ix, pa, x, meanSpend, h, opt.PeriodLength, opt.Margin, opt.DiscountRate, opt.Workers)
			}
		} else {
			v, err = CLVs(ctx, pm, gg, x, tx, T, meanSpend, h, opt.PeriodLength, opt.Margin, opt.DiscountRate, opt.Workers)
		}
		if err != nil {
			return Traits{}, fmt.Errorf("traits: clv over %d periods: %w", h, err)
		}
		tr.CLV = append(tr.CLV, v)
	}
	return tr, nil
}

// nextPurchases returns TimeToNextPurchase(pm, q, x[i], tx[i], T[i]) for
// every customer. An NBD customer's depends on (x, T) alone (nobody drops
// out, so t_x does not enter), and it is computed once per distinct pair
// of ix, built here when ix is nil or has no pairs: 17k pairs for the 1M
// customers of bench/e2e's shop. The other models' P(alive) depends on t_x,
// and distinct (x, t_x, T) are about half as many as customers there, so
// they are computed per customer.
func nextPurchases(ctx context.Context, pm PurchaseModel, q float64, ix *scoreIndex, x, tx, T []float64, workers int) ([]float64, error) {
	out := make([]float64, len(x))
	if _, ok := pm.(NBD); !ok {
		err := parallel(ctx, out, workers, func(i int) float64 { return TimeToNextPurchase(pm, q, x[i], tx[i], T[i]) })
		return out, err
	}
	if ix == nil || (ix.xT == nil && len(x) > 0) {
		built, err := newScoreIndex(ctx, x, tx, T, false)
		if err != nil {
			return nil, err
		}
		ix = &built
	}
	// t_x = 0 stands for every customer's: NBD's P(alive) ignores it.
	byPair, err := perPair(ctx, ix, workers, func(x, T float64) float64 { return TimeToNextPurchase(pm, q, x, 0, T) })
	if err != nil {
		return nil, err
	}
	err = parallel(ctx, out, workers, func(i int) float64 { return byPair[ix.xT[i]] })
	return out, err
}
