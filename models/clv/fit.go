package clv

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
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
	// Workers bounds the goroutines that evaluate the likelihood; zero
	// means GOMAXPROCS. The result does not depend on it.
	Workers int

	// edge, set by a model, marks the parameters beyond which the fit is
	// taken to run off to a boundary (see problem.edge).
	edge *edge
}

// edge is a model's limit on where a fit may go before it is taken to run
// off to a boundary of the parameter space: past it the likelihood is
// flat to the optimiser and, for some models, ever dearer to evaluate.
type edge struct {
	beyond func(theta []float64) bool
	why    string // what running past it means
}

// FitResult describes how a fit went.
type FitResult struct {
	// LogLik is the unpenalised log-likelihood at the estimate, summed over
	// customers.
	LogLik float64
	// Iterations and FuncEvals add up all optimiser stages.
	Iterations int
	FuncEvals  int
	// Method names the optimiser stages used, e.g. "Newton" or
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
	// minEigenRatio is the smallest accepted ratio of the extreme
	// eigenvalues of the Hessian at the estimate; see accept.
	minEigenRatio = 1e-6
)

// logLikFunc returns the weighted log-likelihood at the natural parameters
// theta and, if grad is non-nil, stores its gradient with respect to theta;
// if hess is non-nil (n×n, row-major) it also stores the Hessian. A
// function that cannot compute Hessians is paired with hasHess = false and
// is never given one.
type logLikFunc func(theta, grad, hess []float64) float64

// evalLevel says how much of the objective an evaluation produced.
type evalLevel int

const (
	levelNone evalLevel = iota
	levelF
	levelGrad
	levelHess
)

// problem is the optimisation problem in log-parameter space: minimise
// -LL/W + penalty, where W is the total weight so that tolerances do not
// depend on the number of customers.
//
// gonum asks for the value, gradient and Hessian at a point in separate
// calls, while the likelihoods produce them in one pass over the rows for
// little more than the value's cost. So every evaluation computes as much
// as the current stage will want (want) and is cached until the point
// changes; that halves the passes of a BFGS fit and makes a Newton step
// one pass.
type problem struct {
	ll      logLikFunc
	hasHess bool
	wsum    float64
	pen     float64
	n       int
	want    evalLevel

	theta, g, h []float64

	// The cache: level cl of the objective at cu.
	cu     []float64
	cl     evalLevel
	cf     float64
	cll    float64 // the unpenalised log-likelihood behind cf
	cg, ch []float64

	ridge  bool      // see trustHess
	ridgeU []float64 // where the ridge was detected

	// edge: a probe past it is not evaluated; the stage stops and the fit
	// reports the last point evaluated inside (edgeU).
	edge   *edge
	atEdge bool
	lastIn []float64
	edgeU  []float64
}

func newProblem(ll logLikFunc, hasHess bool, n int, wsum, pen float64) *problem {
	return &problem{ll: ll, hasHess: hasHess, wsum: wsum, pen: pen, n: n, want: levelGrad,
		theta: make([]float64, n), g: make([]float64, n), h: make([]float64, n*n),
		cu: make([]float64, n), cg: make([]float64, n), ch: make([]float64, n*n)}
}

// eval makes the cache hold at least level lv at u.
func (p *problem) eval(u []float64, lv evalLevel) {
	if p.cl >= lv && slicesEqual(p.cu, u) {
		return
	}
	lv = max(lv, p.want)
	if lv == levelHess && !p.hasHess {
		lv = levelGrad
	}
	copy(p.cu, u)
	p.cl = lv
	for _, v := range u {
		// Far beyond the acceptance bound the special functions get slow
		// and meaningless; a wall keeps every optimiser out.
		if math.Abs(v) > boxLogParam {
			p.infeasible()
			return
		}
	}
	for i, v := range u {
		p.theta[i] = math.Exp(v)
	}
	if p.edge != nil && p.edge.beyond(p.theta) {
		if !p.atEdge && p.lastIn != nil {
			p.atEdge, p.edgeU = true, slices.Clone(p.lastIn)
		}
		p.infeasible()
		return
	}
	var g, h []float64
	if lv >= levelGrad {
		g = p.g
	}
	if lv >= levelHess {
		h = p.h
	}
	ll := p.ll(p.theta, g, h)
	p.cll = ll
	v := -ll / p.wsum
	for _, t := range p.theta {
		v += p.pen * t * t
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		// +Inf makes line searches back off rather than accept the point.
		v = math.Inf(1)
	} else if p.edge != nil {
		p.lastIn = append(p.lastIn[:0], u...)
	}
	p.cf = v
	if g == nil {
		return
	}
	// Chain rule to u = ln θ: ∂f/∂u_i = θ_i ∂f/∂θ_i and
	// ∂²f/∂u_i∂u_j = θ_i θ_j ∂²f/∂θ_i∂θ_j + δ_ij θ_i ∂f/∂θ_i.
	n := p.n
	for i, t := range p.theta {
		p.cg[i] = -t*g[i]/p.wsum + 2*p.pen*t*t
	}
	if h == nil {
		return
	}
	for i, ti := range p.theta {
		for j, tj := range p.theta {
			p.ch[i*n+j] = -ti * tj * h[i*n+j] / p.wsum
		}
		p.ch[i*n+i] += p.cg[i] + 2*p.pen*ti*ti
	}
}

// infeasible caches the answer for a point no optimiser may take: an
// infinite objective and no derivatives.
func (p *problem) infeasible() {
	p.cf, p.cll = math.Inf(1), math.Inf(-1)
	for i := range p.cg {
		p.cg[i] = math.NaN()
	}
	for i := range p.ch {
		p.ch[i] = math.NaN()
	}
}

func (p *problem) f(u []float64) float64 {
	p.eval(u, levelF)
	return p.cf
}

func (p *problem) grad(dst, u []float64) {
	p.eval(u, levelGrad)
	copy(dst, p.cg)
}

func (p *problem) hess(dst *mat.SymDense, u []float64) {
	n := p.n
	if !p.hasHess {
		p.fdHessian(dst, u, false)
		return
	}
	p.eval(u, levelHess)
	for i := range n {
		for j := i; j < n; j++ {
			dst.SetSym(i, j, (p.ch[i*n+j]+p.ch[j*n+i])/2)
		}
	}
}

// maxNewtonStep bounds the length of a Newton step in log-parameters: at
// most a factor e ≈ 2.7 per iteration in any parameter.
const maxNewtonStep = 1.0

// trustHess is the Hessian gonum's Newton method sees: the Hessian at u
// shifted by λI, with the smallest λ >= 0 that makes it positive definite
// and the step -(H+λI)⁻¹g no longer than maxNewtonStep, as in a
// trust-region method. Far from the optimum the Hessian of these mixtures
// can be nearly singular along a direction in which the likelihood is
// flat, and the plain Newton step then throws a parameter out by a factor
// of 1e8, onto a ridge no optimiser comes back from. Near the optimum λ
// is 0 and Newton's quadratic convergence is kept.
func (p *problem) trustHess(dst *mat.SymDense, u []float64) {
	p.hess(dst, u)
	g := p.cg // set by p.hess at u
	var eig mat.EigenSym
	if !eig.Factorize(dst, true) {
		return // gonum's Newton falls back to its own modification
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	n := len(vals)
	c := make([]float64, n) // g in the eigenbasis
	for i := range n {
		for k := range n {
			c[i] += vecs.At(k, i) * g[k]
		}
	}
	stepLen := func(lambda float64) float64 {
		var s float64
		for i, e := range vals {
			d := c[i] / (e + lambda)
			s += d * d
		}
		return math.Sqrt(s)
	}
	emin, emax := vals[0], vals[n-1]
	if emin > 1e-12*math.Abs(emax) && stepLen(0) <= maxNewtonStep {
		return
	}
	// stepLen decreases in λ above -emin; bisect for stepLen(λ) = max.
	lo := math.Max(0, -emin) + 1e-12*math.Max(math.Abs(emax), 1e-300)
	if stepLen(lo) > maxNewtonStep {
		hi := lo + floats.Norm(g, 2)/maxNewtonStep + math.Abs(emax)
		for range 100 {
			mid := (lo + hi) / 2
			if stepLen(mid) > maxNewtonStep {
				lo = mid
			} else {
				hi = mid
			}
			if hi-lo <= 1e-12*hi {
				break
			}
		}
		lo = hi
	}
	for i := range n {
		dst.SetSym(i, i, dst.At(i, i)+lo)
	}
	// Near a proper maximum the Newton step shrinks with the gradient; a
	// gradient already within the acceptance tolerance that still asks
	// for a step longer than the trust region means a direction in which
	// the likelihood is flat. Going on only walks along the ridge (each
	// step a factor e in some parameters, every Pareto/NBD pass dearer as
	// the hypergeometric series lengthen), so the stage stops and the
	// acceptance check judges the point.
	if floats.Norm(g, math.Inf(1)) <= gradTol && !p.ridge {
		p.ridge = true
		p.ridgeU = slices.Clone(u)
	}
}

// fdHessian stores in dst a finite-difference Hessian of f at u built from
// analytic gradients, symmetrised, and leaves the cache holding u. Forward
// differences (n gradient passes) are accurate to ~1e-6 relative, plenty
// for Newton directions; the acceptance check uses central ones (2n
// passes).
func (p *problem) fdHessian(dst *mat.SymDense, u []float64, central bool) {
	n := len(u)
	p.eval(u, levelGrad)
	g0 := slices.Clone(p.cg)
	f0, ll0 := p.cf, p.cll
	h := 1e-6
	if central {
		h = 1e-4
	}
	v := slices.Clone(u)
	gp, gm := make([]float64, n), make([]float64, n)
	cols := make([][]float64, n)
	for j := range n {
		v[j] = u[j] + h
		p.grad(gp, v)
		if central {
			v[j] = u[j] - h
			p.grad(gm, v)
		} else {
			copy(gm, g0)
		}
		v[j] = u[j]
		cols[j] = make([]float64, n)
		d := h
		if central {
			d = 2 * h
		}
		for i := range n {
			cols[j][i] = (gp[i] - gm[i]) / d
		}
	}
	for i := range n {
		for j := i; j < n; j++ {
			dst.SetSym(i, j, (cols[i][j]+cols[j][i])/2)
		}
	}
	// Put u back so that gonum's next request at u is a cache hit.
	copy(p.cu, u)
	copy(p.cg, g0)
	p.cf, p.cll, p.cl = f0, ll0, levelGrad
}

// hessianAt returns the Hessian of f at u: analytic when the likelihood
// has one, else central differences of the analytic gradient.
func (p *problem) hessianAt(u []float64) *mat.SymDense {
	H := mat.NewSymDense(len(u), nil)
	if p.hasHess {
		p.hess(H, u)
	} else {
		p.fdHessian(H, u, true)
	}
	return H
}

// maximize fits the parameters of ll starting from init (natural scale).
// The first stage is Newton's method in a trust region (see trustHess),
// which from a reasonable start needs a handful of passes over the data
// where BFGS needs a few dozen; without an analytic Hessian it uses
// forward differences of the analytic gradient, n more passes per
// iteration and still several times fewer than BFGS.
func maximize(ctx context.Context, ll logLikFunc, hasHess bool, init []float64, wsum float64, opt FitOptions) ([]float64, FitResult, error) {
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
	p := newProblem(ll, hasHess, n, wsum, opt.Penalizer)
	p.edge = opt.edge
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
			if p.ridge || p.atEdge {
				return optimize.MethodConverge, nil
			}
			return optimize.NotTerminated, nil
		},
	}
	prob.Hess = p.trustHess
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
	stage := func(name string, m optimize.Method, want evalLevel) {
		if res.Method != "" {
			res.Method += ">"
		}
		res.Method += name
		p.want, p.ridge = want, false
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

	stage("Newton", &optimize.Newton{Linesearcher: &lineSearch{}}, levelHess)
	if p.atEdge && ctx.Err() == nil {
		// No other optimiser does better past a boundary: stop here,
		// where the likelihood was last evaluated inside it.
		theta := make([]float64, n)
		for i, v := range p.edgeU {
			theta[i] = math.Exp(v)
		}
		return nil, res, p.stopped(p.edgeU, fmt.Errorf("%w after %s: the parameters ran off along a ridge towards a boundary (%s) from %.4g: parameters not identified",
			ErrNotConverged, res.Method, p.edge.why, theta))
	}
	if p.ridge && ctx.Err() == nil {
		theta := make([]float64, n)
		for i, v := range p.ridgeU {
			theta[i] = math.Exp(v)
		}
		return nil, res, p.stopped(p.ridgeU, fmt.Errorf("%w after %s: the likelihood rises without bound along a flat ridge through %.4g (a maximum at infinity, typically a mixing distribution collapsing to a point): parameters not identified", ErrNotConverged, res.Method, theta))
	}
	reason := accept()
	var flat flatError
	if reason != nil && ctx.Err() == nil && !errors.As(reason, &flat) {
		// Line-search methods can stall in a curved valley or on a
		// line-search failure; a derivative-free pass from the best point,
		// then BFGS to polish, recovers most such cases. Not when the
		// first stage ended at a stationary point on a flat ridge: no
		// optimiser finds an interior maximum from there, and on such
		// ridges (a parameter ratio in the thousands) each Pareto/NBD
		// evaluation can take a second.
		stage("NelderMead", &optimize.NelderMead{}, levelF)
		stage("BFGS", &optimize.BFGS{Linesearcher: &lineSearch{}}, levelGrad)
		reason = accept()
	}
	if err := ctx.Err(); err != nil {
		return nil, res, err
	}
	if reason != nil {
		if lastErr != nil {
			reason = fmt.Errorf("%w (optimizer: %v)", reason, lastErr)
		}
		return nil, res, p.stopped(u, fmt.Errorf("%w after %s: %w", ErrNotConverged, res.Method, reason))
	}
	theta := make([]float64, n)
	for i, v := range u {
		theta[i] = math.Exp(v)
	}
	// The acceptance checks evaluated the likelihood at u last.
	p.eval(u, levelF)
	res.LogLik = p.cll
	res.Converged = true
	return theta, res, nil
}

// stopError is a failed fit's error together with where the optimiser
// stopped: the natural parameters of its last point and the unpenalised
// log-likelihood there. A likelihood that rises towards a boundary is
// telling where its supremum lies, and the purchase models use the point to
// recognise the no-dropout boundary (see NoDropoutError).
type stopError struct {
	err    error
	theta  []float64
	logLik float64
}

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// stopped wraps err with the point u (log-parameters) and its
// log-likelihood.
func (p *problem) stopped(u []float64, err error) error {
	theta := make([]float64, len(u))
	for i, v := range u {
		theta[i] = math.Exp(v)
	}
	p.eval(u, levelF)
	return &stopError{err: err, theta: theta, logLik: p.cll}
}

// lineSearch is gonum's bisection line search with Hager and Zhang's
// approximate Wolfe conditions (SIAM J. Optim. 16(1), 2005) as a second way
// to accept a step. Next to the optimum a Newton step lowers f by less than
// f's rounding error (a few ulp of a sum over thousands of customers), so
// the exact test f(step) <= f(0) fails at random and bisection then spends
// dozens of evaluations on points it cannot tell apart. A step that leaves
// f within that noise while cutting the directional derivative as the
// Wolfe conditions ask is accepted instead. The gradient is requested with
// every value because one pass over the data produces both.
type lineSearch struct {
	optimize.Bisection
	f0, g0, step float64
}

// approxWolfeTol bounds the increase of f, relative to |f(0)|, accepted as
// rounding noise: about a hundred ulp.
const approxWolfeTol = 1e-13

func (l *lineSearch) Init(f, g, step float64) optimize.Operation {
	l.f0, l.g0, l.step = f, g, step
	l.Bisection.Init(f, g, step)
	return optimize.FuncEvaluation | optimize.GradEvaluation
}

func (l *lineSearch) Iterate(f, g float64) (optimize.Operation, float64, error) {
	const sigma, delta = 0.9, 0.1
	if f <= l.f0+approxWolfeTol*math.Abs(l.f0) && g >= sigma*l.g0 && g <= (2*delta-1)*l.g0 {
		return optimize.MajorIteration, l.step, nil
	}
	for {
		op, step, err := l.Bisection.Iterate(f, g)
		if err != nil || op == optimize.MajorIteration {
			return op, step, err
		}
		if op == optimize.GradEvaluation && step == l.step {
			// The gradient at this step is already known.
			continue
		}
		l.step = step
		return optimize.FuncEvaluation | optimize.GradEvaluation, step, nil
	}
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
	if !eig.Factorize(p.hessianAt(u), false) {
		return errors.New("Hessian eigendecomposition failed")
	}
	vals := eig.Values(nil)
	// A flat direction means the data do not identify the parameters; the
	// threshold is relative so that it does not depend on units. When the
	// maximum lies at infinity (a Beta or Gamma mixing distribution
	// collapsing to a point: a, b -> ∞ or r, α -> ∞ at a fixed ratio) an
	// optimiser stops somewhere along the ridge, where the curvature across
	// it decays like 1/parameter; such points had ratios below 1e-7 in
	// simulations while every proper fit had more than 1e-4.
	lo, hi := vals[0], vals[len(vals)-1]
	if !(lo > minEigenRatio*math.Max(hi, 1e-12)) || !(hi > 0) {
		err := fmt.Errorf("Hessian not positive definite (eigenvalues %.3g..%.3g): parameters not identified", lo, hi)
		if hi > 0 && lo > -minEigenRatio*hi {
			err = flatError{err}
		}
		return err
	}
	return nil
}

// flatError marks a stationary point where the likelihood is flat in some
// direction without curving down: a maximum at infinity, not a stall.
type flatError struct{ error }

func (e flatError) Unwrap() error { return e.error }

func slicesEqual(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
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
