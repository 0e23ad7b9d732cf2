package clv

import (
	"context"
	"fmt"
	"math"
)

// NBD is the negative binomial distribution model of Ehrenberg (1959),
// in the form of Morrison and Schmittlein (1988): a customer buys at Poisson
// rate λ ~ Gamma(R, Alpha) for ever. It is what BG/NBD and MBG/NBD become as
// the drop-out probability vanishes (b → ∞) and Pareto/NBD as lifetimes
// grow without bound (β → ∞), and so the model to fit when a panel shows
// no sign of anyone leaving: there the others' likelihoods rise without
// bound towards it and have no estimate (see NoDropoutError). P(alive) is
// 1 for everyone.
//
// It uses the package's summaries unchanged. Under the BG/NBD story the
// first purchase starts the clock, and a Poisson process is memoryless, so
// the x repeat purchases in the following T are Poisson(λT): x is the
// number of repeat purchase days and T the time from the first purchase to
// the calibration end, as for the other models, and t_x is irrelevant.
// LogLik is the likelihood of the purchase times given λ, λ^x e^{-λT},
// mixed over λ:
//
//	ℓ = ln Γ(r+x) - ln Γ(r) + r ln α - (r+x) ln(α+T),
//
// the likelihood BG/NBD (FHL 2005, eq. 6) and Pareto/NBD use, which they
// converge to in the no-dropout limit, so that log-likelihoods can be
// compared across the models. It differs from the log-probability of the
// count, ln P(X(T) = x) = ℓ + x ln T - ln x!, by a term free of the
// parameters: the estimates are the same.
type NBD struct{ R, Alpha float64 }

var (
	_ PurchaseModel = NBD{}
	_ factored      = NBD{}
)

// Name implements PurchaseModel.
func (NBD) Name() string { return "nbd" }

// Params implements PurchaseModel.
func (m NBD) Params() map[string]float64 {
	return map[string]float64{"r": m.R, "alpha": m.Alpha}
}

func (m NBD) vec() []float64 { return []float64{m.R, m.Alpha} }

// LogLik implements PurchaseModel. A nil w means unit weights; tx is not
// used.
func (m NBD) LogLik(x, tx, T, w []float64) float64 {
	return nbdLogLik(m.vec(), x, T, w, nil, nil)
}

// nbdLogLik returns Σ w·ℓ and, if grad (hess) is non-nil, its gradient
// (Hessian, 2×2 row-major) with respect to (r, α); see nbdLik.
func nbdLogLik(p, x, T, w, grad, hess []float64) float64 {
	rows := indexRows(x, make([]float64, len(x)), T, w)
	return newNBDLik(&rows, pool{workers: 1}).eval(p, grad, hess)
}

// nbdLik evaluates the NBD log-likelihood (see NBD) with its gradient and
// Hessian in (r, α):
//
//	∂ℓ/∂r  = ψ(r+x) - ψ(r) + ln α - ln(α+T),    ∂ℓ/∂α  = r/α - (r+x)/(α+T),
//	∂²ℓ/∂r² = ψ′(r+x) - ψ′(r),   ∂²ℓ/∂r∂α = 1/α - 1/(α+T),
//	∂²ℓ/∂α² = (r+x)/(α+T)² - r/α².
//
// The terms in x alone are computed once per distinct x and those in T
// once per distinct T; the rows are those of (x, T), t_x having been set
// to 0 before compression so that customers differing only in t_x share a
// row.
type nbdLik struct {
	rows *purchaseRows
	pool pool

	c, cr, crr []float64 // per x: ln Γ(r+x) - ln Γ(r) + r ln α, its ∂r, ∂²r
	lT, iT     []float64 // per T: ln(α+T), 1/(α+T)
	buf        []float64
}

func newNBDLik(rows *purchaseRows, p pool) *nbdLik {
	nx, nT := len(rows.xs), len(rows.Ts)
	return &nbdLik{rows: rows, pool: p,
		c: make([]float64, nx), cr: make([]float64, nx), crr: make([]float64, nx),
		lT: make([]float64, nT), iT: make([]float64, nT)}
}

// Accumulator layout: value, gradient (2), Hessian upper triangle (3).
const nbdAcc = 6

func (k *nbdLik) eval(p, grad, hess []float64) float64 {
	r, al := p[0], p[1]
	lnal := math.Log(al)
	lgr := lgam(r)
	var psr, tgr float64
	if grad != nil {
		psr = digamma(r)
	}
	if hess != nil {
		tgr = trigamma(r)
	}
	for j, x := range k.rows.xs {
		k.c[j] = lgam(r+x) - lgr + r*lnal
		if grad != nil {
			k.cr[j] = digamma(r+x) - psr + lnal
		}
		if hess != nil {
			k.crr[j] = trigamma(r+x) - tgr
		}
	}
	logTable(k.pool, k.rows.Ts, al, k.lT, k.iT)

	var acc [nbdAcc]float64
	k.buf = k.pool.sum(k.rows.Len(), acc[:], k.buf, func(lo, hi int, acc []float64) {
		k.rowsSum(r, al, lo, hi, grad != nil, hess != nil, acc)
	})
	if grad != nil {
		copy(grad, acc[1:3])
	}
	if hess != nil {
		upperToFull(hess, 2, acc[3:])
	}
	return acc[0]
}

func (k *nbdLik) rowsSum(r, al float64, lo, hi int, wantGrad, wantHess bool, acc []float64) {
	rows := k.rows
	ial := 1 / al
	var v, gr, gal, hrr, hral, halal float64
	for i := lo; i < hi; i++ {
		w := rows.W[i]
		j := rows.ix[i]
		rx := r + rows.xs[j]
		lT, iT := k.lT[rows.iT[i]], k.iT[rows.iT[i]]
		v += w * (k.c[j] - rx*lT)
		if !wantGrad {
			continue
		}
		gr += w * (k.cr[j] - lT)
		gal += w * (r*ial - rx*iT)
		if !wantHess {
			continue
		}
		hrr += w * k.crr[j]
		hral += w * (ial - iT)
		halal += w * (rx*iT*iT - r*ial*ial)
	}
	acc[0] = v
	acc[1], acc[2] = gr, gal
	acc[3], acc[4], acc[5] = hrr, hral, halal
}

// PAlive implements PurchaseModel: nobody drops out.
func (NBD) PAlive(x, tx, T float64) float64 { return 1 }

// ExpectedPurchases implements PurchaseModel: E[Y(t) | x, T] =
// (r+x)/(α+T) · t, the posterior mean rate (λ | x, T ~ Gamma(r+x, α+T))
// times t.
func (m NBD) ExpectedPurchases(t, x, tx, T float64) float64 {
	return m.horizon(t, x, T)
}

// horizon is ExpectedPurchases: P(alive) = 1 factors out trivially.
func (m NBD) horizon(t, x, T float64) float64 {
	if t == 0 {
		return 0
	}
	return (m.R + x) / (m.Alpha + T) * t
}

// UnconditionalExpectedPurchases implements PurchaseModel: E[X(t)] = r t/α.
func (m NBD) UnconditionalExpectedPurchases(t float64) float64 {
	return m.horizon(t, 0, 0)
}

// ProbNPurchases implements PurchaseModel: the negative binomial
// P(X(t) = n) = Γ(r+n)/(Γ(r) n!) (α/(α+t))^r (t/(α+t))^n.
func (m NBD) ProbNPurchases(n int, t float64) float64 {
	if n < 0 {
		return 0
	}
	r, al := m.R, m.Alpha
	if n == 0 && r < math.MaxFloat64 {
		// (α/(α+t))^r: the expression below at n = 0, where the log-gammas
		// cancel exactly (Lgamma(1) is 0) and xlogy is 0, so the same bits
		// without three log-gammas. The next-order time evaluates it ~40
		// times a customer (a third of a 1M-customer run's CLV stage).
		return math.Exp(r * math.Log(al/(al+t)))
	}
	fn := float64(n)
	return math.Exp(lgam(r+fn) - lgam(r) - lgam(fn+1) + r*math.Log(al/(al+t)) + xlogy(fn, t/(al+t)))
}

// FitNBD fits an NBD model to per-customer summaries; tx is validated
// like the other models' but does not enter the likelihood. A fit fails
// (ErrNotConverged) when the purchase rates show no heterogeneity: the
// likelihood then rises towards the Poisson limit r, α → ∞ at a fixed r/α.
func FitNBD(ctx context.Context, x, tx, T []float64, opt FitOptions) (NBD, FitResult, error) {
	if err := validatePurchases(x, tx, T); err != nil {
		return NBD{}, FitResult{}, fmt.Errorf("fit NBD: %w", err)
	}
	p, res, err := fitPurchase(ctx, "NBD", x, make([]float64, len(x)), T, opt, nbdFamily, nbdStart, nil)
	if err != nil {
		return NBD{}, res, err
	}
	return NBD{R: p[0], Alpha: p[1]}, res, nil
}

// fitNBDRows is FitNBD(ctx, x, zeros, T, opt) for the customers x, T of a
// validated fit whose compressed rows are rows: the NBD's rows, those of
// (x, 0, T), are merged from rows (see purchaseRows.withoutTx), with the
// same values, weights and order as compressing again would give, so the
// fit is the same bit for bit without another pass over the customers.
func fitNBDRows(ctx context.Context, x, T []float64, rows *purchaseRows, opt FitOptions) (NBD, FitResult, error) {
	nr, ok := rows.withoutTx()
	if !ok {
		return FitNBD(ctx, x, make([]float64, len(x)), T, opt)
	}
	p, res, err := fitRows(ctx, &nr, len(x), opt, nbdFamily, nbdStart)
	if err != nil {
		return NBD{}, res, fmt.Errorf("fit NBD: %w", err)
	}
	return NBD{R: p[0], Alpha: p[1]}, res, nil
}

// nbdStart is r = 1, α matching the pooled purchase rate, as for BG/NBD.
func nbdStart(rate float64) []float64 { return []float64{1, 1 / rate} }

func nbdFamily(rows *purchaseRows, p pool) (logLikFunc, bool) {
	return newNBDLik(rows, p).eval, true
}
