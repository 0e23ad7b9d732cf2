package clv

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// AliveModel returns the model of a customer's purchasing after T given
// that the customer is alive at T with summary (x, t_x, T): a model of a
// customer "just acquired" at T whose parameters are the posterior ones.
//
// Given alive at T the likelihood of the calibration data is
// λ^x e^{-λT} times a drop-out factor, so the posteriors are independent:
//
//	all models:  λ | data, alive ~ Gamma(r+x, α+T)
//	BG/NBD:      p | data, alive ~ Beta(a, b+x)     (survived x purchases)
//	MBG/NBD:     p | data, alive ~ Beta(a, b+x+1)   (and the first one)
//	Pareto/NBD:  μ | data, alive ~ Gamma(s, β+T)    (memoryless lifetime)
//
// From T on a BG/NBD or MBG/NBD customer who is alive buys at rate λ and
// drops out after each purchase with probability p, which is the BG/NBD
// story from acquisition (MBG/NBD's extra drop-out chance at acquisition
// has been survived). So the result is
//
//	BG/NBD:      BGNBD{r+x, α+T, a, b+x}
//	MBG/NBD:     BGNBD{r+x, α+T, a, b+x+1}
//	Pareto/NBD:  ParetoNBD{r+x, α+T, s, β+T}
//	NBD:         NBD{r+x, α+T}
//
// and its UnconditionalExpectedPurchases(t) times P(alive) is the
// conditional expectation E[Y(t) | x, t_x, T] of each model (FHL 2005
// eq. 10; Batislam et al. 2007; Schmittlein, Morrison and Colombo 1987),
// while its ProbNPurchases gives the conditional distribution of future
// counts (see ProbFuturePurchases). ok is false for models of other types.
func AliveModel(pm PurchaseModel, x, T float64) (m PurchaseModel, ok bool) {
	if bg, ok := aliveBG(pm, x, T); ok {
		return bg, true
	}
	switch v := pm.(type) {
	case ParetoNBD:
		return ParetoNBD{R: v.R + x, Alpha: v.Alpha + T, S: v.S, Beta: v.Beta + T}, true
	case NBD:
		return aliveNBD(v, x, T), true
	}
	return nil, false
}

// aliveBG is AliveModel of a BG/NBD or MBG/NBD model, as a concrete value:
// per-customer loops use it without boxing a model on the heap.
func aliveBG(pm PurchaseModel, x, T float64) (BGNBD, bool) {
	switch v := pm.(type) {
	case BGNBD:
		return BGNBD{R: v.R + x, Alpha: v.Alpha + T, A: v.A, B: v.B + x}, true
	case MBGNBD:
		return BGNBD{R: v.R + x, Alpha: v.Alpha + T, A: v.A, B: v.B + x + 1}, true
	}
	return BGNBD{}, false
}

// aliveNBD is AliveModel of an NBD model, as a concrete value.
func aliveNBD(m NBD, x, T float64) NBD { return NBD{R: m.R + x, Alpha: m.Alpha + T} }

// ProbFuturePurchases returns P(Y(t) = k | x, t_x, T), the probability of
// exactly k purchases in (T, T+t] for a customer with summary (x, t_x, T):
//
//	P(Y(t) = k | x, t_x, T) = (1 - P(alive))·1{k = 0} + P(alive)·P_A(X(t) = k)
//
// where P_A is the ProbNPurchases of AliveModel(pm, x, T): FHL 2005 eq. 8
// for BG/NBD and MBG/NBD, Fader and Hardie (2006) for Pareto/NBD, the
// negative binomial for the NBD. These are exact. For a PurchaseModel of
// another type, for which no closed form is known here, it is the Poisson
// probability with mean pm.ExpectedPurchases(t, x, tx, T), an
// approximation that understates the spread.
func ProbFuturePurchases(pm PurchaseModel, k int, t, x, tx, T float64) float64 {
	if k < 0 {
		return 0
	}
	am, ok := AliveModel(pm, x, T)
	if !ok {
		mu := pm.ExpectedPurchases(t, x, tx, T)
		if mu <= 0 {
			if k == 0 {
				return 1
			}
			return 0
		}
		fk := float64(k)
		return math.Exp(fk*math.Log(mu) - mu - lgam(fk+1))
	}
	return aliveMixture(pm.PAlive(x, tx, T), am, k, t)
}

// aliveMixture is ProbFuturePurchases given P(alive) pa and the alive
// model am: (1 - pa)·1{k = 0} + pa·P_A(X(t) = k), clamped to [0, 1].
func aliveMixture(pa float64, am PurchaseModel, k int, t float64) float64 {
	return mixAlive(pa, am.ProbNPurchases(k, t), k)
}

// mixAlive is aliveMixture given pk = P_A(X(t) = k).
func mixAlive(pa, pk float64, k int) float64 {
	p := pa * pk
	if k == 0 {
		p += 1 - pa
	}
	return min(max(p, 0), 1)
}

// SelectMetric is how SelectPurchaseModel scores a candidate on the
// holdout period.
type SelectMetric int

const (
	// HoldoutLogLik is Σ_i ln P(Y_i(τ) = k_i | x_i, t_x,i, T_i), the
	// log-probability the model gave the counts that happened (see
	// ProbFuturePurchases); higher is better. It rewards a model for the
	// whole distribution of each customer's count, including who buys
	// nothing, which is where the models differ most.
	HoldoutLogLik SelectMetric = iota
	// HoldoutMAE is the mean |E[Y_i(τ) | x_i, t_x,i, T_i] - k_i|; lower is
	// better.
	HoldoutMAE
)

func (m SelectMetric) String() string {
	if m == HoldoutMAE {
		return "holdout MAE"
	}
	return "holdout log-likelihood"
}

// SelectOptions tunes SelectPurchaseModel. The zero value scores by
// HoldoutLogLik over all four models.
type SelectOptions struct {
	Metric SelectMetric
	// Candidates are model names as FitPurchaseModel takes them; nil means
	// "bgnbd", "mbgnbd", "pnbd", "nbd". On an exact tie of scores the
	// earlier candidate wins.
	Candidates []string
	// Fit is passed to every fit; its Workers also bounds the scoring.
	Fit FitOptions
}

// Candidate is one model's fit and holdout scores.
type Candidate struct {
	// Name is the candidate as requested.
	Name string
	// Model is the model scored: the fitted one, or the NBD a
	// *NoDropoutError carried (NoDropout true), or nil when the fit failed
	// otherwise (Err set, not ranked).
	Model     PurchaseModel
	Fit       FitResult
	NoDropout bool
	Err       error
	// LogLik is the calibration log-likelihood at the estimate.
	LogLik float64
	// HoldoutLogLik is Σ ln P(Y = k) over customers and HoldoutMAE the mean
	// absolute error of the expected counts; both are always computed.
	HoldoutLogLik, HoldoutMAE float64
	// Score is the value of the chosen metric.
	Score float64
}

// Selection is the outcome of SelectPurchaseModel.
type Selection struct {
	// Model is the winner and Name its candidate name.
	Model  PurchaseModel
	Name   string
	Metric SelectMetric
	// Candidates are in the order requested.
	Candidates []Candidate
	// Reason says in a sentence why the winner won, with the margin over
	// the runner-up.
	Reason string
}

// DefaultCandidates are the models SelectPurchaseModel tries by default.
var DefaultCandidates = []string{"bgnbd", "mbgnbd", "pnbd", "nbd"}

// SelectPurchaseModel fits every candidate purchase model to calibration
// summaries (x, t_x, T) and keeps the one that best predicts the holdout
// counts: holdout[i] purchases by customer i in (T_i, T_i+tau] (see
// HoldoutCounts), tau in the model time unit.
//
// Each candidate is fitted with FitPurchaseModel. A fit that fails with a
// *NoDropoutError is scored with the NBD it carries (its no-dropout limit);
// any other failed fit is reported and not ranked. The metric is
// opt.Metric (see SelectMetric); the log-likelihood uses the exact
// conditional distribution of each model's future count
// (ProbFuturePurchases). Choosing by a holdout score rather than by the
// calibration likelihood is what lets a model with more parameters lose:
// BG/NBD keeps every one-time buyer alive, which the calibration data
// cannot refute but the holdout can.
func SelectPurchaseModel(ctx context.Context, x, tx, T, holdout []float64, tau float64, opt SelectOptions) (Selection, error) {
	if err := checkLens("select model", len(x), tx, T, holdout); err != nil {
		return Selection{}, err
	}
	if !(tau > 0) || math.IsInf(tau, 0) {
		return Selection{}, fmt.Errorf("select model: holdout length %v, want positive and finite", tau)
	}
	for i, k := range holdout {
		if !(k >= 0) || k != math.Trunc(k) || k > 1e6 {
			return Selection{}, fmt.Errorf("select model: holdout count %v of customer %d, want a non-negative whole number", k, i)
		}
	}
	names := opt.Candidates
	if names == nil {
		names = DefaultCandidates
	}
	if len(names) == 0 {
		return Selection{}, errors.New("select model: no candidates")
	}
	sel := Selection{Metric: opt.Metric}
	best := -1
	better := func(a, b float64) bool {
		if opt.Metric == HoldoutMAE {
			return a < b
		}
		return a > b
	}
	for _, name := range names {
		c := Candidate{Name: name}
		m, res, err := FitPurchaseModel(ctx, name, x, tx, T, opt.Fit)
		if cerr := ctx.Err(); cerr != nil {
			return Selection{}, cerr
		}
		c.Fit, c.Err = res, err
		var nd *NoDropoutError
		switch {
		case err == nil:
			c.Model, c.LogLik = m, res.LogLik
		case errors.As(err, &nd):
			c.Model, c.NoDropout, c.LogLik = nd.NBD, true, nd.NBDFit.LogLik
		}
		if c.Model != nil {
			if c.HoldoutLogLik, c.HoldoutMAE, err = holdoutScores(ctx, c.Model, x, tx, T, holdout, tau, opt.Fit.Workers); err != nil {
				return Selection{}, fmt.Errorf("select model: %s: %w", name, err)
			}
			c.Score = c.HoldoutLogLik
			if opt.Metric == HoldoutMAE {
				c.Score = c.HoldoutMAE
			}
			if best < 0 || better(c.Score, sel.Candidates[best].Score) {
				best = len(sel.Candidates)
			}
		}
		sel.Candidates = append(sel.Candidates, c)
	}
	if best < 0 {
		var msgs []string
		for _, c := range sel.Candidates {
			msgs = append(msgs, c.Err.Error())
		}
		return sel, fmt.Errorf("select model: no candidate could be fitted: %s", strings.Join(msgs, "; "))
	}
	w := sel.Candidates[best]
	sel.Model, sel.Name = w.Model, w.Name
	sel.Reason = selectReason(sel, best)
	return sel, nil
}

func selectReason(sel Selection, best int) string {
	w := sel.Candidates[best]
	var b strings.Builder
	fmt.Fprintf(&b, "%s: best %s (%.6g)", w.Name, sel.Metric, w.Score)
	if w.NoDropout {
		fmt.Fprintf(&b, " with its no-dropout limit, the NBD")
	}
	runner := -1
	for i, c := range sel.Candidates {
		if i == best || c.Model == nil {
			continue
		}
		if runner < 0 || (sel.Metric == HoldoutMAE && c.Score < sel.Candidates[runner].Score) ||
			(sel.Metric != HoldoutMAE && c.Score > sel.Candidates[runner].Score) {
			runner = i
		}
	}
	if runner >= 0 {
		r := sel.Candidates[runner]
		fmt.Fprintf(&b, "; runner-up %s (%.6g, margin %.3g)", r.Name, r.Score, math.Abs(w.Score-r.Score))
	}
	var failed []string
	for _, c := range sel.Candidates {
		if c.Model == nil {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(&b, "; not fitted: %s", strings.Join(failed, ", "))
	}
	return b.String()
}

// holdoutScores returns Σ ln P(Y_i = k_i) and the MAE of the expected
// counts. Each customer's terms are a pure function of its inputs,
// computed in parallel and summed in order.
func holdoutScores(ctx context.Context, pm PurchaseModel, x, tx, T, k []float64, tau float64, workers int) (ll, mae float64, err error) {
	n := len(x)
	lp := make([]float64, n)
	ae := make([]float64, n)
	err = parallel(ctx, lp, workers, func(i int) float64 {
		ae[i] = math.Abs(pm.ExpectedPurchases(tau, x[i], tx[i], T[i]) - k[i])
		p := ProbFuturePurchases(pm, int(k[i]), tau, x[i], tx[i], T[i])
		return math.Log(math.Max(p, 1e-300))
	})
	if err != nil {
		return 0, 0, err
	}
	for i := range n {
		ll += lp[i]
		mae += ae[i]
	}
	if n > 0 {
		mae /= float64(n)
	}
	return ll, mae, nil
}

// Ranked returns the candidates that were scored, best first (a stable
// sort: ties keep the requested order).
func (s Selection) Ranked() []Candidate {
	out := slices.Clone(s.Candidates)
	out = slices.DeleteFunc(out, func(c Candidate) bool { return c.Model == nil })
	slices.SortStableFunc(out, func(a, b Candidate) int {
		if s.Metric == HoldoutMAE {
			return cmpF(a.Score, b.Score)
		}
		return cmpF(b.Score, a.Score)
	})
	return out
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
