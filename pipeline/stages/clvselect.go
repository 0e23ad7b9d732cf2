package stages

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/strata-oss/strata/models/clv"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/tables"
)

// ModelSelection is model.json's record of clv.model: auto: every
// candidate fitted on the calibration period (the history before the
// holdout window) with its holdout scores, the metric, which one won and
// why. The winner is then refitted on the whole history; when its refit
// fails, the next best that refits is published and Reason says so.
type ModelSelection struct {
	Metric         string `json:"metric"` // log_likelihood or mae
	CalibrationEnd string `json:"calibration_end,omitempty"`
	HoldoutDays    int    `json:"holdout_days"`
	Customers      int    `json:"customers"`
	// Candidates are in the order tried (clv.DefaultCandidates).
	Candidates []CandidateScore `json:"candidates"`
	// Chosen is the candidate whose model is published.
	Chosen string `json:"chosen"`
	Reason string `json:"reason"`
}

// CandidateScore is one candidate's calibration fit and holdout scores.
type CandidateScore struct {
	Name string `json:"name"`
	// Model is the model scored: the candidate, or the NBD when the fit
	// found no evidence of drop-out (NoDropout).
	Model     string `json:"model,omitempty"`
	NoDropout bool   `json:"no_dropout,omitempty"`
	// Error says why the candidate could not be fitted (not ranked).
	Error string `json:"error,omitempty"`
	// LogLik is the calibration log-likelihood; HoldoutLogLik the sum over
	// customers of ln P(count that happened); HoldoutMAE the mean absolute
	// error of the expected counts; Score the metric's value.
	LogLik        float64 `json:"log_likelihood,omitempty"`
	HoldoutLogLik float64 `json:"holdout_log_likelihood,omitempty"`
	HoldoutMAE    float64 `json:"holdout_mae,omitempty"`
	Score         float64 `json:"score,omitempty"`
	Chosen        bool    `json:"chosen,omitempty"`
}

// autoCandidates are the models auto chooses among. The NBD is not one of
// them on its own: it stands in for a candidate whose fit finds no drop-out
// (a *clv.NoDropoutError, scored as its NBD limit), and only then. Data
// that show drop-out the models cannot estimate must not be published as
// a panel where nobody leaves (p_alive = 1), which the NBD, scored beside
// models that failed, would win by default.
var autoCandidates = []string{"bgnbd", "mbgnbd", "pnbd"}

// better reports whether score a beats b under metric.
func better(metric string, a, b float64) bool {
	if metric == "mae" {
		return a < b
	}
	return a > b
}

// calibration is the run's history cut at asOfDay−days: the summaries of
// the customers who had bought by then and their purchase days after it.
type calibration struct {
	end         int32
	rows        []int
	x, tx, T    []float64
	actual      []float64 // purchase days in the window
	description string    // the calibration end, YYYY-MM-DD
}

// calibrate cuts in's history days before its as-of day; it fails when the
// features lack the calibration counts or too few customers bought before.
func calibrate(cfg *config.Config, in *clvInputs, days int) (*calibration, error) {
	beh := in.beh
	cal := &calibration{end: in.asOfDay - int32(days)}
	cal.description = features.DayDate(cal.end)
	if beh.CalDays == nil {
		return cal, fmt.Errorf("the features were computed without the %d-day calibration counts", days)
	}
	sum, err := clv.SummarizeCounts(beh.FirstDay, beh.CalLast, beh.CalDays, nil, cal.end, cfg.CLV.UnitDays())
	if err != nil {
		return cal, err
	}
	cal.rows = presentRows(sum.Present)
	if len(cal.rows) < minCLVCustomers {
		return cal, fmt.Errorf("%d customers bought before %s, fewer than the %d a fit needs", len(cal.rows), cal.description, minCLVCustomers)
	}
	cal.x, cal.tx, cal.T = tables.Gather(cal.rows, sum.X), tables.Gather(cal.rows, sum.Tx), tables.Gather(cal.rows, sum.T)
	cal.actual = make([]float64, len(cal.rows))
	for i, c := range cal.rows {
		cal.actual[i] = float64(beh.PurchaseDays[c] - beh.CalDays[c])
	}
	return cal, nil
}

// selectModel runs clv.SelectPurchaseModel on the calibration period and
// returns the record with the candidates best first by the metric, which
// is the order the refit tries them in.
func selectModel(ctx context.Context, cfg *config.Config, in *clvInputs) (*ModelSelection, []string, error) {
	c := cfg.CLV
	days := c.Holdout()
	ms := &ModelSelection{Metric: c.Selection(), HoldoutDays: days}
	if days <= 0 {
		ms.Chosen = config.AutoFallbackModel
		ms.Reason = fmt.Sprintf("clv.holdout_days is 0: no holdout window to choose by, so %s, whose P(alive) of a one-time buyer falls with time", config.AutoFallbackModel)
		return ms, []string{config.AutoFallbackModel}, nil
	}
	cal, err := calibrate(cfg, in, days)
	ms.CalibrationEnd = cal.description
	if err != nil {
		ms.Chosen = config.AutoFallbackModel
		ms.Reason = fmt.Sprintf("no holdout to choose by (%v), so %s", err, config.AutoFallbackModel)
		return ms, []string{config.AutoFallbackModel}, nil
	}
	ms.Customers = len(cal.rows)
	metric := clv.HoldoutLogLik
	if ms.Metric == "mae" {
		metric = clv.HoldoutMAE
	}
	sel, err := clv.SelectPurchaseModel(ctx, cal.x, cal.tx, cal.T, cal.actual, float64(days)/c.UnitDays(),
		clv.SelectOptions{Metric: metric, Candidates: autoCandidates, Fit: clv.FitOptions{Workers: cfg.Workers}})
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	for _, cand := range sel.Candidates {
		cs := CandidateScore{Name: cand.Name, NoDropout: cand.NoDropout}
		if cand.Model == nil {
			cs.Error = cand.Err.Error()
		} else {
			cs.Model, cs.LogLik = cand.Model.Name(), cand.LogLik
			cs.HoldoutLogLik, cs.HoldoutMAE, cs.Score = cand.HoldoutLogLik, cand.HoldoutMAE, cand.Score
		}
		ms.Candidates = append(ms.Candidates, cs)
	}
	if err != nil {
		ms.Chosen = config.AutoFallbackModel
		ms.Reason = fmt.Sprintf("no candidate could be scored on the holdout (%v), so %s", err, config.AutoFallbackModel)
		return ms, []string{config.AutoFallbackModel}, nil
	}
	ms.Reason = sel.Reason
	var order []string
	for _, cand := range sel.Ranked() {
		// The candidate is refitted as named, also when the calibration
		// period showed it no drop-out (it was scored as the NBD): the whole
		// history decides again, and may show drop-out the shorter period
		// did not (the Complete Journey's households), where publishing the
		// NBD would say that nobody leaves.
		order = append(order, cand.Name)
	}
	return ms, order, nil
}

// fitAuto chooses the purchase model by the holdout and refits it on the
// whole history of in, walking down the ranking when a refit fails.
func (s CLV) fitAuto(ctx context.Context, cfg *config.Config, in *clvInputs) (clv.PurchaseModel, clv.FitResult, *ModelSelection, error) {
	ms, order, err := selectModel(ctx, cfg, in)
	if err != nil {
		return nil, clv.FitResult{}, nil, err
	}
	var fails []error
	var last clv.FitResult
	tried := map[string]bool{}
	for _, name := range order {
		if tried[name] {
			continue
		}
		tried[name] = true
		pm, pr, nd, err := s.fitPurchaseModel(ctx, cfg.CLV, name, in.x, in.tx, in.T)
		last = pr
		if err != nil {
			if ctx.Err() != nil {
				return nil, pr, nil, err
			}
			fails = append(fails, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if pm.Name() == "nbd" && cfg.CLV.NoDropoutPolicy() == "fail" {
			// The holdout found no drop-out to model: what clv.no_dropout:
			// fail refuses for a named model, it refuses here too.
			return nil, pr, ms, &ModelError{Model: "purchase", Name: "auto",
				Err: fmt.Errorf("the holdout chose the NBD, a model without drop-out: %s (clv.no_dropout is fail; nbd would publish it, p_alive = 1)", ms.Reason)}
		}
		ms.Chosen = pm.Name()
		if nd != nil {
			fails = append(fails, fmt.Errorf("%s found no drop-out on the whole history: %s", name, nd.Reason()))
		}
		if len(fails) > 0 {
			ms.Reason += fmt.Sprintf("; refitted on the whole history: %s (%s)", pm.Name(), joined(fails))
		}
		ms.markChosen()
		return pm, pr, ms, nil
	}
	return nil, last, ms, fmt.Errorf("%s; no candidate could be refitted on the whole history: %s: %w", ms.Reason, joined(fails), errors.Join(fails...))
}

// joined is the errors' messages on one line.
func joined(errs []error) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// markChosen marks the best-scored candidate whose model is the one
// published (two candidates may score the same model: a candidate that
// found no drop-out is scored as the NBD).
func (m *ModelSelection) markChosen() {
	best := -1
	for i, c := range m.Candidates {
		if c.Model == m.Chosen && c.Error == "" && (best < 0 || better(m.Metric, c.Score, m.Candidates[best].Score)) {
			best = i
		}
	}
	if best >= 0 {
		m.Candidates[best].Chosen = true
	}
}
