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
// respect to (r, α, a, b); see bgLik.
func bgnbdLogLik(p, x, tx, T, w, grad []float64) float64 {
	rows := indexRows(x, tx, T, w)
	return newBGLik(&rows, false, pool{workers: 1}).eval(p, grad, nil)
}

// bgLik evaluates the BG/NBD log-likelihood (FHL 2005, eq. 6) or, with mod
// set, the MBG/NBD one, with its gradient and Hessian in (r, α, a, b). Per
// customer it is written as
//
//	ℓ = c(x) - (r+x) ln(α+T) + 1{A4} softplus(d),
//	d = ln a - ln(b+x-1+e) + (r+x) [ln(α+T) - ln(α+t_x)],
//	c(x) = ln Γ(r+x) - ln Γ(r) + r ln α + ln B(a, b+x+e) - ln B(a, b),
//
// with e = 0 for BG/NBD, where the A4 term exists only for x > 0, and e = 1
// for MBG/NBD, where it always does. This is ln(e^{A3} + e^{A4}) with
// A3 = -(r+x) ln(α+T) factored out: no power of (α+T) is formed, so x in
// the hundreds cannot overflow, and a row costs one exp and one log1p. The
// terms of c(x) and the logarithms of α+τ are computed once per distinct
// value and evaluation, and the rows are summed in fixed chunks in
// parallel.
type bgLik struct {
	rows *purchaseRows
	e    float64
	pool pool

	// Per distinct x.
	c, lnA, inv, cr, ca, cb, crr, caa, cbb []float64
	// Per distinct t_x and T: ln(α+τ) and 1/(α+τ).
	lt, it, lT, iT []float64
	buf            []float64
}

func newBGLik(rows *purchaseRows, mod bool, p pool) *bgLik {
	k := &bgLik{rows: rows, pool: p}
	if mod {
		k.e = 1
	}
	nx := len(rows.xs)
	for _, s := range []*[]float64{&k.c, &k.lnA, &k.inv, &k.cr, &k.ca, &k.cb, &k.crr, &k.caa, &k.cbb} {
		*s = make([]float64, nx)
	}
	k.lt, k.it = make([]float64, len(rows.txs)), make([]float64, len(rows.txs))
	k.lT, k.iT = make([]float64, len(rows.Ts)), make([]float64, len(rows.Ts))
	return k
}

// hasA4 reports whether customers with x purchases may have dropped out.
func (k *bgLik) hasA4(x float64) bool { return x > 0 || k.e == 1 }

// Accumulator layout: value, gradient (4), Hessian upper triangle (10) in
// the order rr rα ra rb αα αa αb aa ab bb.
const bgAcc = 15

func (k *bgLik) eval(p, grad, hess []float64) float64 {
	r, al, a, b := p[0], p[1], p[2], p[3]
	e := k.e
	lnal := math.Log(al)
	lgr, lgab, lgb := lgam(r), lgam(a+b), lgam(b)
	var psr, psab, psb, tgr, tgab, tgb float64
	if grad != nil {
		psr, psab, psb = digamma(r), digamma(a+b), digamma(b)
	}
	if hess != nil {
		tgr, tgab, tgb = trigamma(r), trigamma(a+b), trigamma(b)
	}
	for j, x := range k.rows.xs {
		k.c[j] = lgam(r+x) - lgr + r*lnal + lgab + lgam(b+x+e) - lgb - lgam(a+b+x+e)
		if k.hasA4(x) {
			k.lnA[j] = math.Log(a) - math.Log(b+x-1+e)
			k.inv[j] = 1 / (b + x - 1 + e)
		}
		if grad != nil {
			psabx := digamma(a + b + x + e)
			k.cr[j] = digamma(r+x) - psr + lnal
			k.ca[j] = psab - psabx
			k.cb[j] = psab + digamma(b+x+e) - psb - psabx
		}
		if hess != nil {
			tgabx := trigamma(a + b + x + e)
			k.crr[j] = trigamma(r+x) - tgr
			k.caa[j] = tgab - tgabx
			k.cbb[j] = tgab + trigamma(b+x+e) - tgb - tgabx
		}
	}
	logTable(k.pool, k.rows.txs, al, k.lt, k.it)
	logTable(k.pool, k.rows.Ts, al, k.lT, k.iT)

	var acc [bgAcc]float64
	k.buf = k.pool.sum(k.rows.Len(), acc[:], k.buf, func(lo, hi int, acc []float64) {
		k.rowsSum(r, al, a, lo, hi, grad != nil, hess != nil, acc)
	})
	if grad != nil {
		copy(grad, acc[1:5])
	}
	if hess != nil {
		upperToFull(hess, 4, acc[5:])
	}
	return acc[0]
}

func (k *bgLik) rowsSum(r, al, a float64, lo, hi int, wantGrad, wantHess bool, acc []float64) {
	rows := k.rows
	ia, ia2, ial := 1/a, 1/(a*a), 1/al
	var v, gr, gal, ga, gb float64
	var hrr, hral, hra, hrb, halal, hala, halb, haa, hab, hbb float64
	for i := lo; i < hi; i++ {
		w := rows.W[i]
		j := rows.ix[i]
		rx := r + rows.xs[j]
		jT := rows.iT[i]
		lT, iT := k.lT[jT], k.iT[jT]
		l := k.c[j] - rx*lT
		var s, lt, it float64 // s = σ(d): the weight of the dropped-out branch
		if k.hasA4(rows.xs[j]) {
			jt := rows.itx[i]
			lt, it = k.lt[jt], k.it[jt]
			d := k.lnA[j] + rx*(lT-lt)
			if d > 0 {
				q := math.Exp(-d)
				l += d + math.Log1p(q)
				s = 1 / (1 + q)
			} else {
				q := math.Exp(d)
				l += math.Log1p(q)
				s = q / (1 + q)
			}
		}
		v += w * l
		if !wantGrad {
			continue
		}
		dr, dal := lT-lt, rx*(iT-it) // ∂d/∂r, ∂d/∂α; zero when s = 0
		inv := k.inv[j]
		ws := w * s
		gr += w*(k.cr[j]-lT) + ws*dr
		gal += w*(r*ial-rx*iT) + ws*dal
		ga += w*k.ca[j] + ws*ia
		gb += w*k.cb[j] - ws*inv
		if !wantHess {
			continue
		}
		// softplus'' = σ(1-σ) along ∇d ∇dᵀ, plus σ ∇²d.
		wv := ws * (1 - s)
		hrr += w*k.crr[j] + wv*dr*dr
		hral += w*(ial-iT) + wv*dr*dal + ws*(iT-it)
		hra += wv * dr * ia
		hrb -= wv * dr * inv
		halal += w*(rx*iT*iT-r*ial*ial) + wv*dal*dal - ws*rx*(iT*iT-it*it)
		hala += wv * dal * ia
		halb -= wv * dal * inv
		haa += w*k.caa[j] + (wv-ws)*ia2
		hab += w*k.caa[j] - wv*inv*ia
		hbb += w*k.cbb[j] + (wv+ws)*inv*inv
	}
	acc[0] = v
	acc[1], acc[2], acc[3], acc[4] = gr, gal, ga, gb
	acc[5], acc[6], acc[7], acc[8] = hrr, hral, hra, hrb
	acc[9], acc[10], acc[11] = halal, hala, halb
	acc[12], acc[13], acc[14] = haa, hab, hbb
}

// logTable fills l[i] = ln(c+τ[i]) and inv[i] = 1/(c+τ[i]).
func logTable(p pool, tau []float64, c float64, l, inv []float64) {
	p.each(len(tau), 4*evalChunk, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			l[i] = math.Log(c + tau[i])
			inv[i] = 1 / (c + tau[i])
		}
	})
}

// upperToFull expands a row-major upper triangle into a full n×n matrix.
func upperToFull(dst []float64, n int, upper []float64) {
	k := 0
	for i := range n {
		for j := i; j < n; j++ {
			dst[i*n+j], dst[j*n+i] = upper[k], upper[k]
			k++
		}
	}
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
// (FHL 2005, eq. 10), computed as P(alive) · horizon(t, x, T).
func (m BGNBD) ExpectedPurchases(t, x, tx, T float64) float64 {
	if t == 0 {
		return 0
	}
	return m.horizon(t, x, T) * m.PAlive(x, tx, T)
}

// horizon returns E[Y(t) | x, t_x, T] / P(alive), which does not depend on
// t_x: (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^{r+x} 2F1(r+x, b+x;
// a+b+x-1; z)], z = t/(α+T+t). Euler's transformation rewrites the
// bracketed product as (1-z)^{a-1} 2F1(a+b-1-r, a-1; a+b+x-1; z), whose
// series neither overflows nor diverges as x grows.
func (m BGNBD) horizon(t, x, T float64) float64 {
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	if math.Abs(a-1) < 1e-7 {
		// Removable singularity at a = 1; average the two sides.
		lo, hi := m, m
		lo.A, hi.A = 1-1e-6, 1+1e-6
		return (lo.horizon(t, x, T) + hi.horizon(t, x, T)) / 2
	}
	z := t / (al + T + t)
	g := math.Exp((a-1)*math.Log1p(-z)) * mathext.Hypergeo(a+b-1-r, a-1, a+b+x-1, z)
	return (a + b + x - 1) / (a - 1) * (1 - g)
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
	if n == 0 && min(r, a, b) > 0 && max(r, a, b) < 1e300 {
		// (α/(α+t))^r: the expression below at n = 0, where the log-betas
		// and log-gammas cancel exactly while they are finite (they are
		// for parameters in (0, 1e300)) and xlogy is 0, so the same bits
		// without two log-betas and three log-gammas. The next-order time
		// evaluates it a few times a customer.
		return math.Exp(r * math.Log(al/(al+t)))
	}
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
	p, res, err := fitPurchase(ctx, "BG/NBD", x, tx, T, opt, bgFamily(false), bgStart, bgDropout(false))
	if err != nil {
		return BGNBD{}, res, err
	}
	return BGNBD{R: p[0], Alpha: p[1], A: p[2], B: p[3]}, res, nil
}

// bgStart is the starting point of BG/NBD and MBG/NBD fits: r = 1 and α
// matching the pooled purchase rate, a = b = 1 (a uniform drop-out
// probability). Newton's method converges from here on the CDNOW data and
// on simulated data far from it.
func bgStart(rate float64) []float64 { return []float64{1, 1 / rate, 1, 1} }

// bgFamily adapts bgLik to fitPurchase.
func bgFamily(mod bool) likBuilder {
	return func(rows *purchaseRows, p pool) (logLikFunc, bool) {
		k := newBGLik(rows, mod, p)
		return k.eval, true
	}
}

// likBuilder prepares a model's likelihood over compressed rows and
// reports whether it provides Hessians.
type likBuilder func(rows *purchaseRows, p pool) (ll logLikFunc, hasHess bool)

// minCustomers is the smallest sample fitted: a four-parameter mixture
// cannot be identified from fewer customers, and a handful of them would
// yield parameters no one should act on.
const minCustomers = 10

// fitPurchase validates, compresses and fits a purchase model. init returns
// a starting point given the pooled purchase rate Σx/ΣT. A model with a
// drop-out process passes its limit, and a fit that fails at the
// no-dropout boundary then returns a *NoDropoutError.
func fitPurchase(ctx context.Context, name string, x, tx, T []float64, opt FitOptions, build likBuilder, init func(rate float64) []float64, limit *dropoutLimit) ([]float64, FitResult, error) {
	if err := validatePurchases(x, tx, T); err != nil {
		return nil, FitResult{}, fmt.Errorf("fit %s: %w", name, err)
	}
	if len(x) < minCustomers {
		return nil, FitResult{}, fmt.Errorf("fit %s: %d customers, need at least %d: %w", name, len(x), minCustomers, ErrNotConverged)
	}
	rows, err := compressRows(x, tx, T)
	if err != nil {
		return nil, FitResult{}, fmt.Errorf("fit %s: %w", name, err)
	}
	p, res, err := fitRows(ctx, &rows, len(x), opt, build, init)
	if err != nil {
		if limit != nil {
			err = limit.check(ctx, err, x, T, &rows, opt)
		}
		return nil, res, fmt.Errorf("fit %s: %w", name, err)
	}
	return p, res, nil
}

// fitRows fits a purchase model to the compressed rows of n validated
// customers; see fitPurchase.
func fitRows(ctx context.Context, rows *purchaseRows, n int, opt FitOptions, build likBuilder, init func(rate float64) []float64) ([]float64, FitResult, error) {
	// Summed over the sorted rows, so that the start, and with it the
	// result, does not depend on the order of the customers.
	var sx, sT float64
	for i, w := range rows.W {
		sx += w * rows.X[i]
		sT += w * rows.T[i]
	}
	if sx == 0 || sT == 0 {
		return nil, FitResult{}, fmt.Errorf("no repeat purchases or no observation time, the model is not identified: %w", ErrNotConverged)
	}
	ll, hasHess := build(rows, newPool(opt.Workers))
	p, res, err := maximize(ctx, ll, hasHess, init(sx/sT), float64(n), opt)
	res.N, res.Distinct = n, rows.Len()
	return p, res, err
}
