package clv

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD is the beta-geometric/NBD model of Fader, Hardie and Lee (2005):
// while alive a customer buys at Poisson rate λ ~ Gamma(R, Alpha) and after
// each purchase drops out with probability p ~ Beta(A, B).
type BGNBD struct{ R, Alpha, A, B float64 }

// Name implements PurchaseModel.
func (BGNBD) Name() string { return "bgnbd" }

// Params implements PurchaseModel.
func (m BGNBD) Params() map[string]float64 {
	return map[string]float64{"r": m.R, "alpha": m.Alpha, "a": m.A, "b": m.B}
}

func (m BGNBD) vec() []float64 { return []float64{m.R, m.Alpha, m.A, m.B} }

// LogLik implements PurchaseModel. A nil w means unit weights.
func (m BGNBD) LogLik(x, tx, T, w []float64) float64 {
	return bgnbdLogLik(m.vec(), x, tx, T, w, nil)
}

// bgnbdLogLik returns Σ w·ℓ and, if grad is non-nil, its gradient with
// respect to (r, α, a, b). The per-customer likelihood (FHL 2005, eq. 6) is
// written as
//
//	ℓ = c(x) + r ln α + ln[ e^{A3} + 1{x>0} e^{A4} ],
//	A3 = -(r+x) ln(α+T),  A4 = ln a - ln(b+x-1) - (r+x) ln(α+t_x),
//
// with c(x) = ln Γ(r+x) - ln Γ(r) + ln B(a, b+x) - ln B(a, b), so that no
// power of (α+T) is ever formed and x in the hundreds cannot overflow.
func bgnbdLogLik(p, x, tx, T, w, grad []float64) float64 {
	r, al, a, b := p[0], p[1], p[2], p[3]
	lgr, lgb, lgab := lgam(r), lgam(b), lgam(a+b)
	lnal, lna := math.Log(al), math.Log(a)
	var psr, psb, psab float64
	if grad != nil {
		psr, psb, psab = mathext.Digamma(r), mathext.Digamma(b), mathext.Digamma(a+b)
		clear(grad)
	}
	var sum float64
	var gr, gal, ga, gb float64
	prevX := math.NaN()
	var cx, cr, ca, cb, lnbx1 float64
	for i, xi := range x {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		if xi != prevX {
			prevX = xi
			cx = lgam(r+xi) - lgr + lgab + lgam(b+xi) - lgb - lgam(a+b+xi)
			if xi > 0 {
				lnbx1 = math.Log(b + xi - 1)
			}
			if grad != nil {
				psabx := mathext.Digamma(a + b + xi)
				cr = mathext.Digamma(r+xi) - psr
				ca = psab - psabx
				cb = psab + mathext.Digamma(b+xi) - psb - psabx
			}
		}
		rx := r + xi
		lT := math.Log(al + T[i])
		a3 := -rx * lT
		a4 := math.Inf(-1)
		var lt float64
		if xi > 0 {
			lt = math.Log(al + tx[i])
			a4 = lna - lnbx1 - rx*lt
		}
		l, w3, w4 := logAddExp(a3, a4)
		sum += wi * (cx + r*lnal + l)
		if grad != nil {
			gr += wi * (cr + lnal - w3*lT - w4*lt)
			gal += wi * (r/al - w3*rx/(al+T[i]))
			ga += wi * ca
			gb += wi * cb
			if xi > 0 {
				gal -= wi * w4 * rx / (al + tx[i])
				ga += wi * w4 / a
				gb -= wi * w4 / (b + xi - 1)
			}
		}
	}
	if grad != nil {
		grad[0], grad[1], grad[2], grad[3] = gr, gal, ga, gb
	}
	return sum
}

// PAlive implements PurchaseModel: P(alive | x, t_x, T) (FHL 2005, eq. 13).
func (m BGNBD) PAlive(x, tx, T float64) float64 {
	if x == 0 {
		return 1
	}
	l := math.Log(m.A) - math.Log(m.B+x-1) + (m.R+x)*math.Log1p((T-tx)/(m.Alpha+tx))
	return 1 / (1 + math.Exp(l))
}

// ExpectedPurchases implements PurchaseModel: E[Y(t) | x, t_x, T]
// (FHL 2005, eq. 10). The factor ((α+T)/(α+T+t))^{r+x} 2F1(r+x, b+x;
// a+b+x-1; z) is rewritten with Euler's transformation as
// (1-z)^{a-1} 2F1(a+b-1-r, a-1; a+b+x-1; z), whose series neither overflows
// nor diverges as x grows.
func (m BGNBD) ExpectedPurchases(t, x, tx, T float64) float64 {
	if t == 0 {
		return 0
	}
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	if math.Abs(a-1) < 1e-7 {
		// Removable singularity at a = 1; average the two sides.
		lo, hi := m, m
		lo.A, hi.A = 1-1e-6, 1+1e-6
		return (lo.ExpectedPurchases(t, x, tx, T) + hi.ExpectedPurchases(t, x, tx, T)) / 2
	}
	z := t / (al + T + t)
	g := math.Exp((a-1)*math.Log1p(-z)) * mathext.Hypergeo(a+b-1-r, a-1, a+b+x-1, z)
	return (a + b + x - 1) / (a - 1) * (1 - g) * m.PAlive(x, tx, T)
}

// UnconditionalExpectedPurchases implements PurchaseModel: E[X(t)] for a
// customer just acquired (FHL 2005, eq. 9).
func (m BGNBD) UnconditionalExpectedPurchases(t float64) float64 {
	return m.ExpectedPurchases(t, 0, 0, 0)
}

// ProbNPurchases implements PurchaseModel: P(X(t) = n) for a customer just
// acquired (FHL 2005, eq. 8). The bracket 1 - Σ_{j<n} NB(j) is the upper
// tail of a negative binomial and is computed as a regularised incomplete
// beta function, which avoids the cancellation of the finite sum.
func (m BGNBD) ProbNPurchases(n int, t float64) float64 {
	if n < 0 {
		return 0
	}
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	fn := float64(n)
	lbab := mathext.Lbeta(a, b)
	q := t / (al + t)
	first := math.Exp(mathext.Lbeta(a, b+fn) - lbab + lgam(r+fn) - lgam(r) - lgam(fn+1) +
		r*math.Log(al/(al+t)) + xlogy(fn, q))
	if n == 0 {
		return first
	}
	return first + math.Exp(mathext.Lbeta(a+1, b+fn-1)-lbab)*mathext.RegIncBeta(fn, r, q)
}

// xlogy returns x·ln y with 0·ln 0 = 0.
func xlogy(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(y)
}

// FitBGNBD fits a BG/NBD model to per-customer summaries.
func FitBGNBD(ctx context.Context, x, tx, T []float64, opt FitOptions) (BGNBD, FitResult, error) {
	p, res, err := fitPurchase(ctx, "BG/NBD", x, tx, T, opt, bgnbdLogLik, true, func(rate float64) []float64 {
		return []float64{1, 1 / rate, 1, 1}
	})
	if err != nil {
		return BGNBD{}, res, err
	}
	return BGNBD{R: p[0], Alpha: p[1], A: p[2], B: p[3]}, res, nil
}

type weightedLogLik func(p, x, tx, T, w, grad []float64) float64

// minCustomers is the smallest sample fitted: a four-parameter mixture
// cannot be identified from fewer customers, and a handful of them would
// yield parameters no one should act on.
const minCustomers = 10

// fitPurchase validates, compresses and fits a purchase model. init returns
// a starting point given the pooled purchase rate Σx/ΣT.
func fitPurchase(ctx context.Context, name string, x, tx, T []float64, opt FitOptions, f weightedLogLik, analytic bool, init func(rate float64) []float64) ([]float64, FitResult, error) {
	if err := validatePurchases(x, tx, T); err != nil {
		return nil, FitResult{}, fmt.Errorf("fit %s: %w", name, err)
	}
	if len(x) < minCustomers {
		return nil, FitResult{}, fmt.Errorf("fit %s: %d customers, need at least %d: %w", name, len(x), minCustomers, ErrNotConverged)
	}
	var sx, sT float64
	for i := range x {
		sx += x[i]
		sT += T[i]
	}
	if sx == 0 || sT == 0 {
		return nil, FitResult{}, fmt.Errorf("fit %s: no repeat purchases or no observation time, the model is not identified: %w", name, ErrNotConverged)
	}
	c, _ := Compress(x, tx, T)
	ll := func(p, grad []float64) float64 { return f(p, c.X, c.Tx, c.T, c.W, grad) }
	if f == nil {
		// Pareto/NBD: no gradient, and an index that pays off over the
		// many evaluations of a fit.
		ix := newPNBDIndex(c.X, c.Tx, c.T, c.W)
		ll = func(p, _ []float64) float64 { return ix.logLik(p) }
	}
	p, res, err := maximize(ctx, ll, analytic, init(sx/sT), float64(len(x)), opt)
	res.N, res.Distinct = len(x), c.Len()
	if err != nil {
		return nil, res, fmt.Errorf("fit %s: %w", name, err)
	}
	return p, res, nil
}
