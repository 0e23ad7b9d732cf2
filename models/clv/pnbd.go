package clv

import (
	"context"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// ParetoNBD is the Pareto/NBD model of Schmittlein, Morrison and Colombo
// (1987): while alive a customer buys at Poisson rate λ ~ Gamma(R, Alpha)
// and dies after an exponential lifetime with rate μ ~ Gamma(S, Beta).
//
// The likelihood (Fader and Hardie 2005, "A Note on Deriving the Pareto/NBD
// Model and Related Expressions") contains
//
//	A0 = F(t_x) - F(T),  F(τ) = 2F1(r+s+x, k; r+s+x+1; z(τ)) / (M+τ)^{r+s+x},
//
// with M = max(α, β), m = min(α, β), z(τ) = (M-m)/(M+τ) and k = s+1 when
// α ≥ β, k = r+x otherwise. Euler's transformation turns the hypergeometric
// factor into (1-z)^{1-k} 2F1(1, r+s+x+1-k; r+s+x+1; z), a series with
// positive, decreasing coefficients below 1, so ln F is computed without
// overflow or cancellation and A0 as F(t_x)·(1 - F(T)/F(t_x)) with expm1.
type ParetoNBD struct{ R, Alpha, S, Beta float64 }

// Name implements PurchaseModel.
func (ParetoNBD) Name() string { return "pnbd" }

// Params implements PurchaseModel.
func (m ParetoNBD) Params() map[string]float64 {
	return map[string]float64{"r": m.R, "alpha": m.Alpha, "s": m.S, "beta": m.Beta}
}

func (m ParetoNBD) vec() []float64 { return []float64{m.R, m.Alpha, m.S, m.Beta} }

// LogLik implements PurchaseModel. A nil w means unit weights.
func (m ParetoNBD) LogLik(x, tx, T, w []float64) float64 {
	return pnbdLogLik(m.vec(), x, tx, T, w, nil)
}

// hyp2f1Unit returns 2F1(1, b; c; z) for 0 <= z < 1 and 0 < b < c. All
// series coefficients lie in (0, 1] and decrease, so the plain series is
// summed without cancellation; its terms fall at least like z^k. It returns
// NaN when 1e5 terms do not suffice (z within ~4e-4 of 1, i.e.
// min(α,β)/max(α,β) below ~4e-4), which makes the likelihood fail loudly
// rather than inaccurately. gonum's Hypergeo is not used here: for the huge
// parameters an optimiser may probe it can run for minutes.
func hyp2f1Unit(b, c, z float64) float64 {
	sum, term := 1.0, 1.0
	for k := 0.0; k < 1e5; k++ {
		term *= (b + k) / (c + k) * z
		sum += term
		if term < 1e-17*sum {
			return sum
		}
	}
	return math.NaN()
}

// pnbdLogF returns ln F(τ) as defined in the ParetoNBD doc comment.
func pnbdLogF(rsx, k, big, small, tau float64) float64 {
	z := (big - small) / (big + tau)
	return -rsx*math.Log(big+tau) + (1-k)*math.Log1p(-z) + math.Log(hyp2f1Unit(rsx+1-k, rsx+1, z))
}

// pnbdAliveLog returns l1 = ln[(α+T)^{-(r+x)} (β+T)^{-s}], the likelihood
// of being alive at T without the common factor Γ(r+x) α^r β^s / Γ(r). It
// depends on x and T only.
func pnbdAliveLog(r, al, s, be, x, T float64) float64 {
	return -(r+x)*math.Log(al+T) - s*math.Log(be+T)
}

// pnbdPhi returns ln F(τ) for a customer with x purchases.
func pnbdPhi(r, al, s, be, x, tau float64) float64 {
	big, small, k := al, be, s+1
	if al < be {
		big, small, k = be, al, r+x
	}
	return pnbdLogF(r+x+s, k, big, small, tau)
}

// pnbdDiedBase returns g1 = ln(s/(r+s+x)) + ln F(t_x), so that the
// likelihood of having died in (t_x, T] is l2 = g1 + ln(1 - F(T)/F(t_x)).
// It depends on x and t_x only.
func pnbdDiedBase(r, s, x, f1 float64) float64 {
	return math.Log(s/(r+x+s)) + f1
}

// pnbdPAlive returns P(alive) = e^{l1} / (e^{l1} + e^{l2}) from l1, g1 and
// f1 = ln F(t_x), f2 = ln F(T), as 1/(1 + (1 - F(T)/F(t_x)) e^{g1-l1}): two
// transcendental calls, the bracket with expm1 so that t_x close to T
// loses no digits. An overflowing exponential gives 0, as it should.
func pnbdPAlive(l1, g1, f1, f2 float64) float64 {
	if f2 >= f1 {
		return 1
	}
	return 1 / (1 - math.Expm1(f2-f1)*math.Exp(g1-l1))
}

// hyp2f1UnitGrad returns H = 2F1(1, b; c; z) as hyp2f1Unit does, with the
// partial derivatives of ln H with respect to b, c and z. They are summed
// alongside the series: with t_k = Π_{j<k} (b+j)/(c+j) · z^k,
// ∂t_k/∂b = t_k Σ_{j<k} 1/(b+j), ∂t_k/∂c = -t_k Σ_{j<k} 1/(c+j) and
// ∂t_k/∂z = k t_k / z; all are positive series with the same geometric
// decay, summed until each one's terms are negligible.
func hyp2f1UnitGrad(b, c, z float64) (h, db, dc, dz float64) {
	const eps = 1e-17
	sum, term := 1.0, 1.0
	var sb, sc, sz, B, C float64
	for k := 0.0; k < 1e5; k++ {
		ib, ic := 1/(b+k), 1/(c+k)
		q := term * (b + k) * ic // t_{k+1}/z
		term = q * z
		B += ib
		C += ic
		sum += term
		sb += term * B
		sc += term * C
		sz += (k + 1) * q
		if term <= eps*sum && term*B <= eps*sb && term*C <= eps*sc && (k+1)*q <= eps*sz {
			return sum, sb / sum, -sc / sum, sz / sum
		}
	}
	return math.NaN(), math.NaN(), math.NaN(), math.NaN()
}

// pnbdLik evaluates the Pareto/NBD log-likelihood and its gradient in
// (r, α, s, β). Per customer,
//
//	ℓ = ln Γ(r+x) - ln Γ(r) + r ln α + s ln β + ln(e^{l1} + e^{l2}),
//	l1 = -(r+x) ln(α+T) - s ln(β+T),
//	l2 = ln(s/(r+s+x)) + ln(F(t_x) - F(T)),
//
// with F as in the ParetoNBD doc comment. After Euler's transformation,
// ln F(τ) = Φ(τ) is, for α >= β,
//
//	Φ = -(r+x) ln(α+τ) - s ln(β+τ) + ln H(r+x, r+s+x+1, (α-β)/(α+τ))
//
// and for α < β
//
//	Φ = (1-r-x) ln(α+τ) - (s+1) ln(β+τ) + ln H(s+1, r+s+x+1, (β-α)/(β+τ)),
//
// H(b, c, z) = 2F1(1, b; c; z). Φ and its gradient depend only on (x, τ),
// so they are computed once per distinct pair and evaluation (a few
// thousand pairs for the CDNOW master's 8,685 rows), then combined per
// row. The gradient of the hypergeometric factor comes from its series
// (hyp2f1UnitGrad), which makes the gradient cost about one likelihood
// evaluation instead of the eight of central differences.
type pnbdLik struct {
	rows *purchaseRows
	pool pool

	tau            []float64 // t_x values, then T values
	pairX, pairTau []int32   // distinct (x, τ) pairs: indices into xs and tau
	rowP1, rowP2   []int32   // per row: pairs (x, t_x) and (x, T); -1 if t_x = T
	la, lb, ia, ib []float64 // per τ: ln(α+τ), ln(β+τ) and reciprocals
	phi, dphi      []float64 // per pair: Φ and its gradient (4 per pair)
	cx, lsr, crx   []float64 // per x: constant terms, ln(s/(r+s+x)), ψ(r+x)
	buf            []float64
}

func newPNBDLik(rows *purchaseRows, p pool) *pnbdLik {
	k := &pnbdLik{rows: rows, pool: p}
	nt := len(rows.txs)
	k.tau = append(slices.Clone(rows.txs), rows.Ts...)
	n := rows.Len()
	k.rowP1, k.rowP2 = make([]int32, n), make([]int32, n)
	pairs := newKeyIndex(64)
	pairOf := func(jx, jt int32) int32 {
		id, added := pairs.id(uint64(jx), uint64(jt))
		if added {
			k.pairX = append(k.pairX, jx)
			k.pairTau = append(k.pairTau, jt)
		}
		return id
	}
	for i := range n {
		k.rowP1[i], k.rowP2[i] = -1, -1
		if rows.Tx[i] < rows.T[i] {
			k.rowP1[i] = pairOf(rows.ix[i], rows.itx[i])
			k.rowP2[i] = pairOf(rows.ix[i], int32(nt)+rows.iT[i])
		}
	}
	nτ, np, nx := len(k.tau), len(k.pairX), len(rows.xs)
	k.la, k.lb, k.ia, k.ib = make([]float64, nτ), make([]float64, nτ), make([]float64, nτ), make([]float64, nτ)
	k.phi, k.dphi = make([]float64, np), make([]float64, 4*np)
	k.cx, k.lsr, k.crx = make([]float64, nx), make([]float64, nx), make([]float64, nx)
	return k
}

func (k *pnbdLik) eval(p, grad, _ []float64) float64 {
	r, al, s, be := p[0], p[1], p[2], p[3]
	wantGrad := grad != nil
	logTable(k.pool, k.tau, al, k.la, k.ia)
	logTable(k.pool, k.tau, be, k.lb, k.ib)
	k.pool.each(len(k.pairX), evalChunk/4, func(_, lo, hi int) {
		for q := lo; q < hi; q++ {
			k.pair(q, r, al, s, be, wantGrad)
		}
	})
	lgr, lnal, lnbe := lgam(r), math.Log(al), math.Log(be)
	var psr float64
	if wantGrad {
		psr = digamma(r)
	}
	for j, x := range k.rows.xs {
		k.cx[j] = lgam(r+x) - lgr + r*lnal + s*lnbe
		k.lsr[j] = math.Log(s / (r + s + x))
		if wantGrad {
			k.crx[j] = digamma(r+x) - psr + lnal
		}
	}
	var acc [5]float64
	k.buf = k.pool.sum(k.rows.Len(), acc[:], k.buf, func(lo, hi int, acc []float64) {
		k.rowsSum(r, al, s, be, lo, hi, wantGrad, acc)
	})
	if wantGrad {
		copy(grad, acc[1:])
	}
	return acc[0]
}

// pair computes Φ and, if wanted, ∂Φ/∂(r, α, s, β) for pair q.
func (k *pnbdLik) pair(q int, r, al, s, be float64, wantGrad bool) {
	j := k.pairTau[q]
	x := k.rows.xs[k.pairX[q]]
	la, lb, ia, ib := k.la[j], k.lb[j], k.ia[j], k.ib[j]
	tau := k.tau[j]
	c := r + s + x + 1
	if !wantGrad {
		if al >= be {
			k.phi[q] = -(r+x)*la - s*lb + math.Log(hyp2f1Unit(r+x, c, (al-be)*ia))
		} else {
			k.phi[q] = (1-r-x)*la - (s+1)*lb + math.Log(hyp2f1Unit(s+1, c, (be-al)*ib))
		}
		return
	}
	d := k.dphi[4*q : 4*q+4]
	if al >= be {
		h, hb, hc, hz := hyp2f1UnitGrad(r+x, c, (al-be)*ia)
		k.phi[q] = -(r+x)*la - s*lb + math.Log(h)
		d[0] = -la + hb + hc
		d[1] = -(r+x)*ia + hz*(be+tau)*ia*ia
		d[2] = -lb + hc
		d[3] = -s*ib - hz*ia
	} else {
		h, hb, hc, hz := hyp2f1UnitGrad(s+1, c, (be-al)*ib)
		k.phi[q] = (1-r-x)*la - (s+1)*lb + math.Log(h)
		d[0] = -la + hc
		d[1] = (1-r-x)*ia - hz*ib
		d[2] = -lb + hb + hc
		d[3] = -(s+1)*ib + hz*(al+tau)*ib*ib
	}
}

func (k *pnbdLik) rowsSum(r, al, s, be float64, lo, hi int, wantGrad bool, acc []float64) {
	rows := k.rows
	nt := int32(len(rows.txs))
	lnbe := math.Log(be)
	var v, gr, gal, gs, gbe float64
	for i := lo; i < hi; i++ {
		w := rows.W[i]
		jx := rows.ix[i]
		rx := r + rows.xs[jx]
		jT := nt + rows.iT[i]
		l1 := -rx*k.la[jT] - s*k.lb[jT]
		l := l1
		var sig, em float64 // σ: weight of the died-in-(t_x, T] branch
		p1, p2 := k.rowP1[i], k.rowP2[i]
		if p1 >= 0 {
			if f1, f2 := k.phi[p1], k.phi[p2]; f2 < f1 {
				em = -math.Expm1(f2 - f1)
				l2 := k.lsr[jx] + f1 + math.Log(em)
				if dl := l2 - l1; dl > 0 {
					e := math.Exp(-dl)
					l = l2 + math.Log1p(e)
					sig = 1 / (1 + e)
				} else {
					e := math.Exp(dl)
					l = l1 + math.Log1p(e)
					sig = e / (1 + e)
				}
			}
		}
		v += w * (k.cx[jx] + l)
		if !wantGrad {
			continue
		}
		// ∇ℓ = ∇c(x) + (1-σ)∇l1 + σ∇l2.
		w1, w2 := w*(1-sig), w*sig
		gr += w*k.crx[jx] - w1*k.la[jT]
		gal += w*r/al - w1*rx*k.ia[jT]
		gs += w*lnbe - w1*k.lb[jT]
		gbe += w*s/be - w1*s*k.ib[jT]
		if w2 != 0 {
			// ∇l2 = ∇ln(s/(r+s+x)) + (∇Φ1 - q∇Φ2)/(1-q), q = F(T)/F(t_x).
			irsx := 1 / (r + s + rows.xs[jx])
			d1, d2 := k.dphi[4*p1:4*p1+4], k.dphi[4*p2:4*p2+4]
			qq, ie := 1-em, 1/em
			gr += w2 * (-irsx + (d1[0]-qq*d2[0])*ie)
			gal += w2 * (d1[1] - qq*d2[1]) * ie
			gs += w2 * (1/s - irsx + (d1[2]-qq*d2[2])*ie)
			gbe += w2 * (d1[3] - qq*d2[3]) * ie
		}
	}
	acc[0] = v
	acc[1], acc[2], acc[3], acc[4] = gr, gal, gs, gbe
}

// pnbdLogLik returns Σ w·ℓ and, if grad is non-nil, its gradient with
// respect to (r, α, s, β); see pnbdLik.
func pnbdLogLik(p, x, tx, T, w, grad []float64) float64 {
	rows := indexRows(x, tx, T, w)
	return newPNBDLik(&rows, pool{workers: 1}).eval(p, grad, nil)
}

// PAlive implements PurchaseModel.
func (m ParetoNBD) PAlive(x, tx, T float64) float64 {
	if tx >= T {
		return 1
	}
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	f1 := pnbdPhi(r, al, s, be, x, tx)
	return pnbdPAlive(pnbdAliveLog(r, al, s, be, x, T), pnbdDiedBase(r, s, x, f1), f1, pnbdPhi(r, al, s, be, x, T))
}

// ExpectedPurchases implements PurchaseModel: E[Y(t) | x, t_x, T],
// computed as P(alive) · horizon(t, x, T).
func (m ParetoNBD) ExpectedPurchases(t, x, tx, T float64) float64 {
	if t == 0 {
		return 0
	}
	return m.horizon(t, x, T) * m.PAlive(x, tx, T)
}

// horizon returns E[Y(t) | x, t_x, T] / P(alive)
// = (r+x)(β+T) / ((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^{s-1}].
// The bracket over (s-1) is formed with expm1 so that s near 1 is exact.
func (m ParetoNBD) horizon(t, x, T float64) float64 {
	l := math.Log1p(t / (m.Beta + T))
	h := l
	if s1 := m.S - 1; math.Abs(s1) > 1e-12 {
		h = -math.Expm1(-s1*l) / s1
	}
	return (m.R + x) * (m.Beta + T) / (m.Alpha + T) * h
}

// UnconditionalExpectedPurchases implements PurchaseModel.
func (m ParetoNBD) UnconditionalExpectedPurchases(t float64) float64 {
	return m.ExpectedPurchases(t, 0, 0, 0)
}

// ProbNPurchases implements PurchaseModel: P(X(t) = n) for a customer just
// acquired (Fader and Hardie 2006, "Deriving an Expression for P(X(t) = x)
// Under the Pareto/NBD Model"). Every hypergeometric term is scaled by
// max(α, β)^{r+s} so that no power overflows. The bracket B1 - Σ B2_i is a
// difference of positive terms, so for n far beyond the mean the result
// carries an absolute (not relative) error near 1e-15 and is clamped at 0.
func (m ParetoNBD) ProbNPurchases(n int, t float64) float64 {
	if n < 0 {
		return 0
	}
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	fn := float64(n)
	alive := math.Exp(lgam(r+fn) - lgam(r) - lgam(fn+1) + r*math.Log(al/(al+t)) + xlogy(fn, t/(al+t)) + s*math.Log(be/(be+t)))
	if t == 0 {
		return alive
	}
	big, small, k, pre := al, be, s+1, s*math.Log(be/al)
	if al < be {
		big, small, k, pre = be, al, r+fn, r*math.Log(al/be)
	}
	c := r + s + fn + 1
	b1 := mathext.Hypergeo(r+s, k, c, (big-small)/big)
	lz := math.Log(big / (big + t))
	lt := math.Log(t / (big + t))
	var b2 float64
	for i := 0; i <= n; i++ {
		fi := float64(i)
		lcoef := lgam(r+s+fi) - lgam(r+s) - lgam(fi+1) + (r+s)*lz + fi*lt
		b2 += math.Exp(lcoef) * mathext.Hypergeo(r+s+fi, k, c, (big-small)/(big+t))
	}
	// Clamped: rounding in b1 - b2 may leave a tiny negative value.
	died := math.Exp(pre+mathext.Lbeta(r+fn, s+1)-mathext.Lbeta(r, s)) * math.Max(b1-b2, 0)
	return alive + died
}

// pnbdMaxRatio bounds max(α, β)/min(α, β) in a fit. The likelihood's
// series converge like (min/max)^k: past this ratio they need tens of
// thousands of terms a customer, an evaluation takes seconds, and the fit
// is running off to a boundary — β → ∞ is the no-dropout limit (the NBD),
// α → ∞ against β drop-out faster than any purchase — along which the
// likelihood hardly changes (issue 26: an unidentified fit of 3,300
// customers took 54–70 s to give up; now well under a second). Proper
// fits lie far inside: CDNOW's has β/α ≈ 1.1, and in simulations the
// no-dropout diagnosis held at ratios from about 5e3 on.
const pnbdMaxRatio = 1e3

// pnbdMaxShape likewise bounds the shapes r and s: past it a Gamma mixing
// distribution has a coefficient of variation under 3 %, a point mass to
// the data, and the fit is crawling along the ridge to r, α → ∞ (or s, β)
// at a fixed ratio.
const pnbdMaxShape = 1e3

var pnbdEdge = &edge{
	beyond: func(theta []float64) bool {
		r, al, s, be := theta[0], theta[1], theta[2], theta[3]
		return max(al, be) > pnbdMaxRatio*min(al, be) || r > pnbdMaxShape || s > pnbdMaxShape
	},
	why: "α and β more than 1000 times apart, or a shape r or s above 1000: a lifetime scale the data cannot tell " +
		"from no drop-out, or rates or lifetimes the same for everyone",
}

// FitParetoNBD fits a Pareto/NBD model to per-customer summaries. Newton's
// method uses forward differences of the analytic gradient for its
// Hessian, and the acceptance check central ones.
func FitParetoNBD(ctx context.Context, x, tx, T []float64, opt FitOptions) (ParetoNBD, FitResult, error) {
	opt.edge = pnbdEdge
	build := func(rows *purchaseRows, p pool) (logLikFunc, bool) { return newPNBDLik(rows, p).eval, false }
	p, res, err := fitPurchase(ctx, "Pareto/NBD", x, tx, T, opt, build, func(rate float64) []float64 {
		return []float64{1, 1 / rate, 1, 1 / rate}
	}, pnbdDropout)
	if err != nil {
		return ParetoNBD{}, res, err
	}
	return ParetoNBD{R: p[0], Alpha: p[1], S: p[2], Beta: p[3]}, res, nil
}
