package clv

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// ParamUncertainty is the large-sample distribution of a fitted model's
// parameters, on the log scale the fits use: ln θ ~ N(LogTheta, Cov),
// where Cov is the inverse of the observed information, the negative
// Hessian of the log-likelihood with respect to ln θ at the estimate
// (Hessian analytic for BG/NBD, MBG/NBD, NBD and Gamma-Gamma, central
// differences of the analytic gradient for Pareto/NBD). The log scale
// keeps every drawn parameter positive and makes the normal approximation
// much better for the shape parameters, whose sampling distributions are
// skewed.
type ParamUncertainty struct {
	// Names are the parameters in the order of LogTheta and Cov.
	Names    []string
	LogTheta []float64
	// Cov is the covariance of the log-parameters, row-major n×n.
	Cov []float64
	// model rebuilds a model from natural parameters.
	model func(theta []float64) any
	// outside, when set, marks the parameters the fit itself would not
	// return (the model's edge, see pnbdEdge): draws there are redrawn.
	outside func(theta []float64) bool
}

// SE returns the standard error of each log-parameter: for a small SE, the
// relative standard error of the parameter.
func (u ParamUncertainty) SE() []float64 {
	n := len(u.LogTheta)
	se := make([]float64, n)
	for i := range n {
		se[i] = math.Sqrt(u.Cov[i*n+i])
	}
	return se
}

// Intervals returns the two-sided Wald intervals of the parameters at
// level (e.g. 0.9) built on the log scale: exp(ln θ̂ ± z·se), z the
// (1+level)/2 normal quantile.
func (u ParamUncertainty) Intervals(level float64) (lo, hi []float64) {
	z := distuv.UnitNormal.Quantile((1 + level) / 2)
	for i, se := range u.SE() {
		lo = append(lo, math.Exp(u.LogTheta[i]-z*se))
		hi = append(hi, math.Exp(u.LogTheta[i]+z*se))
	}
	return lo, hi
}

// maxRedraws bounds the redrawing of a draw outside the fit's region.
const maxRedraws = 1000

// draws returns n parameter vectors (natural scale) drawn from the normal
// on the log scale with rng, truncated to the region the fit can return
// when u.outside is set: a draw outside it is redrawn.
//
// Why truncate. A Pareto/NBD fit whose drop-out is poorly determined has
// standard errors near 2 on ln s and ln β, and the untruncated normal puts
// draws at s > 1000 or β/α > 1000, where the model cannot be told from no
// drop-out (the fit stops there and reports the NBD) and where the series
// behind P(alive) do not converge (2F1 at z within 1e-4 of 1): those draws
// gave NaN, and one shop's predictive count intervals covered 16 % of its
// customers. The estimator never takes values there, so neither do the
// draws.
func (u ParamUncertainty) draws(n int, rng *rand.Rand) ([][]float64, error) {
	d := len(u.LogTheta)
	var ch mat.Cholesky
	if !ch.Factorize(mat.NewSymDense(d, slices.Clone(u.Cov))) {
		return nil, errors.New("parameter covariance not positive definite")
	}
	var L mat.TriDense
	ch.LTo(&L)
	out := make([][]float64, n)
	z := make([]float64, d)
	for k := range out {
		th := make([]float64, d)
		for try := 0; ; try++ {
			if try == maxRedraws {
				return nil, fmt.Errorf("parameter draws: %d in a row outside the region the fit can return", maxRedraws)
			}
			for i := range z {
				z[i] = rng.NormFloat64()
			}
			for i := range d {
				v := u.LogTheta[i]
				for j := 0; j <= i; j++ {
					v += L.At(i, j) * z[j]
				}
				th[i] = math.Exp(v)
			}
			if u.outside == nil || !u.outside(th) {
				break
			}
		}
		out[k] = th
	}
	return out, nil
}

// PurchaseUncertainty returns the ParamUncertainty of the purchase model
// pm (as fitted to x, t_x, T by its Fit function, without a penalizer).
// It fails if the Hessian there is not negative definite, which a fit that
// returned without error guarantees.
func PurchaseUncertainty(pm PurchaseModel, x, tx, T []float64, workers int) (ParamUncertainty, error) {
	rows, err := compressRows(x, tx, T)
	if err != nil {
		return ParamUncertainty{}, fmt.Errorf("purchase uncertainty: %w", err)
	}
	p := newPool(workers)
	var (
		ll      logLikFunc
		hasHess bool
		theta   []float64
		names   []string
		build   func(th []float64) any
	)
	switch m := pm.(type) {
	case BGNBD:
		ll, hasHess = bgFamily(false)(&rows, p)
		theta, names = m.vec(), []string{"r", "alpha", "a", "b"}
		build = func(t []float64) any { return BGNBD{R: t[0], Alpha: t[1], A: t[2], B: t[3]} }
	case MBGNBD:
		ll, hasHess = bgFamily(true)(&rows, p)
		theta, names = m.vec(), []string{"r", "alpha", "a", "b"}
		build = func(t []float64) any { return MBGNBD{R: t[0], Alpha: t[1], A: t[2], B: t[3]} }
	case ParetoNBD:
		ll, hasHess = newPNBDLik(&rows, p).eval, false
		theta, names = m.vec(), []string{"r", "alpha", "s", "beta"}
		build = func(t []float64) any { return ParetoNBD{R: t[0], Alpha: t[1], S: t[2], Beta: t[3]} }
	case NBD:
		ll, hasHess = nbdFamily(&rows, p)
		theta, names = m.vec(), []string{"r", "alpha"}
		build = func(t []float64) any { return NBD{R: t[0], Alpha: t[1]} }
	default:
		return ParamUncertainty{}, fmt.Errorf("purchase uncertainty: unsupported model %T", pm)
	}
	out, err := uncertainty(ll, hasHess, theta, names, build)
	if _, ok := pm.(ParetoNBD); ok {
		out.outside = pnbdEdge.beyond
	}
	return out, err
}

// SpendUncertainty returns the ParamUncertainty of a Gamma-Gamma model
// fitted to the repeat customers (x > 0, positive mean spend) of x and
// meanSpend, the customers FitGammaGamma uses.
func SpendUncertainty(gg GammaGamma, x, meanSpend []float64, workers int) (ParamUncertainty, error) {
	if len(x) != len(meanSpend) {
		return ParamUncertainty{}, fmt.Errorf("spend uncertainty: length mismatch: x %d, spend %d", len(x), len(meanSpend))
	}
	var fx, fm []float64
	for i, xi := range x {
		if xi > 0 && meanSpend[i] > 0 && !math.IsInf(meanSpend[i], 0) {
			fx, fm = append(fx, xi), append(fm, meanSpend[i])
		}
	}
	if len(fx) == 0 {
		return ParamUncertainty{}, errors.New("spend uncertainty: no repeat customers with positive spend")
	}
	cx, cm, w := compressSpend(fx, fm)
	k := newGGLik(cx, cm, w, newPool(workers))
	return uncertainty(k.eval, true, []float64{gg.P, gg.Q, gg.Gamma}, []string{"p", "q", "gamma"},
		func(t []float64) any { return GammaGamma{P: t[0], Q: t[1], Gamma: t[2]} })
}

func uncertainty(ll logLikFunc, hasHess bool, theta []float64, names []string, build func([]float64) any) (ParamUncertainty, error) {
	n := len(theta)
	u := make([]float64, n)
	for i, v := range theta {
		if !(v > 0) || math.IsInf(v, 0) {
			return ParamUncertainty{}, fmt.Errorf("uncertainty: parameter %s = %v, want positive and finite", names[i], v)
		}
		u[i] = math.Log(v)
	}
	// wsum = 1, no penalty: the objective is -LL and its Hessian in u the
	// observed information.
	p := newProblem(ll, hasHess, n, 1, 0)
	info := p.hessianAt(u)
	var ch mat.Cholesky
	if !ch.Factorize(info) {
		return ParamUncertainty{}, errors.New("uncertainty: the information matrix is not positive definite at these parameters (not a maximum of the likelihood, or parameters not identified)")
	}
	var cov mat.SymDense
	if err := ch.InverseTo(&cov); err != nil {
		return ParamUncertainty{}, fmt.Errorf("uncertainty: %w", err)
	}
	out := ParamUncertainty{Names: names, LogTheta: u, Cov: make([]float64, n*n), model: build}
	for i := range n {
		for j := range n {
			out.Cov[i*n+j] = cov.At(i, j)
		}
	}
	return out, nil
}

// IntervalOptions tunes the per-customer intervals. The zero value means
// 90 % intervals from 200 parameter draws with seed 0.
type IntervalOptions struct {
	// Level is the coverage of the two-sided intervals, in (0, 1).
	Level float64
	// Draws is the number of parameter vectors drawn.
	Draws int
	// Seed seeds the draws; the result is a function of the inputs and
	// the seed, whatever the number of workers.
	Seed    uint64
	Workers int
}

func (o IntervalOptions) resolve() (IntervalOptions, error) {
	if o.Level == 0 {
		o.Level = 0.9
	}
	if o.Draws == 0 {
		o.Draws = 200
	}
	if !(o.Level > 0 && o.Level < 1) || o.Draws < 2 {
		return o, fmt.Errorf("intervals: level %v and %d draws, want a level in (0, 1) and at least 2 draws", o.Level, o.Draws)
	}
	return o, nil
}

// Intervals are per-customer two-sided bounds, one entry per customer.
type Intervals struct {
	// Level is the nominal coverage.
	Level float64
	// PAliveLow/High bound P(alive) and ExpectedLow/High the expected
	// number of purchases in the horizon E[Y(t) | x, t_x, T]: quantiles
	// over the parameter draws (parameter uncertainty only; these are
	// properties of the customer, not random outcomes).
	PAliveLow, PAliveHigh     []float64
	ExpectedLow, ExpectedHigh []float64
	// CountLow/High bound the number of purchases the customer will make
	// in the horizon: quantiles of the predictive distribution, the
	// conditional count distribution (ProbFuturePurchases) mixed over the
	// parameter draws. Counts are whole numbers, so the interval holds at
	// least Level of the predictive probability.
	CountLow, CountHigh []float64
}

// PurchaseIntervals returns per-customer intervals for P(alive), the
// expected purchases in (T, T+horizon] and the count of those purchases.
//
// Method: D = opt.Draws parameter vectors are drawn from the asymptotic
// normal of the log-parameters (see ParamUncertainty). For each customer
// and draw d, P(alive)_d and E_d[Y(horizon)] are computed; their
// (1-level)/2 and (1+level)/2 empirical quantiles over the draws are the
// bounds. For the count, the predictive distribution
//
//	P̄(Y = k) = (1/D) Σ_d P_d(Y(horizon) = k | x, t_x, T)
//
// combines parameter uncertainty with the Poisson-mixture randomness of
// the purchases themselves; CountLow is the smallest k with
// P̄(Y ≤ k) ≥ (1-level)/2 and CountHigh the smallest k with
// P̄(Y ≤ k) ≥ (1+level)/2. Every model's count is at most the count
// without drop-out, NBD(r+x, α+T), so the same quantile of that mixture
// bounds CountHigh; it is used instead when the exact walk would pass 250
// purchases (40 for Pareto/NBD, whose count probabilities are costly far
// out): conservative, the interval only widens.
func PurchaseIntervals(ctx context.Context, u ParamUncertainty, x, tx, T []float64, horizon float64, opt IntervalOptions) (Intervals, error) {
	if err := checkLens("intervals", len(x), tx, T); err != nil {
		return Intervals{}, err
	}
	opt, err := opt.resolve()
	if err != nil {
		return Intervals{}, err
	}
	if !(horizon >= 0) || math.IsInf(horizon, 0) {
		return Intervals{}, fmt.Errorf("intervals: horizon %v, want non-negative and finite", horizon)
	}
	ms, err := u.purchaseDraws(opt)
	if err != nil {
		return Intervals{}, err
	}
	// Customers with the same summary have the same intervals: compute
	// them once per distinct (x, t_x, T), a few thousand in a real shop
	// whatever its size (x is a count, times are whole days).
	type key [3]float64
	ids := make(map[key]int32)
	row := make([]int32, len(x))
	var ux, utx, uT []float64
	for i := range x {
		k := key{x[i] + 0, tx[i] + 0, T[i] + 0}
		id, ok := ids[k]
		if !ok {
			id = int32(len(ux))
			ids[k] = id
			ux, utx, uT = append(ux, x[i]), append(utx, tx[i]), append(uT, T[i])
		}
		row[i] = id
	}
	d, err := purchaseIntervals(ctx, ms, ux, utx, uT, horizon, opt)
	if err != nil {
		return Intervals{}, err
	}
	n := len(x)
	iv := Intervals{Level: opt.Level}
	for _, c := range []struct {
		dst *[]float64
		src []float64
	}{
		{&iv.PAliveLow, d.PAliveLow}, {&iv.PAliveHigh, d.PAliveHigh},
		{&iv.ExpectedLow, d.ExpectedLow}, {&iv.ExpectedHigh, d.ExpectedHigh},
		{&iv.CountLow, d.CountLow}, {&iv.CountHigh, d.CountHigh},
	} {
		*c.dst = make([]float64, n)
		for i, r := range row {
			(*c.dst)[i] = c.src[r]
		}
	}
	return iv, nil
}

// purchaseIntervals is PurchaseIntervals over distinct summaries.
//
// What depends on the summary through (x, T) alone is computed once per
// draw and distinct pair, for the summaries of that pair (see pairGroups):
// the horizon factor of the expected purchases, the count probabilities
// of AliveModel (as far as the summaries' walks go) and the no-drop-out
// bound's pmf. Only P(alive) and the walks are per summary. Each value is
// the same expression of the same operands as in the per-summary
// evaluation (ExpectedPurchases is horizon · P(alive) for the factored
// models), so the bounds are the same to the bit.
func purchaseIntervals(ctx context.Context, ms []PurchaseModel, x, tx, T []float64, horizon float64, opt IntervalOptions) (Intervals, error) {
	n := len(x)
	iv := Intervals{Level: opt.Level,
		PAliveLow: make([]float64, n), PAliveHigh: make([]float64, n),
		ExpectedLow: make([]float64, n), ExpectedHigh: make([]float64, n),
		CountLow: make([]float64, n), CountHigh: make([]float64, n)}
	qlo, qhi := (1-opt.Level)/2, (1+opt.Level)/2
	D := len(ms)
	fm := factoredDraws(ms)
	nb := newNBDBound(ms)
	exactLimit := maxExactCount
	if _, ok := ms[0].(ParetoNBD); ok {
		exactLimit = maxExactCountPNBD
	}
	g := groupByPair(x, tx, T)
	pal := newPAlives(ms)
	err := eachGroup(ctx, len(g.pairX), opt.Workers, func() func(int) {
		pal := pal.worker()
		pa, ex := make([]float64, D), make([]float64, D)
		hz := make([]float64, D)
		alive := make([]PurchaseModel, D)
		seqs := make([]*countSeq, D)
		// pk[k*D+d] is P(X = k) of draw d's AliveModel: the same for
		// every summary of the pair, computed as far as a walk needs.
		var pk []float64
		nbs := nb.scratch()
		var buf []float64
		return func(p int) {
			px, pT := g.pairX[p], g.pairT[p]
			for d, m := range ms {
				if fm != nil && horizon != 0 {
					hz[d] = fm[d].horizon(horizon, px, pT)
				}
				alive[d], _ = AliveModel(m, px, pT)
				seqs[d] = newCountSeq(alive[d], horizon)
			}
			pk = pk[:0]
			nb.start(nbs, px, pT, horizon)
			pal.pair(px)
			for _, i := range g.rows(p) {
				pal.into(pa, x[i], tx[i], T[i])
				for d, m := range ms {
					switch {
					case fm == nil:
						ex[d] = m.ExpectedPurchases(horizon, x[i], tx[i], T[i])
					case horizon == 0:
						ex[d] = 0
					default:
						ex[d] = hz[d] * pa[d]
					}
				}
				iv.PAliveLow[i], iv.PAliveHigh[i], buf = quantiles(pa, buf, qlo, qhi)
				iv.ExpectedLow[i], iv.ExpectedHigh[i], buf = quantiles(ex, buf, qlo, qhi)
				// Walk up the predictive cdf, no further than kCap: every
				// model's count is at most the no-drop-out count,
				// NBD(r+x, α+T), so the mixture of those bounds the
				// quantile from above. The bound also ends the walk where
				// rounding in a series (Pareto/NBD's B1 - ΣB2 for counts
				// far out) leaves the computed cdf short of qhi.
				kCap := nb.quantile(nbs, pa, qhi)
				var cdf float64
				lo := -1.0
				for k := 0; ; k++ {
					if len(pk) == k*D {
						for d, m := range alive {
							if seqs[d] != nil {
								pk = append(pk, seqs[d].next())
							} else {
								pk = append(pk, m.ProbNPurchases(k, horizon))
							}
						}
					}
					var s float64
					for d, pkd := range pk[k*D : (k+1)*D] {
						p := pa[d] * pkd
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
						// Far out (a heavy buyer, or draws of poorly
						// determined parameters with heavy tails) the exact
						// walk costs O(k²) series terms per draw for
						// Pareto/NBD; the no-drop-out bound is a valid,
						// conservative upper end.
						if lo < 0 {
							lo = float64(k)
						}
						iv.CountLow[i], iv.CountHigh[i] = lo, float64(kCap)
						break
					}
				}
			}
		}
	})
	if err != nil {
		return Intervals{}, fmt.Errorf("intervals: %w", err)
	}
	return iv, nil
}

// factoredDraws returns the draws as factored models, or nil when one is
// not (then every quantity is computed by the PurchaseModel methods).
func factoredDraws(ms []PurchaseModel) []factored {
	fm := make([]factored, len(ms))
	for d, m := range ms {
		f, ok := m.(factored)
		if !ok {
			return nil
		}
		fm[d] = f
	}
	return fm
}

func (u ParamUncertainty) purchaseDraws(opt IntervalOptions) ([]PurchaseModel, error) {
	if u.model == nil {
		return nil, errors.New("intervals: ParamUncertainty not built by PurchaseUncertainty")
	}
	th, err := u.draws(opt.Draws, rand.New(rand.NewPCG(opt.Seed, 0x5eed)))
	if err != nil {
		return nil, fmt.Errorf("intervals: %w", err)
	}
	ms := make([]PurchaseModel, len(th))
	for d, t := range th {
		m, ok := u.model(t).(PurchaseModel)
		if !ok {
			return nil, errors.New("intervals: ParamUncertainty is not a purchase model's")
		}
		ms[d] = m
	}
	return ms, nil
}

// CLVIntervals returns per-customer bounds on CLV (see CLV for the
// arguments) at opt.Level: the quantiles of CLV over parameter draws of
// the purchase model (pu) and, if spend is non-nil, of the Gamma-Gamma
// model (independent draws: the two likelihoods share no parameters).
// gg is the point estimate, used for every draw when spend is nil. The
// bounds describe the uncertainty of the expected value, not the spread
// of the margin the customer will actually bring, which is far wider.
func CLVIntervals(ctx context.Context, pu ParamUncertainty, spend *ParamUncertainty, gg GammaGamma, x, tx, T, meanSpend []float64, periods int, periodLength, margin, discountRate float64, opt IntervalOptions) (low, high []float64, err error) {
	if err := checkLens("clv intervals", len(x), tx, T, meanSpend); err != nil {
		return nil, nil, err
	}
	if opt, err = opt.resolve(); err != nil {
		return nil, nil, err
	}
	ms, ggs, err := clvDraws(pu, spend, gg, opt)
	if err != nil {
		return nil, nil, err
	}
	n := len(x)
	low, high = make([]float64, n), make([]float64, n)
	qlo, qhi := (1-opt.Level)/2, (1+opt.Level)/2
	D := len(ms)
	fm := factoredDraws(ms)
	// CLV of a factored model is margin · E[spend] · P(alive) · the
	// discounted horizon, which depends on (x, T) alone: it is computed
	// once per draw and distinct pair, P(alive) once per draw and distinct
	// summary, and only E[spend] and the product per customer, each the
	// same expression of the same operands as in CLV.
	g := groupByPair(x, tx, T)
	pal := newPAlives(ms)
	err = eachGroup(ctx, len(g.pairX), opt.Workers, func() func(int) {
		pal := pal.worker()
		v, pa, dh := make([]float64, D), make([]float64, D), make([]float64, D)
		hs := newHorizonSeries(D)
		var buf []float64
		return func(p int) {
			px, pT := g.pairX[p], g.pairT[p]
			if fm != nil {
				for d, f := range fm {
					dh[d] = hs.discounted(d, f, px, pT, periods, periodLength, discountRate)
				}
			}
			prev := -1
			pal.pair(px)
			for _, i := range g.rows(p) {
				if fm == nil {
					for d, m := range ms {
						v[d] = CLV(m, ggs[d], x[i], tx[i], T[i], meanSpend[i], periods, periodLength, margin, discountRate)
					}
				} else {
					// Rows of a pair are ordered by t_x: P(alive) changes
					// only with the summary.
					if prev < 0 || tx[i] != tx[prev] {
						pal.into(pa, x[i], tx[i], T[i])
						prev = int(i)
					}
					for d := range ms {
						v[d] = clvCombine(margin, ggs[d].ExpectedSpend(x[i], meanSpend[i]), pa[d], dh[d])
					}
				}
				low[i], high[i], buf = quantiles(v, buf, qlo, qhi)
			}
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("clv intervals: %w", err)
	}
	return low, high, nil
}

// clvDraws returns CLVIntervals' draws of the purchase model and the
// spend model (gg for every draw when spend is nil).
func clvDraws(pu ParamUncertainty, spend *ParamUncertainty, gg GammaGamma, opt IntervalOptions) ([]PurchaseModel, []GammaGamma, error) {
	ms, err := pu.purchaseDraws(opt)
	if err != nil {
		return nil, nil, err
	}
	ggs := make([]GammaGamma, len(ms))
	for d := range ggs {
		ggs[d] = gg
	}
	if spend != nil {
		if spend.model == nil {
			return nil, nil, errors.New("clv intervals: spend uncertainty not built by SpendUncertainty")
		}
		th, err := spend.draws(opt.Draws, rand.New(rand.NewPCG(opt.Seed, 0x59e9d)))
		if err != nil {
			return nil, nil, fmt.Errorf("clv intervals: %w", err)
		}
		for d, t := range th {
			g, ok := spend.model(t).(GammaGamma)
			if !ok {
				return nil, nil, errors.New("clv intervals: spend uncertainty is not a Gamma-Gamma model's")
			}
			ggs[d] = g
		}
	}
	return ms, ggs, nil
}

// maxExactCount is the largest count the predictive distribution is
// walked to exactly; beyond it the upper bound is nbdMixtureQuantile's.
// Pareto/NBD's P(X(t) = n) sums n+1 hypergeometric series whose
// arguments approach 1 and whose parameters grow with n, some of them
// taking milliseconds; its walk stops sooner.
const (
	maxExactCount     = 250
	maxExactCountPNBD = 40
)

// nbdBound finds the smallest k at which the cdf of the no-drop-out bound
// reaches q: the mixture over draws d of a point mass 1 - pa[d] at 0 and
// pa[d] times the negative binomial count of NBD{r_d+x, α_d+T} over t. The
// pmf is run by its recursion P(k+1) = P(k)·(r'+k)/(k+1)·t/(α'+t), which
// is exact to rounding. It is split by what each part depends on: the
// draws' r and α (read once), the pmf at 0 and the ratio of each draw
// (start: per (x, T) pair), and the walk (quantile: per summary).
type nbdBound struct{ r, alpha []float64 }

// nbdScratch is the state of the walks of one (x, T) pair: r' and
// t/(α'+t) of each draw, set by start, and the pmf rows, rows[k*D+d] the
// pmf of draw d at k, as far as a walk has gone (to nbdRows; roll is the
// row beyond).
type nbdScratch struct{ r, c, rows, roll []float64 }

const nbdRows = 1024

func newNBDBound(ms []PurchaseModel) nbdBound {
	b := nbdBound{r: make([]float64, len(ms)), alpha: make([]float64, len(ms))}
	for d, m := range ms {
		par := m.Params()
		b.r[d], b.alpha[d] = par["r"], par["alpha"]
	}
	return b
}

func (b nbdBound) scratch() *nbdScratch {
	D := len(b.r)
	return &nbdScratch{r: make([]float64, D), c: make([]float64, D)}
}

func (b nbdBound) start(s *nbdScratch, x, T, t float64) {
	s.rows = s.rows[:0]
	for d := range b.r {
		s.r[d], s.c[d] = b.r[d]+x, t/(b.alpha[d]+T+t)
		s.rows = append(s.rows, math.Exp(s.r[d]*math.Log1p(-s.c[d])))
	}
}

func (b nbdBound) quantile(s *nbdScratch, pa []float64, q float64) int {
	D := len(b.r)
	r, c := s.r, s.c
	var cdf float64
	for k := 0; k < 1<<20; k++ {
		// P(k) = P(k-1)·(r'+k-1)/k·t/(α'+t), kept for the pair's next
		// walks up to nbdRows counts and stepped in place beyond.
		var p []float64
		switch {
		case k*D < len(s.rows):
			p = s.rows[k*D : (k+1)*D]
		case k < nbdRows:
			for d := range D {
				s.rows = append(s.rows, s.rows[(k-1)*D+d]*((r[d]+float64(k-1))/float64(k)*c[d]))
			}
			p = s.rows[k*D:]
		default:
			if k == nbdRows {
				s.roll = append(s.roll[:0], s.rows[(k-1)*D:]...)
			}
			for d := range D {
				s.roll[d] *= (r[d] + float64(k-1)) / float64(k) * c[d]
			}
			p = s.roll
		}
		var sum float64
		for d := range D {
			v := pa[d] * p[d]
			if k == 0 {
				v += 1 - pa[d]
			}
			sum += v
		}
		cdf += sum / float64(D)
		if cdf >= q*(1-1e-12) {
			return k
		}
	}
	return 1 << 20
}
