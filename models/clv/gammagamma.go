package clv

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
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

// ggLogLik returns Σ w·ℓ with
//
//	ℓ = ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln γ + (px-1) ln m + px ln x - (px+q) ln(γ+mx)
//
// (the density of the mean of x purchase values) and, if grad is non-nil,
// the gradient with respect to (p, q, γ).
func ggLogLik(par, x, spend, w, grad []float64) float64 {
	p, q, g := par[0], par[1], par[2]
	lgq, lng := lgam(q), math.Log(g)
	var psq float64
	if grad != nil {
		psq = mathext.Digamma(q)
		clear(grad)
	}
	var sum, gp, gq, gg float64
	for i, xi := range x {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		mi := spend[i]
		px := p * xi
		lm, lx, lgm := math.Log(mi), math.Log(xi), math.Log(g+mi*xi)
		sum += wi * (lgam(px+q) - lgam(px) - lgq + q*lng + (px-1)*lm + px*lx - (px+q)*lgm)
		if grad != nil {
			psi := mathext.Digamma(px + q)
			gp += wi * xi * (psi - mathext.Digamma(px) + lm + lx - lgm)
			gq += wi * (psi - psq + lng - lgm)
			gg += wi * (q/g - (px+q)/(g+mi*xi))
		}
	}
	if grad != nil {
		grad[0], grad[1], grad[2] = gp, gq, gg
	}
	return sum
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
	var fx, fm []float64
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
	u, w := uniqueRows(fx, fm, make([]float64, len(fx)))
	cx, cm := u[0], u[1]
	ll := func(p, grad []float64) float64 { return ggLogLik(p, cx, cm, w, grad) }
	var mean float64
	for i := range fm {
		mean += fm[i]
	}
	mean /= float64(len(fm))
	// Start at p = 1, q = 2 and the γ matching the sample mean spend:
	// E[M] = pγ/(q-1).
	theta, r, err := maximize(ctx, ll, true, []float64{1, 2, mean}, float64(len(fx)), opt)
	r.N, r.Distinct, r.Excluded = len(fx), len(cx), excluded
	if err != nil {
		return GammaGamma{}, r, fmt.Errorf("fit Gamma-Gamma: %w", err)
	}
	return GammaGamma{P: theta[0], Q: theta[1], Gamma: theta[2]}, r, nil
}
