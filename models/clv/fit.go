package clv

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// ErrNotConverged is wrapped by fit errors when no optimiser reached a proper
// interior maximum of the likelihood.
var ErrNotConverged = errors.New("fit did not converge")

// FitOptions tunes a fit. The zero value is the recommended setting.
type FitOptions struct {
	// Penalizer is the coefficient of an L2 penalty on the natural
	// parameters, added to the mean negative log-likelihood as lifetimes
	// does. Zero disables it.
	Penalizer float64
	// MaxIterations bounds the major iterations of each optimiser stage.
	// Zero means 1000.
	MaxIterations int
	// Init is an optional starting point in natural parameters, in the
	// order of the model's fields.
	Init []float64
}

// FitResult describes how a fit went.
type FitResult struct {
	// LogLik is the unpenalised log-likelihood at the estimate, summed over
	// customers.
	LogLik float64
	// Iterations and FuncEvals add up all optimiser stages.
	Iterations int
	FuncEvals  int
	// Method names the optimiser stages used, e.g. "BFGS" or
	// "BFGS>NelderMead>BFGS".
	Method string
	// Converged reports that the estimate passed the acceptance checks. A
	// fit that returns a nil error always has Converged set.
	Converged bool
	// GradNorm is the largest absolute gradient component of the mean
	// negative log-likelihood with respect to the log-parameters.
	GradNorm float64
	// N is the number of customers the likelihood used and Distinct the
	// number of distinct summaries they compressed to.
	N, Distinct int
	// Excluded counts customers dropped by the model's input filter
	// (Gamma-Gamma: repeat customers with non-positive mean spend).
	Excluded int
}

// Acceptance thresholds. The log-parameter bound rejects fits that ran off to
// a boundary (a parameter going to 0 or infinity makes the likelihood flat,
// so the gradient alone cannot tell that apart from a maximum).
const (
	gradTol      = 1e-5
	maxLogParam  = math.Ln10 * 8
	boxLogParam  = math.Ln10 * 12
	defaultIters = 1000
)

// logLikFunc returns the weighted log-likelihood at the natural parameters
// theta and, if grad is non-nil, stores its gradient with respect to theta.
type logLikFunc func(theta, grad []float64) float64

// problem is the optimisation problem in log-parameter space: minimise
// -LL/W + penalty, where W is the total weight so that tolerances do not
// depend on the number of customers.
type problem struct {
	ll       logLikFunc
	analytic bool
	wsum     float64
	pen      float64
	n        int

	theta, g []float64
}

func newProblem(ll logLikFunc, analytic bool, n int, wsum, pen float64) *problem {
	return &problem{ll: ll, analytic: analytic, wsum: wsum, pen: pen, n: n,
		theta: make([]float64, n), g: make([]float64, n)}
}

func (p *problem) toTheta(u []float64) {
	for i, v := range u {
		p.theta[i] = math.Exp(v)
	}
}

// f is the objective. Non-finite values become +Inf so that line searches
// back off rather than accept them.
func (p *problem) f(u []float64) float64 {
	for _, v := range u {
		// Far beyond the acceptance bound the special functions get slow
		// and meaningless; a wall keeps every optimiser out.
		if math.Abs(v) > boxLogParam {
			return math.Inf(1)
		}
	}
	p.toTheta(u)
	v := -p.ll(p.theta, nil) / p.wsum
	for _, t := range p.theta {
		v += p.pen * t * t
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return math.Inf(1)
	}
	return v
}

// grad stores the gradient of f at u in dst.
func (p *problem) grad(dst, u []float64) {
	if !p.analytic {
		p.numGrad(dst, u)
		return
	}
	p.toTheta(u)
	p.ll(p.theta, p.g)
	for i, t := range p.theta {
		dst[i] = -t*p.g[i]/p.wsum + 2*p.pen*t*t
	}
}

// numGrad uses central differences in log-parameters. The step 1e-5 balances
// truncation (~h²) against rounding (~eps/h) for an objective of order one.
func (p *problem) numGrad(dst, u []float64) {
	const h = 1e-5
	v := make([]float64, len(u))
	copy(v, u)
	for i := range u {
		v[i] = u[i] + h
		fp := p.f(v)
		v[i] = u[i] - h
		fm := p.f(v)
		v[i] = u[i]
		dst[i] = (fp - fm) / (2 * h)
	}
}

// hessian returns a central-difference Hessian of f at u built from
// gradients, symmetrised.
func (p *problem) hessian(u []float64) *mat.SymDense {
	n := len(u)
	h := 1e-4
	if !p.analytic {
		h = 1e-3 // numerical gradients are noisier; a larger step keeps the ratio sane
	}
	v := make([]float64, n)
	copy(v, u)
	gp, gm := make([]float64, n), make([]float64, n)
	H := mat.NewSymDense(n, nil)
	cols := make([][]float64, n)
	for j := range n {
		v[j] = u[j] + h
		p.grad(gp, v)
		v[j] = u[j] - h
		p.grad(gm, v)
		v[j] = u[j]
		cols[j] = make([]float64, n)
		for i := range n {
			cols[j][i] = (gp[i] - gm[i]) / (2 * h)
		}
	}
	for i := range n {
		for j := i; j < n; j++ {
			H.SetSym(i, j, (cols[i][j]+cols[j][i])/2)
		}
	}
	return H
}

// maximize fits the parameters of ll starting from init (natural scale).
func maximize(ctx context.Context, ll logLikFunc, analytic bool, init []float64, wsum float64, opt FitOptions) ([]float64, FitResult, error) {
	n := len(init)
	if opt.Init != nil {
		if len(opt.Init) != n {
			return nil, FitResult{}, fmt.Errorf("init has %d parameters, want %d", len(opt.Init), n)
		}
		init = opt.Init
	}
	u0 := make([]float64, n)
	for i, v := range init {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, FitResult{}, fmt.Errorf("init parameter %d = %v, want positive and finite", i, v)
		}
		u0[i] = math.Log(v)
	}
	if !(opt.Penalizer >= 0) {
		return nil, FitResult{}, fmt.Errorf("penalizer %v, want >= 0", opt.Penalizer)
	}
	iters := opt.MaxIterations
	if iters <= 0 {
		iters = defaultIters
	}
	p := newProblem(ll, analytic, n, wsum, opt.Penalizer)
	if math.IsInf(p.f(u0), 1) {
		return nil, FitResult{}, fmt.Errorf("log-likelihood not finite at the starting point %v", init)
	}
	prob := optimize.Problem{
		Func: p.f,
		Grad: p.grad,
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
	}
	settings := func() *optimize.Settings {
		return &optimize.Settings{
			GradientThreshold: 1e-10,
			MajorIterations:   iters,
			FuncEvaluations:   50 * iters,
			Converger:         &optimize.FunctionConverge{Absolute: 1e-15, Relative: 1e-15, Iterations: 20},
		}
	}

	var res FitResult
	var lastErr error
	u := u0
	stage := func(name string, m optimize.Method) {
		if res.Method != "" {
			res.Method += ">"
		}
		res.Method += name
		r, err := optimize.Minimize(prob, u, settings(), m)
		if r != nil {
			res.Iterations += r.MajorIterations
			res.FuncEvals += r.FuncEvaluations
			if !math.IsInf(r.F, 0) && !math.IsNaN(r.F) && allFinite(r.X) {
				u = r.X
			}
		}
		lastErr = err
	}
	accept := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return p.accept(u, &res)
	}

	stage("BFGS", &optimize.BFGS{})
	reason := accept()
	if reason != nil && ctx.Err() == nil {
		// BFGS can stall in a curved valley or on a line-search failure;
		// a derivative-free pass from its best point, then BFGS again to
		// polish, recovers most such cases.
		stage("NelderMead", &optimize.NelderMead{})
		stage("BFGS", &optimize.BFGS{})
		reason = accept()
	}
	if err := ctx.Err(); err != nil {
		return nil, res, err
	}
	if reason != nil {
		if lastErr != nil {
			reason = fmt.Errorf("%w (optimizer: %v)", reason, lastErr)
		}
		return nil, res, fmt.Errorf("%w after %s: %w", ErrNotConverged, res.Method, reason)
	}
	theta := make([]float64, n)
	for i, v := range u {
		theta[i] = math.Exp(v)
	}
	res.LogLik = ll(theta, nil)
	res.Converged = true
	return theta, res, nil
}

// accept checks that u is an interior, strict local minimum of the
// objective and records the gradient norm.
func (p *problem) accept(u []float64, res *FitResult) error {
	if math.IsInf(p.f(u), 1) {
		return errors.New("log-likelihood not finite at the estimate")
	}
	for i, v := range u {
		if math.Abs(v) > maxLogParam {
			return fmt.Errorf("parameter %d ran to %.3g: the likelihood has no interior maximum for this data", i, math.Exp(v))
		}
	}
	g := make([]float64, len(u))
	p.grad(g, u)
	res.GradNorm = 0
	for _, v := range g {
		res.GradNorm = math.Max(res.GradNorm, math.Abs(v))
	}
	if !(res.GradNorm <= gradTol) {
		return fmt.Errorf("gradient norm %.3g exceeds %.0g", res.GradNorm, gradTol)
	}
	var eig mat.EigenSym
	if !eig.Factorize(p.hessian(u), false) {
		return errors.New("Hessian eigendecomposition failed")
	}
	vals := eig.Values(nil)
	// A flat direction means the data do not identify the parameters; the
	// threshold is relative so that it does not depend on units.
	lo, hi := vals[0], vals[len(vals)-1]
	if !(lo > 1e-9*math.Max(hi, 1e-12)) || !(hi > 0) {
		return fmt.Errorf("Hessian not positive definite (eigenvalues %.3g..%.3g): parameters not identified", lo, hi)
	}
	return nil
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func lgam(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// logAddExp returns log(exp(a)+exp(b)) and the weights exp(a-l), exp(b-l).
func logAddExp(a, b float64) (l, wa, wb float64) {
	if math.IsInf(b, -1) {
		return a, 1, 0
	}
	if math.IsInf(a, -1) {
		return b, 0, 1
	}
	m := math.Max(a, b)
	ea, eb := math.Exp(a-m), math.Exp(b-m)
	s := ea + eb
	return m + math.Log(s), ea / s, eb / s
}
