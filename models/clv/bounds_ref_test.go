package clv

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// The bounds as they were computed before they were grouped by (x, T):
// references for TestBoundsMatchReference.

// quantile returns the q-quantile of v, left as it is (it stays aligned
// with the draws).
func quantile(v []float64, q float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return quantileSorted(v, q)
}

// nbdMixtureQuantile is nbdBound's quantile for one summary.
func nbdMixtureQuantile(ms []PurchaseModel, pa []float64, x, T, t, q float64) int {
	nb := newNBDBound(ms)
	s := nb.scratch()
	nb.start(s, x, T, t)
	return nb.quantile(s, pa, q)
}

// refPurchaseIntervals is purchaseIntervals as it was before the bounds were
// grouped by (x, T): every quantity per distinct summary and draw.
func refPurchaseIntervals(ctx context.Context, ms []PurchaseModel, x, tx, T []float64, horizon float64, opt IntervalOptions) (Intervals, error) {
	n := len(x)
	iv := Intervals{Level: opt.Level,
		PAliveLow: make([]float64, n), PAliveHigh: make([]float64, n),
		ExpectedLow: make([]float64, n), ExpectedHigh: make([]float64, n),
		CountLow: make([]float64, n), CountHigh: make([]float64, n)}
	qlo, qhi := (1-opt.Level)/2, (1+opt.Level)/2
	err := parallel(ctx, iv.PAliveLow, opt.Workers, func(i int) float64 {
		D := len(ms)
		pa, ex := make([]float64, D), make([]float64, D)
		alive := make([]PurchaseModel, D)
		seqs := make([]*countSeq, D)
		for d, m := range ms {
			pa[d] = m.PAlive(x[i], tx[i], T[i])
			ex[d] = m.ExpectedPurchases(horizon, x[i], tx[i], T[i])
			alive[d], _ = AliveModel(m, x[i], T[i])
			seqs[d] = newCountSeq(alive[d], horizon)
		}
		iv.PAliveHigh[i] = quantile(pa, qhi)
		iv.ExpectedLow[i], iv.ExpectedHigh[i] = quantile(ex, qlo), quantile(ex, qhi)
		// Walk up the predictive cdf, no further than kCap: every model's
		// count is at most the no-drop-out count, NBD(r+x, α+T), so the
		// mixture of those bounds the quantile from above. The bound also
		// ends the walk where rounding in a series (Pareto/NBD's B1 - ΣB2
		// for counts far out) leaves the computed cdf short of qhi.
		kCap := refNBDMixtureQuantile(ms, pa, x[i], T[i], horizon, qhi)
		exactLimit := maxExactCount
		if _, ok := ms[0].(ParetoNBD); ok {
			exactLimit = maxExactCountPNBD
		}
		var cdf float64
		lo := -1.0
		for k := 0; ; k++ {
			var s float64
			for d, m := range alive {
				var pk float64
				if seqs[d] != nil {
					pk = seqs[d].next()
				} else {
					pk = m.ProbNPurchases(k, horizon)
				}
				p := pa[d] * pk
				if k == 0 {
					p += 1 - pa[d]
				}
				s += p
			}
			cdf += s / float64(D)
			if lo < 0 && (cdf >= qlo || k >= kCap) {
				lo = float64(k)
			}
			if cdf >= qhi || k >= kCap {
				iv.CountLow[i], iv.CountHigh[i] = lo, float64(k)
				break
			}
			if k >= exactLimit {
				// Far out (a heavy buyer, or draws of poorly determined
				// parameters with heavy tails) the exact walk costs
				// O(k²) series terms per draw for Pareto/NBD; the
				// no-drop-out bound is a valid, conservative upper end.
				if lo < 0 {
					lo = float64(k)
				}
				iv.CountLow[i], iv.CountHigh[i] = lo, float64(kCap)
				break
			}
		}
		return quantile(pa, qlo)
	})
	if err != nil {
		return Intervals{}, fmt.Errorf("intervals: %w", err)
	}
	return iv, nil
}

// refNBDMixtureQuantile is nbdMixtureQuantile as it was; it returns the smallest k at which the cdf of the
// no-drop-out bound reaches q: the mixture over draws d of a point mass
// 1 - pa[d] at 0 and pa[d] times the negative binomial count of
// NBD{r_d+x, α_d+T} over t. The pmf is run by its recursion
// P(k+1) = P(k)·(r'+k)/(k+1)·t/(α'+t), which is exact to rounding.
func refNBDMixtureQuantile(ms []PurchaseModel, pa []float64, x, T, t, q float64) int {
	D := len(ms)
	p := make([]float64, D) // NB pmf at k per draw
	c := make([]float64, D) // r', then t/(α'+t)
	r := make([]float64, D)
	for d, m := range ms {
		par := m.Params()
		r[d], c[d] = par["r"]+x, t/(par["alpha"]+T+t)
		p[d] = math.Exp(r[d] * math.Log1p(-c[d]))
	}
	var cdf float64
	for k := 0; k < 1<<20; k++ {
		var s float64
		for d := range ms {
			v := pa[d] * p[d]
			if k == 0 {
				v += 1 - pa[d]
			}
			s += v
			p[d] *= (r[d] + float64(k)) / float64(k+1) * c[d]
		}
		cdf += s / float64(D)
		if cdf >= q*(1-1e-12) {
			return k
		}
	}
	return 1 << 20
}

// refCLVIntervals is CLVIntervals' loop as it was: CLV per customer and
// draw.
func refCLVIntervals(ctx context.Context, ms []PurchaseModel, ggs []GammaGamma, x, tx, T, meanSpend []float64, periods int, periodLength, margin, discountRate float64, opt IntervalOptions) (low, high []float64, err error) {
	n := len(x)
	low, high = make([]float64, n), make([]float64, n)
	qlo, qhi := (1-opt.Level)/2, (1+opt.Level)/2
	err = parallel(ctx, low, opt.Workers, func(i int) float64 {
		v := make([]float64, len(ms))
		for d, m := range ms {
			v[d] = CLV(m, ggs[d], x[i], tx[i], T[i], meanSpend[i], periods, periodLength, margin, discountRate)
		}
		high[i] = quantile(v, qhi)
		return quantile(v, qlo)
	})
	return low, high, err
}
