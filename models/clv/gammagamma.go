package clv

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// GammaGamma is the spend model of Fader, Hardie and Lee (2005, "RFM and
// CLV"), in the parameterisation of Fader and Hardie (2013): each purchase
// value is Gamma(P, ν) with ν ~ Gamma(Q, Gamma) across customers, independent
// of the purchase process.
type GammaGamma struct{ P, Q, Gamma float64 }

// Params returns the parameters by name.
func (m GammaGamma) Params() map[string]float64 {
	return map[string]float64{"p": m.P, "q": m.Q, "gamma": m.Gamma}
}

// LogLik returns the weighted log-likelihood of repeat customers with x[i]
// purchases of mean value spend[i]; both must be positive. A nil w means
// unit weights.
func (m GammaGamma) LogLik(x, spend, w []float64) float64 {
	return ggLogLik([]float64{m.P, m.Q, m.Gamma}, x, spend, w, nil)
}

// ggLogLik returns Σ w·ℓ and, if grad is non-nil, its gradient with
// respect to (p, q, γ); see ggLik.
func ggLogLik(par, x, spend, w, grad []float64) float64 {
	return newGGLik(x, spend, w, pool{workers: 1}).eval(par, grad, nil)
}

// ggLik evaluates the Gamma-Gamma log-likelihood
//
//	ℓ = ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln γ + (px-1) ln m + px ln x - (px+q) ln(γ+mx)
//
// (the density of the mean m of x purchase values) with its gradient and
// Hessian in (p, q, γ). Everything but ln(γ+mx) depends on the parameters
// through x alone, so the gamma-function terms are computed once per
// distinct x and a row costs one logarithm and one division.
type ggLik struct {
	xs       []float64 // distinct x
	ix       []int32   // per row: index into xs
	m, lm, w []float64 // per row: mean spend, its log, weight
	pool     pool

	// Per distinct x: the x-only part of ℓ, ψ(px+q)-ψ(px)+ln x, ψ(px+q),
	// ψ′(px+q)-ψ′(px), ψ′(px+q).
	k, dp, psq, tpp, tpq []float64
	buf                  []float64
}

func newGGLik(x, spend, w []float64, p pool) *ggLik {
	k := &ggLik{m: spend, w: w, pool: p}
	k.xs, k.ix, _ = rankValues(x)
	n := len(x)
	k.lm = make([]float64, n)
	for i := range n {
		k.lm[i] = math.Log(spend[i])
	}
	if w == nil {
		k.w = make([]float64, n)
		for i := range k.w {
			k.w[i] = 1
		}
	}
	nx := len(k.xs)
	for _, s := range []*[]float64{&k.k, &k.dp, &k.psq, &k.tpp, &k.tpq} {
		*s = make([]float64, nx)
	}
	return k
}

// Accumulator layout: value, gradient (3), Hessian upper triangle (6) in
// the order pp pq pγ qq qγ γγ.
const ggAcc = 10

func (k *ggLik) eval(par, grad, hess []float64) float64 {
	p, q, g := par[0], par[1], par[2]
	lgq, lng := lgam(q), math.Log(g)
	for j, x := range k.xs {
		px := p * x
		k.k[j] = lgam(px+q) - lgam(px) - lgq + q*lng + px*math.Log(x)
		if grad != nil {
			k.psq[j] = digamma(px + q)
			k.dp[j] = k.psq[j] - digamma(px) + math.Log(x)
		}
		if hess != nil {
			k.tpq[j] = trigamma(px + q)
			k.tpp[j] = k.tpq[j] - trigamma(px)
		}
	}
	var psq, tqq float64
	if grad != nil {
		psq = digamma(q)
	}
	if hess != nil {
		tqq = trigamma(q)
	}
	var acc [ggAcc]float64
	k.buf = k.pool.sum(len(k.ix), acc[:], k.buf, func(lo, hi int, acc []float64) {
		// Rows come in runs of equal x (compressSpend sorts them; any
		// order is correct, runs only make it cheaper): per row only
		// ln(γ+mx) and 1/(γ+mx) are needed, and the terms that multiply
		// them are applied once per run.
		var sw, slm, sL, sI, sI2 float64
		flush := func(j int32) {
			x := k.xs[j]
			px := p * x
			acc[0] += sw*k.k[j] + (px-1)*slm - (px+q)*sL
			if grad == nil {
				return
			}
			acc[1] += x * (sw*k.dp[j] + slm - sL)
			acc[2] += sw*(k.psq[j]-psq+lng) - sL
			acc[3] += sw*q/g - (px+q)*sI
			if hess == nil {
				return
			}
			acc[4] += sw * x * x * k.tpp[j]
			acc[5] += sw * x * k.tpq[j]
			acc[6] -= x * sI
			acc[7] += sw * (k.tpq[j] - tqq)
			acc[8] += sw/g - sI
			acc[9] += (px+q)*sI2 - sw*q/(g*g)
		}
		j := k.ix[lo]
		for i := lo; i < hi; i++ {
			if k.ix[i] != j {
				flush(j)
				j, sw, slm, sL, sI, sI2 = k.ix[i], 0, 0, 0, 0, 0
			}
			w := k.w[i]
			den := g + k.m[i]*k.xs[j]
			sw += w
			slm += w * k.lm[i]
			sL += w * math.Log(den)
			if grad != nil {
				I := 1 / den
				sI += w * I
				sI2 += w * I * I
			}
		}
		flush(j)
	})
	if grad != nil {
		copy(grad, acc[1:4])
	}
	if hess != nil {
		upperToFull(hess, 3, acc[4:])
	}
	return acc[0]
}

// ExpectedSpend returns E[M | x, mean spend], the conditional expected
// value of a future purchase: a weighted mean of the population mean
// pγ/(q-1) and the customer's own mean. Customers with x = 0 get the
// population mean. It is NaN when that mean does not exist (px+q <= 1).
func (m GammaGamma) ExpectedSpend(x, meanSpend float64) float64 {
	d := m.P*x + m.Q - 1
	if !(d > 0) {
		return math.NaN()
	}
	if x == 0 {
		meanSpend = 0
	}
	return m.P * (m.Gamma + x*meanSpend) / d
}

// FitGammaGamma fits the spend model to the customers with x > 0. Repeat
// customers whose mean spend is not positive have no Gamma density; they are
// left out and counted in FitResult.Excluded, as are customers with x = 0
// implicitly (they carry no spend information and are neither used nor
// counted).
func FitGammaGamma(ctx context.Context, x, meanSpend []float64, opt FitOptions) (GammaGamma, FitResult, error) {
	if len(x) != len(meanSpend) {
		return GammaGamma{}, FitResult{}, fmt.Errorf("fit Gamma-Gamma: length mismatch: x %d, spend %d", len(x), len(meanSpend))
	}
	fx, fm := make([]float64, 0, len(x)), make([]float64, 0, len(x))
	excluded := 0
	for i, xi := range x {
		mi := meanSpend[i]
		if !(xi >= 0) || math.IsInf(xi, 0) || math.IsNaN(mi) || math.IsInf(mi, 0) {
			return GammaGamma{}, FitResult{}, fmt.Errorf("fit Gamma-Gamma: customer %d: invalid x=%v spend=%v", i, xi, mi)
		}
		if xi == 0 {
			continue
		}
		if !(mi > 0) {
			excluded++
			continue
		}
		fx = append(fx, xi)
		fm = append(fm, mi)
	}
	res := FitResult{Excluded: excluded, N: len(fx)}
	if len(fx) < minCustomers {
		return GammaGamma{}, res, fmt.Errorf("fit Gamma-Gamma: %d repeat customers with positive spend, need at least %d: %w", len(fx), minCustomers, ErrNotConverged)
	}
	cx, cm, w := compressSpend(fx, fm)
	k := newGGLik(cx, cm, w, newPool(opt.Workers))
	// Over the sorted rows: see fitPurchase.
	var mean float64
	for i, wi := range w {
		mean += wi * cm[i]
	}
	mean /= float64(len(fm))
	// Start at p = 1, q = 2 and the γ matching the sample mean spend:
	// E[M] = pγ/(q-1).
	theta, r, err := maximize(ctx, k.eval, true, []float64{1, 2, mean}, float64(len(fx)), opt)
	r.N, r.Distinct, r.Excluded = len(fx), len(cx), excluded
	if err != nil {
		return GammaGamma{}, r, fmt.Errorf("fit Gamma-Gamma: %w", err)
	}
	return GammaGamma{P: theta[0], Q: theta[1], Gamma: theta[2]}, r, nil
}

// compressSpend merges identical (x, spend) pairs into weighted rows,
// sorted by (x, spend) so that the fit does not depend on the order of the
// customers. Mean spends are continuous, but cents and single purchases
// make about a third of them repeat in the CDNOW data. The rows are
// grouped by x with a counting sort (x takes few values) and each group's
// spends sorted by a radix sort of their order-preserving bit patterns
// (see sortFloats).
func compressSpend(x, m []float64) (cx, cm, w []float64) {
	xs, start, ms := groupByX(x, m)
	// At most one row a customer: grown by append, the three slices were
	// copied ~30 times each (100 MB of garbage at 1M customers).
	cx, cm, w = make([]float64, 0, len(m)), make([]float64, 0, len(m)), make([]float64, 0, len(m))
	// Radix scratch for the largest group, if any is radix sorted.
	var largest int
	for g := range xs {
		largest = max(largest, int(start[g+1]-start[g]))
	}
	var keys, tmp []uint64
	if largest >= radixMin {
		keys, tmp = make([]uint64, largest), make([]uint64, largest)
	}
	for g, xv := range xs {
		grp := ms[start[g]:start[g+1]]
		sortFloats(grp, keys, tmp)
		for k, v := range grp {
			if k > 0 && v == grp[k-1] {
				w[len(w)-1]++
				continue
			}
			cx, cm, w = append(cx, xv), append(cm, v), append(w, 1)
		}
	}
	return cx, cm, w
}

// groupByX gathers the spends m into groups of equal x by a counting sort
// (x takes few values): xs are the distinct x ascending, and group g's
// spends are ms[start[g]:start[g+1]], in customer order (+0 turns a -0
// into +0, so that equal spends have equal bits).
func groupByX(x, m []float64) (xs []float64, start []int32, ms []float64) {
	xs, rx, _ := rankValues(x)
	start = make([]int32, len(xs)+1)
	for _, r := range rx {
		start[r+1]++
	}
	for g := range xs {
		start[g+1] += start[g]
	}
	ms = make([]float64, len(m))
	pos := slices.Clone(start)
	for i, r := range rx {
		ms[pos[r]] = m[i] + 0
		pos[r]++
	}
	return xs, start, ms
}

// radixMin is the group size from which sortFloats radix sorts: below it
// the 2048-entry digit histograms cost more than a comparison sort.
const radixMin = 4096

// sortFloats sorts v (no NaN, no -0) ascending, using keys and tmp
// (at least len(v) each when len(v) >= radixMin) as scratch. A float's bits with the sign bit flipped
// (positive) or all bits flipped (negative) order as unsigned integers
// as the floats do, so an LSD radix sort of those keys sorts the floats;
// on a million mean spends it takes a third of the time of slices.Sort.
// Equal floats have equal bits here, so the result is what slices.Sort
// gives, bit for bit.
func sortFloats(v []float64, keys, tmp []uint64) {
	if len(v) < radixMin {
		slices.Sort(v)
		return
	}
	keys, tmp = keys[:len(v)], tmp[:len(v)]
	for i, f := range v {
		b := math.Float64bits(f)
		keys[i] = b ^ (uint64(int64(b)>>63) | 1<<63)
	}
	keys = radixSort(keys, tmp, 64)
	for i, k := range keys {
		// The sign bit of the key is set for non-negative floats.
		v[i] = math.Float64frombits(k ^ (uint64(int64(^k)>>63) | 1<<63))
	}
}
