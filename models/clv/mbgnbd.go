package clv

import (
	"context"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// MBGNBD is the modified BG/NBD model of Batislam, Denizel and Filiztekin
// (2007): as BG/NBD, but a customer may also drop out right after the first
// purchase, so customers with x = 0 are not certainly alive.
type MBGNBD struct{ R, Alpha, A, B float64 }

// Name implements PurchaseModel.
func (MBGNBD) Name() string { return "mbgnbd" }

// Params implements PurchaseModel.
func (m MBGNBD) Params() map[string]float64 {
	return map[string]float64{"r": m.R, "alpha": m.Alpha, "a": m.A, "b": m.B}
}

func (m MBGNBD) vec() []float64 { return []float64{m.R, m.Alpha, m.A, m.B} }

// LogLik implements PurchaseModel. A nil w means unit weights.
func (m MBGNBD) LogLik(x, tx, T, w []float64) float64 {
	return mbgnbdLogLik(m.vec(), x, tx, T, w, nil)
}

// mbgnbdLogLik is the MBG/NBD analogue of bgnbdLogLik; see bgLik.
func mbgnbdLogLik(p, x, tx, T, w, grad []float64) float64 {
	rows := indexRows(x, tx, T, w)
	return newBGLik(&rows, true, pool{workers: 1}).eval(p, grad, nil)
}

// PAlive implements PurchaseModel.
func (m MBGNBD) PAlive(x, tx, T float64) float64 {
	l := math.Log(m.A) - math.Log(m.B+x) + (m.R+x)*math.Log1p((T-tx)/(m.Alpha+tx))
	return 1 / (1 + math.Exp(l))
}

// ExpectedPurchases implements PurchaseModel: E[Y(t) | x, t_x, T],
// computed as P(alive) · horizon(t, x, T).
func (m MBGNBD) ExpectedPurchases(t, x, tx, T float64) float64 {
	if t == 0 {
		return 0
	}
	return m.horizon(t, x, T) * m.PAlive(x, tx, T)
}

// horizon returns E[Y(t) | x, t_x, T] / P(alive). As for BG/NBD,
// ((α+T)/(α+T+t))^{r+x} 2F1(r+x, b+x+1; a+b+x; z) is evaluated as
// (1-z)^{a-1} 2F1(a+b-r, a-1; a+b+x; z).
func (m MBGNBD) horizon(t, x, T float64) float64 {
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	if math.Abs(a-1) < 1e-7 {
		lo, hi := m, m
		lo.A, hi.A = 1-1e-6, 1+1e-6
		return (lo.horizon(t, x, T) + hi.horizon(t, x, T)) / 2
	}
	z := t / (al + T + t)
	g := math.Exp((a-1)*math.Log1p(-z)) * mathext.Hypergeo(a+b-r, a-1, a+b+x, z)
	return (a + b + x) / (a - 1) * (1 - g)
}

// UnconditionalExpectedPurchases implements PurchaseModel. It equals the
// conditional expectation at x = t_x = T = 0.
func (m MBGNBD) UnconditionalExpectedPurchases(t float64) float64 {
	return m.ExpectedPurchases(t, 0, 0, 0)
}

// ProbNPurchases implements PurchaseModel: P(X(t) = n) for a customer just
// acquired, the MBG/NBD form of FHL 2005 eq. 8.
func (m MBGNBD) ProbNPurchases(n int, t float64) float64 {
	if n < 0 {
		return 0
	}
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	fn := float64(n)
	lbab := mathext.Lbeta(a, b)
	q := t / (al + t)
	first := math.Exp(mathext.Lbeta(a, b+fn+1) - lbab + lgam(r+fn) - lgam(r) - lgam(fn+1) +
		r*math.Log(al/(al+t)) + xlogy(fn, q))
	tail := 1.0
	if n > 0 {
		tail = mathext.RegIncBeta(fn, r, q)
	}
	return first + math.Exp(mathext.Lbeta(a+1, b+fn)-lbab)*tail
}

// FitMBGNBD fits an MBG/NBD model to per-customer summaries.
func FitMBGNBD(ctx context.Context, x, tx, T []float64, opt FitOptions) (MBGNBD, FitResult, error) {
	p, res, err := fitPurchase(ctx, "MBG/NBD", x, tx, T, opt, bgFamily(true), bgStart, bgDropout(true))
	if err != nil {
		return MBGNBD{}, res, err
	}
	return MBGNBD{R: p[0], Alpha: p[1], A: p[2], B: p[3]}, res, nil
}
