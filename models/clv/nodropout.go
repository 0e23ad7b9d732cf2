package clv

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// NoDropoutError is the error of a BG/NBD, MBG/NBD or Pareto/NBD fit that
// found no interior maximum and no evidence of drop-out: the likelihood
// rises towards the no-dropout boundary (BG/NBD and MBG/NBD b → ∞, so
// p → 0; Pareto/NBD β → ∞, so μ → 0) while r and α settle, and tends to
// the NBD's (see NBD). Panels in which nobody has lapsed look like this.
// The model is then not identified, so the fit fails, but the data do have
// an answer: the NBD, fitted and carried here so that a caller may use it
// instead. It wraps the fit's error, so errors.Is(err, ErrNotConverged)
// holds.
//
// Where the optimiser stopped, all of these must hold, which tells the
// boundary apart from the other ways a mixture fails to be identified (a
// Beta or Gamma collapsing onto one drop-out rate that all customers
// share, a stall):
//
//   - a typical customer (x̄ repeat purchases over T̄) has dropped out
//     with probability at most maxDropoutProb;
//   - the NBD fit converges, and r and α agree with it to within
//     nbdParamTol;
//   - the log-likelihoods agree: the purchase model's is at most
//     nbdBelowTol per customer below the NBD's maximum (the optimisers stop
//     on a ridge before its end) and at most maxDropoutGain above it.
//
// The last is the decisive one. The model contains the NBD as a limit, so
// its supremum is at least the NBD's maximum; when the supremum is on this
// boundary the two are equal (Gain ≤ 0 up to rounding: Exact). A point
// with drop-out that beats the NBD significantly means the data show
// drop-out, whatever the fit's trouble; one that beats it by less than a
// likelihood-ratio test at 5 % can tell from chance is no evidence either:
// on simulated no-churn data, sampling noise puts about one sample in ten
// there (500 to 20,000 customers), on a ridge towards one small drop-out
// probability shared by everyone or towards a few customers leaving at
// once (a, b → 0).
type NoDropoutError struct {
	// Model is the purchase model fitted: "bgnbd", "mbgnbd" or "pnbd".
	Model string
	// Param is the parameter that runs to infinity in the NBD limit: "b"
	// or "beta".
	Param string
	// Stopped holds the parameters where the optimiser stopped, and
	// LogLik the model's log-likelihood there.
	Stopped map[string]float64
	LogLik  float64
	// DropoutProb is the probability that a typical customer (x̄ repeat
	// purchases over T̄) has dropped out, at Stopped.
	DropoutProb float64
	// Gain is LogLik minus the NBD's maximum: at most 0, up to rounding,
	// when the likelihood's supremum is the NBD limit (Exact), and below
	// maxDropoutGain in any case.
	Gain  float64
	Exact bool
	// NBD is the fitted limit and NBDFit how its fit went.
	NBD    NBD
	NBDFit FitResult
	// Err is the fit's own error; it wraps ErrNotConverged.
	Err error
}

// Reason says in a sentence why the NBD stands in for the model.
func (e *NoDropoutError) Reason() string {
	if e.Exact {
		return fmt.Sprintf("no evidence of dropout: the %s likelihood is maximised at %s → ∞, the NBD limit", e.Model, e.Param)
	}
	return fmt.Sprintf("no evidence of dropout: the %s likelihood has no interior maximum, and its best point with "+
		"drop-out is only %.3g above the NBD's maximum (a likelihood-ratio statistic of %.3g, below the %.2f of a "+
		"test at 5%%); the NBD is its %s → ∞ limit", e.Model, e.Gain, 2*e.Gain, 2*maxDropoutGain, e.Param)
}

func (e *NoDropoutError) Error() string {
	return fmt.Sprintf("%s (log-likelihood %.10g where the fit stopped, at %s = %.4g, where a typical customer has "+
		"dropped out with probability %.2g; the NBD fit r = %.4g, α = %.4g, log-likelihood %.10g): %v",
		e.Reason(), e.LogLik, e.Param, e.Stopped[e.Param], e.DropoutProb, e.NBD.R, e.NBD.Alpha, e.NBDFit.LogLik, e.Err)
}

func (e *NoDropoutError) Unwrap() error { return e.Err }

// Thresholds of the no-dropout diagnosis; see NoDropoutError.
//
// On simulated no-churn data (purchases Poisson, rates Gamma or
// lognormal, 500 to 200,000 customers, over a hundred fits) the diagnosed
// fits stopped with drop-out probabilities up to 2.1 %, r and α up to
// 2.8 % from the NBD's, and log-likelihoods from 6e-4 per customer below
// the NBD's maximum (a Pareto/NBD line search stalled where its series
// give out, β/α ≈ 5e3) to 1.8 above it. maxDropoutGain is half the 5 % point of
// χ²(1), 3.84. The Complete Journey households' best BG/NBD point (one
// drop-out probability shared by all, a/(a+b) = 2.8e-4: a handful of them
// stopped buying for months) is 4.73 above the NBD, and is not taken for
// the boundary.
const (
	maxDropoutProb = 0.05
	nbdParamTol    = 0.05
	nbdBelowTol    = 1e-3
	nbdBelowAbs    = 0.01 // for small samples
	maxDropoutGain = 3.841 / 2
	// exactGainTol is the rounding of a log-likelihood sum, relative.
	exactGainTol = 1e-9
)

// dropoutLimit describes how a purchase model with parameters (r, α, ·, ·)
// approaches the NBD.
type dropoutLimit struct {
	model, param string
	names        []string // of the parameters, in order
	// share returns the probability that a customer with xbar repeat
	// purchases over Tbar has dropped out, at theta.
	share func(theta []float64, xbar, Tbar float64) float64
}

// bgDropout is BG/NBD's limit, or MBG/NBD's with mod: the drop-out
// probability p ~ Beta(a, b) vanishes as b → ∞. A customer survives x
// purchases (x+1 for MBG/NBD) with probability E[(1-p)^x] = B(a, b+x)/B(a, b).
func bgDropout(mod bool) *dropoutLimit {
	l := &dropoutLimit{model: "bgnbd", param: "b", names: []string{"r", "alpha", "a", "b"}}
	e := 0.0
	if mod {
		l.model, e = "mbgnbd", 1
	}
	l.share = func(theta []float64, xbar, _ float64) float64 {
		a, b := theta[2], theta[3]
		return -math.Expm1(mathext.Lbeta(a, b+xbar+e) - mathext.Lbeta(a, b))
	}
	return l
}

// pnbdDropout is Pareto/NBD's limit: the death rate μ ~ Gamma(s, β)
// vanishes as β → ∞, and a customer survives T with probability
// E[e^{-μT}] = (β/(β+T))^s.
var pnbdDropout = &dropoutLimit{model: "pnbd", param: "beta", names: []string{"r", "alpha", "s", "beta"},
	share: func(theta []float64, _, Tbar float64) float64 {
		s, be := theta[2], theta[3]
		return -math.Expm1(-s * math.Log1p(Tbar/be))
	}}

// check returns what a failed fit of the model on (x, tx, T) should
// report: a *NoDropoutError wrapping err when it ended at the no-dropout
// boundary; err with a note when it ended next to the boundary but with
// drop-out fitting significantly better, so that nobody takes the data for
// a no-churn panel; err itself otherwise.
//
// rows are the model's compressed rows of (x, t_x, T); the NBD is fitted to
// them with t_x dropped (see fitNBDRows).
func (l *dropoutLimit) check(ctx context.Context, err error, x, T []float64, rows *purchaseRows, opt FitOptions) error {
	var se *stopError
	if !errors.As(err, &se) || ctx.Err() != nil || len(x) == 0 {
		return err
	}
	var sx, sT float64
	for i := range x {
		sx += x[i]
		sT += T[i]
	}
	n := float64(len(x))
	share := l.share(se.theta, sx/n, sT/n)
	if !(share <= maxDropoutProb) || math.IsInf(se.logLik, 0) || math.IsNaN(se.logLik) {
		return err
	}
	nopt := FitOptions{Penalizer: opt.Penalizer, MaxIterations: opt.MaxIterations, Workers: opt.Workers}
	nbd, res, nerr := fitNBDRows(ctx, x, T, rows, nopt)
	if nerr != nil {
		return err
	}
	if relDiff(se.theta[0], nbd.R) > nbdParamTol || relDiff(se.theta[1], nbd.Alpha) > nbdParamTol {
		return err
	}
	gain := se.logLik - res.LogLik
	if gain > maxDropoutGain {
		return fmt.Errorf("%w; nor is it the no-dropout limit (the NBD): where the fit stopped, where a typical customer "+
			"has dropped out with probability %.2g, the log-likelihood is %.3g above the NBD's maximum, a likelihood-ratio "+
			"statistic of %.3g (above the %.2f of a test at 5%%): the data show drop-out, which this model cannot estimate",
			err, share, gain, 2*gain, 2*maxDropoutGain)
	}
	if !(gain >= -(nbdBelowTol*n + nbdBelowAbs)) {
		return err
	}
	stopped := make(map[string]float64, len(l.names))
	for i, name := range l.names {
		stopped[name] = se.theta[i]
	}
	return &NoDropoutError{Model: l.model, Param: l.param, Stopped: stopped, LogLik: se.logLik,
		DropoutProb: share, Gain: gain, Exact: gain <= exactGainTol*math.Abs(res.LogLik),
		NBD: nbd, NBDFit: res, Err: err}
}

func relDiff(got, want float64) float64 { return math.Abs(got-want) / math.Abs(want) }
