package stages

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/strata-oss/strata/internal/parallel"
	"github.com/strata-oss/strata/models/clv"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/tables"
)

// daysPerMonth is the mean Gregorian month; CLV periods are months of this
// length so that a horizon means the same in any time unit.
const daysPerMonth = 365.2425 / 12

// CLV is the lifetime-value stage: a purchase model (BG/NBD family) and
// Gamma-Gamma for spend, fitted on the buyers' repeat purchases, with a
// holdout check; per customer P(alive), expected purchases, expected spend
// and CLV over the horizon.
type CLV struct {
	// FitSpend and FitPurchase are the model fits: fields, so that a run
	// can be given fits that fail (the tests of unfittable data).
	FitSpend    func(ctx context.Context, x, spend []float64, o clv.FitOptions) (clv.GammaGamma, clv.FitResult, error)
	FitPurchase func(ctx context.Context, model string, x, tx, T []float64, o clv.FitOptions) (clv.PurchaseModel, clv.FitResult, error)
}

// NewCLV is the CLV stage with the models package's fits.
func NewCLV() CLV { return CLV{FitSpend: clv.FitGammaGamma, FitPurchase: clv.FitPurchaseModel} }

func (CLV) Info() Info { return Info{Name: "clv"} }

func (CLV) On(cfg *config.Config) bool { return cfg.CLV.On() }

func (s CLV) Fit(ctx context.Context, r *Run) (any, error) {
	in, err := summarizeCLV(r.Config, r.Data, r.Behaviour)
	if err != nil {
		return nil, err
	}
	r.keep("clv.inputs", in)
	return s.fitCLV(ctx, r.Config, in)
}

func (CLV) Apply(ctx context.Context, r *Run, model any) (any, error) {
	m, _ := model.(*CLVModel)
	if m == nil {
		return nil, fmt.Errorf("the fitted model has no CLV model, the configuration asks for one")
	}
	in, _ := r.take("clv.inputs").(*clvInputs)
	if in == nil {
		var err error
		if in, err = summarizeCLV(r.Config, r.Data, r.Behaviour); err != nil {
			return nil, err
		}
	}
	scores, err := applyCLV(ctx, r, in, m)
	if err != nil {
		return nil, err
	}
	ev := r.Log.Info().Str("model", m.PurchaseModel).Int("customers", m.Customers).
		Interface("params", m.Params).Float64("log_likelihood", m.LogLik)
	if m.Holdout != nil {
		ev = ev.Float64("holdout_mae", m.Holdout.MAE).Float64("holdout_rel_err", m.Holdout.RelErr)
	}
	if m.Skipped != "" {
		ev = ev.Str("skipped", m.Skipped)
	}
	if m.RequestedModel != "" {
		ev = ev.Str("requested_model", m.RequestedModel).Str("reason", m.Reason)
	}
	ev.Msg("clv scored")
	for _, u := range m.Unfitted {
		r.Log.Warn().Str("model", u.Model).Str("name", u.Name).Str("reason", u.Reason).Strs("null_columns", u.Columns).
			Msg("model not fitted; its columns are published as null")
	}
	return scores, nil
}

func (CLV) Decode(data []byte) (any, error) { return decodeAs[CLVModel](data) }

// Release drops the behaviour columns only the CLV summaries read (the
// first purchase day, the repeat spend, the calibration counts): 12 bytes
// a customer, once Apply has summarised them.
func (CLV) Release(r *Run) {
	b := r.Behaviour
	b.FirstDay, b.RepeatSpend, b.CalDays, b.CalLast = nil, nil, nil, nil
}

// Columns are P(alive), expected purchases and spend, and CLV, then their
// bounds and the traits (see extraColumns).
func (CLV) Columns(_ *Run, result any, _ int32) []tables.OutColumn {
	c, _ := result.(*clvScores)
	if c == nil {
		c = &clvScores{}
	}
	unscored := tables.Not(c.Scored)
	noPurchase, noSpend, noCLV := unscored, unscored, unscored
	if c.NoPurchase || c.NoSpend {
		noPurchase, noSpend, noCLV = c.noPurchase(), c.noSpend(), c.clvNull()
	}
	return append([]tables.OutColumn{
		{Name: "p_alive", Type: tables.OutDouble, Optional: true, F64: c.PAlive, Null: noPurchase},
		{Name: "expected_purchases", Type: tables.OutDouble, Optional: true, F64: c.ExpectedPurchases, Null: noPurchase},
		{Name: "expected_avg_spend", Type: tables.OutDouble, Optional: true, F64: c.ExpectedSpend, Null: noSpend},
		{Name: "clv", Type: tables.OutDouble, Optional: true, F64: c.CLV, Null: noCLV},
	}, c.extraColumns(noPurchase, noCLV)...)
}

// clvPart sums P(alive) by weeks-since-last-purchase row and
// repeat-purchase column of the report's matrix.
type clvPart struct {
	PAliveSum [5][6]float64 `json:"p_alive_sum"`
	PAliveN   [5][6]int64   `json:"p_alive_n"`
}

func (CLV) NewPart() Part { return &clvPart{} }

func (p *clvPart) Merge(other Part) error {
	o := other.(*clvPart)
	for r := range p.PAliveSum {
		for f := range p.PAliveSum[r] {
			p.PAliveSum[r][f] += o.PAliveSum[r][f]
			p.PAliveN[r][f] += o.PAliveN[r][f]
		}
	}
	return nil
}

func (CLV) Sum(r *Run, result any) Part {
	cv, b := result.(*clvScores), r.Behaviour
	p := &clvPart{}
	freq, rec := newBucketTable(pAliveFreqEdges), newBucketTable(pAliveRecEdges)
	for c := 0; c < b.N; c++ {
		if cv.Scored[c] {
			fi := freq.of(int(b.PurchaseDays[c]) - 1)
			ri := rec.of(int(b.RecencyDays[c]) / 7)
			p.PAliveSum[ri][fi] += cv.PAlive[c]
			p.PAliveN[ri][fi]++
		}
	}
	return p
}

// Describe adds model.json's clv section and the report's P(alive) matrix
// and model tables.
func (CLV) Describe(d *Description, model any) {
	m := model.(*CLVModel)
	d.CLV = m
	if m.Skipped == "" && !m.NoPurchase() {
		d.Report.PAliveMatrix = pAliveMatrix(d.Parts["clv"].(*clvPart))
	}
	d.Report.Models = append(d.Report.Models, clvTables(m)...)
}

// minCLVCustomers is the fewest customers with a purchase a CLV fit is
// attempted on; below it the likelihood is too flat to identify four
// parameters, and a run publishes nulls instead of noise.
const minCLVCustomers = 30

// CLVModel is model.json's record of the lifetime-value fit.
type CLVModel struct {
	PurchaseModel      string             `json:"purchase_model"`
	TimeUnitDays       float64            `json:"time_unit_days"`
	Params             map[string]float64 `json:"params"`
	LogLik             float64            `json:"log_likelihood"`
	Fit                FitInfo            `json:"fit"`
	Spend              SpendModel         `json:"spend_model"`
	HorizonMonths      int                `json:"horizon_months"`
	Margin             float64            `json:"margin"`
	AnnualDiscountRate float64            `json:"annual_discount_rate"`
	Discounting        string             `json:"discounting"`
	// Customers is the number scored: those with a purchase by the as-of
	// day. The others have null p_alive, expected_purchases and clv.
	Customers int `json:"customers"`
	// RequestedModel and Reason are set when the configured purchase
	// model found no evidence of drop-out (its likelihood rises towards
	// the no-dropout boundary, where it has no estimate) and, as
	// clv.no_dropout: nbd asks, its limit the NBD was fitted instead:
	// PurchaseModel is then "nbd", Params its r and α, and p_alive is 1.
	// RequestedFit says where the requested model's fit stopped.
	RequestedModel string        `json:"requested_model,omitempty"`
	Reason         string        `json:"reason,omitempty"`
	RequestedFit   *RequestedFit `json:"requested_fit,omitempty"`
	// Selection records how clv.model: auto chose PurchaseModel.
	Selection *ModelSelection `json:"selection,omitempty"`
	Holdout   *HoldoutCheck   `json:"holdout,omitempty"`
	// Uncertainty is the fitted parameters' distribution the per-customer
	// low/high columns are drawn from.
	Uncertainty *Uncertainty `json:"uncertainty,omitempty"`
	// Skipped says why no model was fitted (too few buyers); every CLV
	// column is then null.
	Skipped string `json:"skipped,omitempty"`
	// Unfitted lists the models that could not be fitted on the run's
	// data (or had no data: a spend model without amounts), each with the
	// columns it leaves null and why. The run publishes everything else.
	Unfitted []UnfittedModel `json:"unfitted,omitempty"`
}

// UnfittedModel is a model a run could not fit.
type UnfittedModel struct {
	Model   string   `json:"model"` // "purchase" or "spend"
	Name    string   `json:"name"`  // pareto-nbd, bg-nbd, …, gamma-gamma
	Reason  string   `json:"reason"`
	Columns []string `json:"null_columns"`
}

// ModelError is a model that cannot be fitted on a run's data: its fit
// does not converge, the data do not identify its parameters, or the data
// lack what it models (no amounts for a spend model). Fitting again on the
// same data fails the same way, so a scheduler never retries it; a run
// records it in model.json (CLVModel.Unfitted) and publishes the model's
// columns as null instead of failing, unless the configuration asks to
// fail (clv.no_dropout: fail).
type ModelError struct {
	Model string // "purchase" or "spend"
	Name  string
	Err   error
}

func (e *ModelError) Error() string {
	return fmt.Sprintf("the %s model (%s) cannot be fitted on this data: %v", e.Model, e.Name, e.Err)
}
func (e *ModelError) Unwrap() error { return e.Err }

// Permanent: the same data fail the same fit, so the scheduler does not
// retry it (jobs.Retryable).
func (e *ModelError) Permanent() bool { return true }

// The columns each model's failure leaves null.
var (
	purchaseColumns = []string{"p_alive", "expected_purchases", "clv", "p_alive_low", "p_alive_high",
		"expected_purchases_low", "expected_purchases_high", "clv_low", "clv_high", "churn_risk",
		"expected_next_order_days", "clv_3m", "clv_6m", "clv_12m"}
	spendColumns = []string{"expected_avg_spend", "clv", "clv_low", "clv_high", "clv_3m", "clv_6m", "clv_12m"}
)

// unfitted returns the record of model's failure, or nil.
func (m *CLVModel) unfitted(model string) *UnfittedModel {
	if m == nil {
		return nil
	}
	for i := range m.Unfitted {
		if m.Unfitted[i].Model == model {
			return &m.Unfitted[i]
		}
	}
	return nil
}

// NoPurchase and NoSpend report whether the purchase or spend model could
// not be fitted (their columns are null).
func (m *CLVModel) NoPurchase() bool { return m.unfitted("purchase") != nil }
func (m *CLVModel) NoSpend() bool    { return m.unfitted("spend") != nil }

func (m *CLVModel) addUnfitted(e *ModelError) {
	cols := purchaseColumns
	if e.Model == "spend" {
		cols = spendColumns
	}
	m.Unfitted = append(m.Unfitted, UnfittedModel{Model: e.Model, Name: e.Name, Reason: e.Err.Error(), Columns: cols})
}

// RequestedFit is the evidence behind a fallback to the NBD: the requested
// model's parameters and log-likelihood where its optimiser stopped, how
// far that log-likelihood is above the NBD's maximum (at most 0, up to
// rounding, when the likelihood is maximised at the boundary; a positive
// gain is below what a likelihood-ratio test at 5 % tells from chance), and
// the probability that a typical customer has dropped out at that point.
type RequestedFit struct {
	StoppedAt   map[string]float64 `json:"stopped_at"`
	LogLik      float64            `json:"log_likelihood"`
	GainOverNBD float64            `json:"log_likelihood_gain_over_nbd"`
	DropoutProb float64            `json:"dropout_probability"`
}

// FitInfo says how an optimiser got to its estimate.
type FitInfo struct {
	Method     string  `json:"method"`
	Iterations int     `json:"iterations"`
	FuncEvals  int     `json:"func_evals"`
	GradNorm   float64 `json:"grad_norm"`
	N          int     `json:"customers"`
	Distinct   int     `json:"distinct_summaries"`
	Excluded   int     `json:"excluded"`
}

// SpendModel records the Gamma-Gamma fit.
type SpendModel struct {
	Model  string             `json:"model"`
	Params map[string]float64 `json:"params"`
	LogLik float64            `json:"log_likelihood"`
	Fit    FitInfo            `json:"fit"`
}

// HoldoutCheck compares the model, refitted on the history before a
// held-out window, with the repeat purchases that window actually saw.
type HoldoutCheck struct {
	CalibrationEnd string `json:"calibration_end"`
	Days           int    `json:"days"`
	// Model is the purchase model refitted: the one published, or the NBD
	// when the requested one found no evidence of drop-out in the
	// calibration period (Reason says so).
	Model     string             `json:"model,omitempty"`
	Reason    string             `json:"reason,omitempty"`
	Params    map[string]float64 `json:"params,omitempty"`
	LogLik    float64            `json:"log_likelihood,omitempty"`
	Customers int                `json:"customers"`
	// MAE is the mean absolute per-customer error of predicted repeat
	// purchases; RelErr is (predicted - actual) / actual over everyone.
	MAE       float64 `json:"mae"`
	Predicted float64 `json:"predicted"`
	Actual    float64 `json:"actual"`
	RelErr    float64 `json:"rel_err"`
	// Error says why the check could not be made; a failed check does not
	// fail the run, it is a diagnostic.
	Error string `json:"error,omitempty"`
}

// clvScores holds the per-customer CLV outputs; Scored[c] is false where
// the columns are null.
type clvScores struct {
	// NoPurchase: the purchase model could not be fitted, and PAlive,
	// ExpectedPurchases and CLV are null for everyone; NoSpend likewise
	// for the spend model, ExpectedSpend and CLV.
	NoPurchase, NoSpend bool
	Scored              []bool
	PAlive              []float64
	ExpectedPurchases   []float64
	ExpectedSpend       []float64
	CLV                 []float64
	// extras are the interval and trait columns.
	extras clvExtras
}

func fitInfo(r clv.FitResult) FitInfo {
	return FitInfo{Method: r.Method, Iterations: r.Iterations, FuncEvals: r.FuncEvals, GradNorm: r.GradNorm,
		N: r.N, Distinct: r.Distinct, Excluded: r.Excluded}
}

// clvInputs are the CLV summaries of a run's customers.
type clvInputs struct {
	rows            []int // customers with a purchase
	x, tx, T, spend []float64
	beh             *features.Behaviour // the per-customer day counts, for the holdout check
	n               int
	asOfDay         int32
	noAmount        bool // the orders have no amount: no spend model
}

func summarizeCLV(cfg *config.Config, ds *extract.Dataset, beh *features.Behaviour) (*clvInputs, error) {
	in := &clvInputs{n: ds.IDs.Len(), asOfDay: features.DayNumber(ds.AsOf.UnixMicro(), ds.Location), beh: beh,
		noAmount: ds.NoAmount}
	if beh.RepeatSpend == nil {
		return nil, fmt.Errorf("clv summary: the features were computed without the repeat spend")
	}
	// Refunds are not purchases: the engine's purchase days and spend
	// leave them out, so a refunded order still counts as the purchase it
	// was (the models describe buying, not net revenue).
	last := make([]int32, len(beh.RecencyDays))
	for c, r := range beh.RecencyDays {
		last[c] = in.asOfDay - r
	}
	sum, err := clv.SummarizeCountsPresent(beh.FirstDay, last, beh.PurchaseDays, beh.RepeatSpend, in.asOfDay, cfg.CLV.UnitDays())
	if err != nil {
		return nil, fmt.Errorf("clv summary: %w", err)
	}
	if len(sum.Rows) > 0 { // presentRows's nil for none
		in.rows = sum.Rows
	}
	in.x, in.tx, in.T, in.spend = sum.X, sum.Tx, sum.T, sum.MeanSpend
	return in, nil
}

// fitCLV fits the configured purchase model and Gamma-Gamma on the
// customers of in (the whole run, or a fitted sample of it), with the
// holdout check.
func (s CLV) fitCLV(ctx context.Context, cfg *config.Config, in *clvInputs) (*CLVModel, error) {
	c := cfg.CLV
	monthly := math.Pow(1+c.DiscountRate(), 1.0/12) - 1
	m := &CLVModel{
		PurchaseModel: c.ModelName(), TimeUnitDays: c.UnitDays(), HorizonMonths: c.Horizon(),
		Margin: c.MarginOr(), AnnualDiscountRate: c.DiscountRate(),
		Discounting: fmt.Sprintf("monthly: the purchases expected in month k of the horizon (months of %.4f days) are "+
			"valued at margin × expected spend and divided by (1+%.6f)^k, the monthly rate equivalent to %.4g a year",
			daysPerMonth, monthly, c.DiscountRate()),
	}
	m.Customers = len(in.rows)
	if len(in.rows) < minCLVCustomers {
		m.Skipped = fmt.Sprintf("%d customers with a purchase, fewer than the %d a fit needs", len(in.rows), minCLVCustomers)
		return m, nil
	}
	// The spend fit does not depend on the purchase fit: it runs
	// alongside, so that the serial parts of each (compressing the
	// customers, the optimiser's steps) overlap the other's parallel
	// likelihood passes. Each fit's result does not depend on the
	// parallelism.
	spend := make(chan spendFit, 1)
	if !in.noAmount {
		go func() {
			var f spendFit
			f.gg, f.res, f.err = s.FitSpend(ctx, in.x, in.spend, clv.FitOptions{})
			spend <- f
		}()
		// Returns below must not leave the fit running on in.
		defer func() {
			if spend != nil {
				<-spend
			}
		}()
	}
	var (
		pm  clv.PurchaseModel
		pr  clv.FitResult
		nd  *clv.NoDropoutError
		err error
	)
	if c.Auto() {
		pm, pr, m.Selection, err = s.fitAuto(ctx, cfg, in)
	} else {
		pm, pr, nd, err = s.fitPurchaseModel(ctx, c, c.ModelName(), in.x, in.tx, in.T)
	}
	var me *ModelError
	switch {
	case err == nil:
		m.PurchaseModel = pm.Name()
		if nd != nil {
			m.PurchaseModel, m.RequestedModel, m.Reason = pm.Name(), nd.Model, nd.Reason()
			m.RequestedFit = &RequestedFit{StoppedAt: nd.Stopped, LogLik: nd.LogLik, GainOverNBD: nd.Gain, DropoutProb: nd.DropoutProb}
		}
		m.Params, m.LogLik, m.Fit = pm.Params(), pr.LogLik, fitInfo(pr)
	case ctx.Err() != nil:
		return nil, err
	case errors.As(err, &me):
		return nil, err // clv.no_dropout: fail
	default:
		m.addUnfitted(&ModelError{Model: "purchase", Name: c.ModelName(),
			Err: fmt.Errorf("fit on %d customers: %w", len(in.rows), err)})
		m.Fit = fitInfo(pr)
	}
	m.Spend = SpendModel{Model: "gamma-gamma"}
	if in.noAmount {
		m.addUnfitted(&ModelError{Model: "spend", Name: "gamma-gamma",
			Err: errors.New("the orders mapping has no amount: there is no spend to model")})
	} else {
		f := <-spend
		spend = nil
		gg, gr, err := f.gg, f.res, f.err
		switch {
		case err == nil:
			m.Spend.Params, m.Spend.LogLik, m.Spend.Fit = gg.Params(), gr.LogLik, fitInfo(gr)
		case ctx.Err() != nil:
			return nil, err
		default:
			m.addUnfitted(&ModelError{Model: "spend", Name: "gamma-gamma",
				Err: fmt.Errorf("fit on %d customers: %w", len(in.rows), err)})
			m.Spend.Fit = fitInfo(gr)
		}
	}
	if h := c.Holdout(); h > 0 && !m.NoPurchase() {
		m.Holdout = s.holdoutCheck(ctx, cfg, pm.Name(), in, h)
	}
	if !m.NoPurchase() {
		m.Uncertainty = fitUncertainty(cfg, in, m)
	}
	return m, nil
}

// spendFit is the result of the spend model's fit.
type spendFit struct {
	gg  clv.GammaGamma
	res clv.FitResult
	err error
}

// applyCLV scores every customer of in who bought with the fitted m.
func applyCLV(ctx context.Context, r *Run, in *clvInputs, m *CLVModel) (*clvScores, error) {
	cfg := r.Config
	c := cfg.CLV
	n := in.n
	out := &clvScores{
		Scored: make([]bool, n), PAlive: make([]float64, n), ExpectedPurchases: make([]float64, n),
		ExpectedSpend: make([]float64, n), CLV: make([]float64, n),
	}
	out.extras = newExtras(n, c.Horizon(), out.CLV)
	if m.Skipped != "" || len(in.rows) == 0 {
		return out, nil
	}
	out.NoPurchase, out.NoSpend = m.NoPurchase(), m.NoSpend() || in.noAmount
	var pm clv.PurchaseModel
	var gg clv.GammaGamma
	var err error
	if !out.NoPurchase {
		if pm, err = clv.ModelFromParams(m.PurchaseModel, m.Params); err != nil {
			return nil, err
		}
	}
	if !out.NoSpend {
		if gg, err = clv.GammaGammaFromParams(m.Spend.Params); err != nil {
			return nil, err
		}
	}
	monthly := math.Pow(1+c.DiscountRate(), 1.0/12) - 1
	months := c.Horizon()
	periodLen := daysPerMonth / c.UnitDays()
	w := cfg.Workers
	x, tx, T, spend := in.x, in.tx, in.T, in.spend
	nr := len(in.rows)
	pAlive, expected, espend, value := make([]float64, nr), make([]float64, nr), make([]float64, nr), make([]float64, nr)
	var tr clv.Traits
	if !out.NoPurchase {
		// The traits share one index of the customers' (x, T) pairs and
		// one P(alive) with p_alive, expected_purchases and, when the
		// horizon is one of the traits', clv.
		if tr, err = scoreTraits(ctx, r, in, pm, gg, out.NoSpend); err != nil {
			return nil, err
		}
		pAlive = tr.PAlive
		if tr.Expected != nil {
			expected = tr.Expected
		}
	}
	if !out.NoSpend {
		if espend, err = clv.ExpectedSpends(ctx, gg, x, spend, w); err != nil {
			return nil, fmt.Errorf("score expected spend: %w", err)
		}
	}
	if !out.NoPurchase && !out.NoSpend {
		if h := slices.Index(tr.Horizons, months); h >= 0 {
			value = tr.CLV[h]
		} else if value, err = clv.CLVs(ctx, pm, gg, x, tx, T, spend, months, periodLen, c.MarginOr(), monthly, w); err != nil {
			return nil, fmt.Errorf("score clv: %w", err)
		}
	}
	forRows(in.rows, w, func(i, r int) {
		out.Scored[r] = true
		out.PAlive[r], out.ExpectedPurchases[r], out.ExpectedSpend[r], out.CLV[r] = pAlive[i], expected[i], espend[i], value[i]
	})
	if out.NoPurchase {
		out.extras.NoIntervals = true
		return out, nil
	}
	if err := scoreExtras(ctx, r, in, m, pm, gg, tr, out); err != nil {
		return nil, err
	}
	return out, nil
}

// rowsChunk is how many buyers forRows gives a goroutine at a time.
const rowsChunk = 1 << 14

// forRows calls f(i, rows[i]) for every i, ranges of i from up to workers
// goroutines: copying the buyers' scores into the run's rows, where the
// columns are first touched, was the CLV stage's serial tail (~0.1 s of
// page faults and scattered stores at 1M customers). f must write row
// rows[i] alone; rows are distinct, so the writes never overlap and the
// result is the same whatever the order.
func forRows(rows []int, workers int, f func(i, row int)) {
	parallel.Ranges(len(rows), rowsChunk, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f(i, rows[i])
		}
	})
}

// noPurchase and noSpend are the null masks of the purchase and spend
// models' columns; clvNull of clv.
func (c *clvScores) noPurchase() []bool { return c.nullIf(c.NoPurchase) }
func (c *clvScores) noSpend() []bool    { return c.nullIf(c.NoSpend) }
func (c *clvScores) clvNull() []bool    { return c.nullIf(c.NoPurchase || c.NoSpend) }

func (c *clvScores) nullIf(all bool) []bool {
	out := make([]bool, len(c.Scored))
	for i, s := range c.Scored {
		out[i] = all || !s
	}
	return out
}

// fitPurchaseModel fits the purchase model called model. When its
// likelihood is maximised at the no-dropout boundary (a *clv.NoDropoutError)
// and clv.no_dropout is nbd, it returns the NBD the diagnosis fitted, with
// the diagnosis; with fail, the error, saying what nbd would do.
func (s CLV) fitPurchaseModel(ctx context.Context, c config.CLV, model string, x, tx, T []float64) (clv.PurchaseModel, clv.FitResult, *clv.NoDropoutError, error) {
	pm, pr, err := s.FitPurchase(ctx, model, x, tx, T, clv.FitOptions{})
	var nd *clv.NoDropoutError
	switch {
	case err == nil:
		return pm, pr, nil, nil
	case !errors.As(err, &nd):
		return nil, pr, nil, err
	case c.NoDropoutPolicy() == "nbd":
		return nd.NBD, nd.NBDFit, nd, nil
	}
	return nil, pr, nil, &ModelError{Model: "purchase", Name: model,
		Err: fmt.Errorf("%w (clv.no_dropout is fail; nbd would fit the NBD, p_alive = 1)", err)}
}

// holdoutCheck refits the purchase model called model on the history up to
// asOfDay−days and compares its predictions for the last days with what
// happened.
func (s CLV) holdoutCheck(ctx context.Context, cfg *config.Config, model string, in *clvInputs, days int) *HoldoutCheck {
	unit := cfg.CLV.UnitDays()
	hc := &HoldoutCheck{Days: days, Model: model}
	fail := func(err error) *HoldoutCheck {
		hc.Error = err.Error()
		return hc
	}
	cal, err := calibrate(cfg, in, days)
	hc.CalibrationEnd, hc.Customers = cal.description, len(cal.rows)
	if err != nil {
		return fail(err)
	}
	x, tx, T := cal.x, cal.tx, cal.T
	pm, pr, nd, err := s.fitPurchaseModel(ctx, cfg.CLV, model, x, tx, T)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fail(err)
		}
		return fail(fmt.Errorf("fit on the calibration period: %w", err))
	}
	if nd != nil {
		hc.Model, hc.Reason = pm.Name(), nd.Reason()
	}
	hc.Params, hc.LogLik = pm.Params(), pr.LogLik
	pred, err := clv.ExpectedPurchasesAll(ctx, pm, float64(days)/unit, x, tx, T, cfg.Workers)
	if err != nil {
		return fail(err)
	}
	actual := cal.actual
	chk, err := clv.CalibrationCheck(pred, actual)
	if err != nil {
		return fail(err)
	}
	hc.MAE, hc.Predicted, hc.Actual, hc.RelErr = chk.MAE, chk.Predicted, chk.Actual, chk.RelErr
	if math.IsNaN(hc.RelErr) || math.IsInf(hc.RelErr, 0) {
		hc.RelErr = 0 // no holdout purchases at all; JSON has no NaN
		hc.Error = "no repeat purchases in the holdout window"
	}
	return hc
}

func presentRows(present []bool) []int {
	n := 0
	for _, p := range present {
		if p {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	// Counted first: appending to 1M rows copied 16 MB of them ~30 times.
	rows := make([]int, 0, n)
	for c, p := range present {
		if p {
			rows = append(rows, c)
		}
	}
	return rows
}
