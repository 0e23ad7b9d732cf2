package clv

import (
	"context"
	"math"

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
// overflow or cancellation and A0 as F(t_x)·(1 - F(T)/F(t_x)) with log1p.
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

// pnbdTerms returns the logs of the two likelihood components for one
// customer, without the common factor Γ(r+x) α^r β^s / Γ(r): alive at T
// (l1) and died in (t_x, T] (l2).
func pnbdTerms(r, al, s, be, x, tx, T float64) (l1, l2 float64) {
	rx := r + x
	rsx := rx + s
	l1 = -rx*math.Log(al+T) - s*math.Log(be+T)
	if tx >= T {
		return l1, math.Inf(-1)
	}
	big, small, k := al, be, s+1
	if al < be {
		big, small, k = be, al, rx
	}
	f1 := pnbdLogF(rsx, k, big, small, tx)
	f2 := pnbdLogF(rsx, k, big, small, T)
	return l1, pnbdDied(s, rsx, f1, f2)
}

// pnbdDied returns ln(s/(r+s+x) · A0) from ln F(t_x) and ln F(T).
func pnbdDied(s, rsx, f1, f2 float64) float64 {
	if f2 >= f1 {
		return math.Inf(-1)
	}
	return math.Log(s/rsx) + f1 + math.Log1p(-math.Exp(f2-f1))
}

// pnbdIndex arranges compressed summaries for repeated likelihood
// evaluations. Logarithms of α+τ and β+τ depend only on the distinct times
// τ, and F only on the distinct (x, τ) pairs; in cohort data both sets are
// far smaller than the set of (x, t_x, T) rows, so they are computed once
// per evaluation and looked up per row.
type pnbdIndex struct {
	x, w      []float64
	tau       []float64 // distinct values of t_x and T
	pairX     []float64 // distinct (x, τ) pairs that need F
	pairTau   []int32
	rowTx     []int32 // per row: index into tau of t_x and T
	rowT      []int32
	rowFTx    []int32 // per row: index into pairs of (x, t_x) and (x, T), -1 if t_x = T
	rowFT     []int32
	la, lb, f []float64 // scratch, one evaluation at a time
}

func newPNBDIndex(x, tx, T, w []float64) *pnbdIndex {
	n := len(x)
	ix := &pnbdIndex{x: x, w: w, rowTx: make([]int32, n), rowT: make([]int32, n), rowFTx: make([]int32, n), rowFT: make([]int32, n)}
	taus := make(map[float64]int32)
	tauOf := func(v float64) int32 {
		v += 0
		j, ok := taus[v]
		if !ok {
			j = int32(len(ix.tau))
			taus[v] = j
			ix.tau = append(ix.tau, v)
		}
		return j
	}
	type pair struct {
		x   float64
		tau int32
	}
	pairs := make(map[pair]int32)
	pairOf := func(x float64, j int32) int32 {
		p := pair{x + 0, j}
		q, ok := pairs[p]
		if !ok {
			q = int32(len(ix.pairX))
			pairs[p] = q
			ix.pairX = append(ix.pairX, p.x)
			ix.pairTau = append(ix.pairTau, j)
		}
		return q
	}
	for i := range x {
		ix.rowTx[i], ix.rowT[i] = tauOf(tx[i]), tauOf(T[i])
		ix.rowFTx[i], ix.rowFT[i] = -1, -1
		if tx[i] < T[i] {
			ix.rowFTx[i] = pairOf(x[i], ix.rowTx[i])
			ix.rowFT[i] = pairOf(x[i], ix.rowT[i])
		}
	}
	ix.la, ix.lb, ix.f = make([]float64, len(ix.tau)), make([]float64, len(ix.tau)), make([]float64, len(ix.pairX))
	return ix
}

// logLik returns Σ w·ℓ at p = (r, α, s, β).
func (ix *pnbdIndex) logLik(p []float64) float64 {
	r, al, s, be := p[0], p[1], p[2], p[3]
	for j, t := range ix.tau {
		ix.la[j], ix.lb[j] = math.Log(al+t), math.Log(be+t)
	}
	big, small, swap := al, be, false
	if al < be {
		big, small, swap = be, al, true
	}
	for q, x := range ix.pairX {
		j := ix.pairTau[q]
		rsx := r + s + x
		lbig, lsmall, k := ix.la[j], ix.lb[j], s+1
		if swap {
			lbig, lsmall, k = lsmall, lbig, r+x
		}
		z := (big - small) / (big + ix.tau[j])
		ix.f[q] = -rsx*lbig + (1-k)*(lsmall-lbig) + math.Log(hyp2f1Unit(rsx+1-k, rsx+1, z))
	}
	lgr := lgam(r)
	c := r*math.Log(al) + s*math.Log(be)
	var sum, cx, lsr float64
	prevX := math.NaN()
	for i, xi := range ix.x {
		wi := 1.0
		if ix.w != nil {
			wi = ix.w[i]
		}
		if xi != prevX {
			prevX = xi
			cx = lgam(r+xi) - lgr + c
			lsr = math.Log(s / (r + s + xi))
		}
		jT := ix.rowT[i]
		l := -(r+xi)*ix.la[jT] - s*ix.lb[jT]
		if q := ix.rowFTx[i]; q >= 0 {
			if f1, f2 := ix.f[q], ix.f[ix.rowFT[i]]; f2 < f1 {
				l2 := lsr + f1 + math.Log1p(-math.Exp(f2-f1))
				// log(e^l + e^l2) with a single exp.
				l = math.Max(l, l2) + math.Log1p(math.Exp(-math.Abs(l-l2)))
			}
		}
		sum += wi * (cx + l)
	}
	return sum
}

// pnbdLogLik returns Σ w·ℓ. There is no analytic gradient: grad must be nil.
func pnbdLogLik(p, x, tx, T, w, grad []float64) float64 {
	if grad != nil {
		panic("clv: Pareto/NBD has no analytic gradient")
	}
	return newPNBDIndex(x, tx, T, w).logLik(p)
}

// PAlive implements PurchaseModel.
func (m ParetoNBD) PAlive(x, tx, T float64) float64 {
	l1, l2 := pnbdTerms(m.R, m.Alpha, m.S, m.Beta, x, tx, T)
	return 1 / (1 + math.Exp(l2-l1))
}

// ExpectedPurchases implements PurchaseModel: E[Y(t) | x, t_x, T]
// = (r+x)(β+T) / ((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^{s-1}] · P(alive).
// The bracket over (s-1) is formed with expm1 so that s near 1 is exact.
func (m ParetoNBD) ExpectedPurchases(t, x, tx, T float64) float64 {
	if t == 0 {
		return 0
	}
	l := math.Log1p(t / (m.Beta + T))
	h := l
	if s1 := m.S - 1; math.Abs(s1) > 1e-12 {
		h = -math.Expm1(-s1*l) / s1
	}
	return (m.R + x) * (m.Beta + T) / (m.Alpha + T) * h * m.PAlive(x, tx, T)
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

// FitParetoNBD fits a Pareto/NBD model to per-customer summaries. The
// gradient is taken by central differences (see the package doc).
func FitParetoNBD(ctx context.Context, x, tx, T []float64, opt FitOptions) (ParetoNBD, FitResult, error) {
	p, res, err := fitPurchase(ctx, "Pareto/NBD", x, tx, T, opt, nil, false, func(rate float64) []float64 {
		return []float64{1, 1 / rate, 1, 1 / rate}
	})
	if err != nil {
		return ParetoNBD{}, res, err
	}
	return ParetoNBD{R: p[0], Alpha: p[1], S: p[2], Beta: p[3]}, res, nil
}
