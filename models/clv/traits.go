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

// withinCurve is t ↦ ProbPurchaseWithin(pm, t, x, tx, T) (at) with what
// does not depend on t computed once: TimeToNextPurchase evaluates it many
// times a customer, and each ProbPurchaseWithin boxed a new alive model on
// the heap and computed P(alive) again (20M customers: gigabytes of
// garbage, and for Pareto/NBD a hypergeometric series per call). Both go
// through aliveMixture, so the values are the same bits. Its parts are
// P(alive) pa and the alive model, held as a concrete value for the NBD
// (nbd) and the BG/NBD and MBG/NBD (bg) so that a customer's curve costs
// no heap allocation, and as am for the other models AliveModel knows.
type withinCurve struct {
	pm       PurchaseModel
	x, tx, T float64
	pa       float64
	kind     aliveKind
	nbd      NBD
	bg       BGNBD
	am       PurchaseModel
}

// aliveKind says which field of a withinCurve holds its alive model.
type aliveKind int

const (
	kindNone  aliveKind = iota // a model AliveModel does not know
	kindNBD                    // nbd
	kindBG                     // bg
	kindOther                  // am
)

func newWithinCurve(pm PurchaseModel, x, tx, T float64) withinCurve {
	c := aliveCurve(pm, x, tx, T)
	if c.kind != kindNone {
		c.pa = pm.PAlive(x, tx, T)
	}
	return c
}

// aliveCurve is newWithinCurve without P(alive), for callers that have it.
func aliveCurve(pm PurchaseModel, x, tx, T float64) withinCurve {
	c := withinCurve{pm: pm, x: x, tx: tx, T: T}
	if bg, ok := aliveBG(pm, x, T); ok {
		c.kind, c.bg = kindBG, bg
	} else if m, ok := pm.(NBD); ok {
		c.kind, c.nbd = kindNBD, aliveNBD(m, x, T)
	} else if am, ok := AliveModel(pm, x, T); ok {
		c.kind, c.am = kindOther, am
	}
	return c
}

// at is ProbPurchaseWithin(c.pm, t, c.x, c.tx, c.T).
func (c *withinCurve) at(t float64) float64 {
	if c.kind == kindNone {
		return ProbPurchaseWithin(c.pm, t, c.x, c.tx, c.T)
	}
	if t <= 0 {
		return 0
	}
	var p0 float64
	switch c.kind {
	case kindNBD:
		p0 = c.nbd.ProbNPurchases(0, t)
	case kindBG:
		p0 = c.bg.ProbNPurchases(0, t)
	default:
		p0 = c.am.ProbNPurchases(0, t)
	}
	return 1 - mixAlive(c.pa, p0, 0)
}

// zeroCountShape returns (k, s) such that an alive customer of c buys
// nothing in (0, t] with probability
//
//	P_A(X(t) = 0) = (s/(s+t))^k,
//
// and ok false when P_A(X(t) = 0) has no such form. For the NBD it is the
// negative binomial at 0, with (k, s) = (r, α) of the alive model. For the
// BG/NBD it is the same, FHL 2005 eq. 8 at n = 0: a customer drops out
// only just after a purchase, so nobody who has not bought yet has left;
// the MBG/NBD's alive model is a BG/NBD (AliveModel). The Pareto/NBD's
// P_A(X(t) = 0) mixes the exponential lifetime in (Fader, Hardie and
// Lee, "A Note on Deriving the Pareto/NBD Model and Related Expressions",
// 2005, eq. 18-19: Gauss hypergeometric functions of t), which has no
// closed-form inverse.
func zeroCountShape(c *withinCurve) (k, s float64, ok bool) {
	switch c.kind {
	case kindNBD:
		return c.nbd.R, c.nbd.Alpha, true
	case kindBG:
		return c.bg.R, c.bg.Alpha, true
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
	return nextPurchaseTime(&c, q, nextPurchaseScale(pm, T))
}

// nextPurchaseTime is TimeToNextPurchase of the curve c, q in (0, 1).
func nextPurchaseTime(c *withinCurve, q, scale float64) float64 {
	s := newNextPurchaseSearch(c, q)
	return bisectQuantile(scale, &s)
}

// nextPurchaseScale is α+T, the time scale of the customer's posterior
// purchase rate (T+1 for a model without α).
func nextPurchaseScale(pm PurchaseModel, T float64) float64 {
	if a, ok := alphaOf(pm); ok {
		return a + T
	}
	return T + 1
}

// nextPurchaseSearch is the bisection's test t ↦ c.at(t) ≥ q. When guided
// it evaluates c.at only inside quantileBracket's [lo, hi], confirmed by
// c.at(lo) < q ≤ c.at(hi), and answers t ≥ hi outside it: c.at rises with
// t, so that is its answer there too, and the bisection takes the same
// steps and returns the same bits as with c.at everywhere (unguided, the
// reference), in two to four evaluations a customer instead of about
// forty. A struct rather than a closure, so that the bisection's ~40
// tests are direct calls.
type nextPurchaseSearch struct {
	c      *withinCurve
	q      float64
	lo, hi float64
	guided bool
}

// newNextPurchaseSearch guides the search where the closed-form inverse
// applies (zeroCountShape) and its bracket is confirmed.
func newNextPurchaseSearch(c *withinCurve, q float64) nextPurchaseSearch {
	s := nextPurchaseSearch{c: c, q: q}
	k, sc, ok := zeroCountShape(c)
	if !ok {
		return s
	}
	lo, hi, ok := quantileBracket(c.pa, k, sc, q)
	if ok && !s.atLeast(lo) && s.atLeast(hi) {
		s.lo, s.hi, s.guided = lo, hi, true
	}
	return s
}

func (s *nextPurchaseSearch) atLeast(t float64) bool {
	if s.guided && (t <= s.lo || t >= s.hi) {
		return t >= s.hi
	}
	return s.c.at(t) >= s.q
}

// bisectQuantile returns the least time, to a relative 1e-10, at which
// s.atLeast (P(purchase within t) ≥ q, rising with t) holds:
// bisection on log t from 10^-9·scale to nextPurchaseMax·scale, +Inf when
// it does not hold at the top.
func bisectQuantile(scale float64, s *nextPurchaseSearch) float64 {
	hi := nextPurchaseMax * scale
	if !s.atLeast(hi) {
		return math.Inf(1)
	}
	lo := 1e-9 * scale
	if s.atLeast(lo) {
		return lo
	}
	for range 200 {
		mid := math.Sqrt(lo * hi)
		if s.atLeast(mid) {
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
	Workers         int
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
	// The other traits read P(alive) back rather than compute it again
	// each (a log, a log1p and an exp per BG/NBD customer and trait).
	pa = func(i int) float64 { return tr.PAlive[i] }
	tr.ChurnRisk = make([]float64, len(x))
	for i, p := range tr.PAlive {
		tr.ChurnRisk[i] = 1 - p
	}
	if tr.NextPurchase, err = nextPurchases(ctx, pm, q, ix, tr.PAlive, x, tx, T, opt.Workers); err != nil {
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
// every customer, q in (0, 1). An NBD customer's depends on (x, T) alone
// (nobody drops out, so t_x does not enter), and it is computed once per
// distinct pair of ix, built here when ix is nil or has no pairs: 17k
// pairs for the 1M customers of bench/e2e's shop. The other models'
// P(alive) depends on t_x, and distinct (x, t_x, T) are about half as many
// as customers there, so they are computed per customer, the BG/NBD's and
// MBG/NBD's with pAlive[i], which is their pm.PAlive (PAlives), not
// computed again.
func nextPurchases(ctx context.Context, pm PurchaseModel, q float64, ix *scoreIndex, pAlive, x, tx, T []float64, workers int) ([]float64, error) {
	out := make([]float64, len(x))
	if _, ok := aliveBG(pm, 0, 0); ok {
		err := parallel(ctx, out, workers, func(i int) float64 {
			c := aliveCurve(pm, x[i], tx[i], T[i])
			c.pa = pAlive[i]
			return nextPurchaseTime(&c, q, nextPurchaseScale(pm, T[i]))
		})
		return out, err
	}
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
