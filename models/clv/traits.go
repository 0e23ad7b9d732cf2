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
// TimeToNextPurchase evaluates it some 40 times a customer, and each
// ProbPurchaseWithin boxed a new alive model on the heap and computed
// P(alive) again (20M customers: gigabytes of garbage, and for Pareto/NBD a
// hypergeometric series per call). Both go through aliveMixture, so the
// values are the same bits.
func purchaseWithin(pm PurchaseModel, x, tx, T float64) func(t float64) float64 {
	am, ok := AliveModel(pm, x, T)
	if !ok {
		return func(t float64) float64 { return ProbPurchaseWithin(pm, t, x, tx, T) }
	}
	pa := pm.PAlive(x, tx, T)
	return func(t float64) float64 {
		if t <= 0 {
			return 0
		}
		return 1 - aliveMixture(pa, am, 0, t)
	}
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
	scale := T + 1
	if a, ok := alphaOf(pm); ok {
		scale = a + T
	}
	f := purchaseWithin(pm, x, tx, T)
	hi := nextPurchaseMax * scale
	if f(hi) < q {
		return math.Inf(1)
	}
	lo := 1e-9 * scale
	if f(lo) >= q {
		return lo
	}
	// Bisection on log t: f rises with t.
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
	var err error
	if tr.PAlive, err = PAlives(ctx, pm, x, tx, T, opt.Workers); err != nil {
		return Traits{}, fmt.Errorf("traits: %w", err)
	}
	tr.ChurnRisk = make([]float64, len(x))
	for i, p := range tr.PAlive {
		tr.ChurnRisk[i] = 1 - p
	}
	tr.NextPurchase = make([]float64, len(x))
	if err := parallel(ctx, tr.NextPurchase, opt.Workers, func(i int) float64 {
		return TimeToNextPurchase(pm, q, x[i], tx[i], T[i])
	}); err != nil {
		return Traits{}, fmt.Errorf("traits: %w", err)
	}
	for _, h := range tr.Horizons {
		v, err := CLVs(ctx, pm, gg, x, tx, T, meanSpend, h, opt.PeriodLength, opt.Margin, opt.DiscountRate, opt.Workers)
		if err != nil {
			return Traits{}, fmt.Errorf("traits: %w", err)
		}
		tr.CLV = append(tr.CLV, v)
	}
	return tr, nil
}
