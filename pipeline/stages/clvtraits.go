package stages

import (
	"context"
	"fmt"
	"math"

	"github.com/strata-oss/strata/models/clv"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/tables"
)

// traitHorizons are the months of the clv_3m, clv_6m and clv_12m columns.
var traitHorizons = []int{3, 6, 12}

// Uncertainty is model.json's record of the fitted parameters' large-sample
// distribution (ln θ ~ N(LogTheta, Cov), from the observed information on
// the customers fitted): what the per-customer low/high columns are drawn
// from. It is kept in the model so that every shard of a sharded run draws
// from the fit's distribution, not its own customers'.
type Uncertainty struct {
	Level float64 `json:"level"`
	Draws int     `json:"draws"`
	// Seed is the run's seed: the draws, and so the bounds, are a function
	// of it and the model.
	Seed     uint64     `json:"seed"`
	Purchase *ParamDist `json:"purchase,omitempty"`
	Spend    *ParamDist `json:"spend,omitempty"`
	// Error says why there are no intervals (their columns are null), or
	// why the spend parameters are held at their estimate.
	Error      string `json:"error,omitempty"`
	SpendError string `json:"spend_error,omitempty"`
}

// ParamDist is one model's clv.ParamUncertainty without its builder.
type ParamDist struct {
	Names    []string  `json:"names"`
	LogTheta []float64 `json:"log_theta"`
	Cov      []float64 `json:"cov"`
}

func paramDist(u clv.ParamUncertainty) *ParamDist {
	return &ParamDist{Names: u.Names, LogTheta: u.LogTheta, Cov: u.Cov}
}

// fitUncertainty records the uncertainty of m's fitted models on the
// customers they were fitted on.
func fitUncertainty(cfg *config.Config, in *clvInputs, m *CLVModel) *Uncertainty {
	u := &Uncertainty{Level: cfg.CLV.Level(), Draws: cfg.CLV.Draws(), Seed: cfg.Seed}
	if u.Draws == 0 {
		u.Error = "clv.interval_draws is 0: no bounds"
		return u
	}
	pm, err := clv.ModelFromParams(m.PurchaseModel, m.Params)
	if err != nil {
		u.Error = err.Error()
		return u
	}
	pu, err := clv.PurchaseUncertainty(pm, in.x, in.tx, in.T, cfg.Workers)
	if err != nil {
		u.Error = fmt.Sprintf("the purchase model's parameters have no usable covariance: %v", err)
		return u
	}
	u.Purchase = paramDist(pu)
	if m.NoSpend() {
		return u
	}
	gg, err := clv.GammaGammaFromParams(m.Spend.Params)
	if err == nil {
		var su clv.ParamUncertainty
		if su, err = clv.SpendUncertainty(gg, in.x, in.spend, cfg.Workers); err == nil {
			u.Spend = paramDist(su)
		}
	}
	if err != nil {
		u.SpendError = fmt.Sprintf("clv bounds hold the spend parameters at their estimate: %v", err)
	}
	return u
}

// rebuild turns a recorded distribution back into a clv.ParamUncertainty.
// The models package builds one only from data (its model builder is
// unexported), so it is computed on this process's customers and its
// estimate and covariance replaced by the fit's: the draws are then the
// fit's whatever customers this process holds. It fails when the
// information on these customers is not positive definite at the fit's
// estimate (a small shard far from the fit's population).
func (d *ParamDist) rebuild(build func() (clv.ParamUncertainty, error)) (clv.ParamUncertainty, error) {
	u, err := build()
	if err != nil {
		return u, err
	}
	if len(u.LogTheta) != len(d.LogTheta) || len(u.Cov) != len(d.Cov) {
		return u, fmt.Errorf("the recorded uncertainty has %d parameters, the model %d", len(d.LogTheta), len(u.LogTheta))
	}
	u.Names, u.LogTheta, u.Cov = d.Names, d.LogTheta, d.Cov
	return u, nil
}

// clvExtras are the interval and trait columns, one entry per customer row
// of the run (like clvScores' slices).
type clvExtras struct {
	// NoIntervals: the low/high columns are null for everyone.
	NoIntervals               bool
	PAliveLow, PAliveHigh     []float64
	ExpectedLow, ExpectedHigh []float64
	CLVLow, CLVHigh           []float64
	ChurnRisk, NextOrderDays  []float64
	CLVByHorizon              [][]float64 // by traitHorizons
}

// newExtras allocates the trait columns of n rows. The six bound columns
// wait for bounds to be computed (allocBounds): a run without them
// (interval_draws: 0, or no uncertainty) would otherwise hold six columns
// of nothing, 960 MB at 20M customers, at the CLV stage's peak. The trait
// horizon of months, the run's own horizon, is the clv column itself
// (clv, which scoreExtras does not compute again): the same call of
// clv.CLVs would fill a copy, 40 MB at 5M customers held until the
// segments table is written.
func newExtras(n, months int, clv []float64) clvExtras {
	e := clvExtras{CLVByHorizon: make([][]float64, len(traitHorizons))}
	for _, p := range []*[]float64{&e.ChurnRisk, &e.NextOrderDays} {
		*p = make([]float64, n)
	}
	for h, hm := range traitHorizons {
		if hm == months && len(clv) == n {
			e.CLVByHorizon[h] = clv
			continue
		}
		e.CLVByHorizon[h] = make([]float64, n)
	}
	return e
}

// ownHorizons are the trait horizons scoreExtras computes: those whose
// column is not the clv column (see newExtras), as indexes into
// traitHorizons and in months.
func (e *clvExtras) ownHorizons(clv []float64) (idx, months []int) {
	for h, hm := range traitHorizons {
		if len(clv) > 0 && len(e.CLVByHorizon[h]) > 0 && &e.CLVByHorizon[h][0] == &clv[0] {
			continue
		}
		idx, months = append(idx, h), append(months, hm)
	}
	return idx, months
}

// allocBounds allocates the bound columns, as long as the trait columns.
func (e *clvExtras) allocBounds() {
	n := len(e.ChurnRisk)
	for _, p := range e.bounds() {
		*p = make([]float64, n)
	}
}

func (e *clvExtras) bounds() []*[]float64 {
	return []*[]float64{&e.PAliveLow, &e.PAliveHigh, &e.ExpectedLow, &e.ExpectedHigh, &e.CLVLow, &e.CLVHigh}
}

// scoreTraits computes the traits of in's buyers under pm and gg (ignored
// when noSpend), with the expected purchases over the horizon, in the
// order of in.rows.
func scoreTraits(ctx context.Context, r *Run, in *clvInputs, pm clv.PurchaseModel, gg clv.GammaGamma, noSpend bool) (clv.Traits, error) {
	c := r.Config.CLV
	monthly := math.Pow(1+c.DiscountRate(), 1.0/12) - 1
	periodLen := daysPerMonth / c.UnitDays()
	opt := clv.TraitOptions{Horizons: traitHorizons, PeriodLength: periodLen, Margin: c.MarginOr(), DiscountRate: monthly,
		ExpectedHorizon: float64(c.Horizon()) * periodLen, Workers: r.Config.Workers}
	if noSpend {
		opt.Horizons = []int{}
	}
	tr, err := clv.CustomerTraits(ctx, pm, gg, in.x, in.tx, in.T, in.spend, opt)
	if err != nil {
		return clv.Traits{}, fmt.Errorf("score p_alive, expected purchases, churn risk, next order and clv: %w", err)
	}
	return tr, nil
}

// scoreExtras computes the intervals of in's buyers and copies their
// traits tr (scoreTraits) into out (indexed by run row). pm is the
// purchase model; gg the spend model, ignored when out.NoSpend.
func scoreExtras(ctx context.Context, r *Run, in *clvInputs, m *CLVModel, pm clv.PurchaseModel, gg clv.GammaGamma, tr clv.Traits, out *clvScores) error {
	c := r.Config.CLV
	w := r.Config.Workers
	monthly := math.Pow(1+c.DiscountRate(), 1.0/12) - 1
	periodLen := daysPerMonth / c.UnitDays()
	months := c.Horizon()
	x, tx, T, spend := in.x, in.tx, in.T, in.spend

	// The trait horizon that is the run's own shares the clv column
	// (newExtras), which applyCLV has filled.
	own, _ := out.extras.ownHorizons(out.CLV)
	e := &out.extras
	unitDays := c.UnitDays()
	forRows(in.rows, w, func(i, row int) {
		e.ChurnRisk[row] = tr.ChurnRisk[i]
		e.NextOrderDays[row] = tr.NextPurchase[i] * unitDays
		for _, h := range own {
			if h < len(tr.CLV) {
				e.CLVByHorizon[h][row] = tr.CLV[h][i]
			}
		}
	})

	u := m.Uncertainty
	if u == nil || u.Purchase == nil {
		e.NoIntervals = true
		return nil
	}
	// The draws need a clv.ParamUncertainty, which only the models
	// package builds (from data): see rebuild.
	pu, err := u.Purchase.rebuild(func() (clv.ParamUncertainty, error) { return clv.PurchaseUncertainty(pm, x, tx, T, w) })
	if err != nil {
		e.NoIntervals = true
		r.Log.Warn().Err(err).Msg("no bound columns: the fit's parameter uncertainty cannot be rebuilt on this process's customers")
		return nil
	}
	iopt := clv.IntervalOptions{Level: u.Level, Draws: u.Draws, Seed: u.Seed, Workers: w}
	iv, err := clv.PurchaseIntervals(ctx, pu, x, tx, T, float64(months)*periodLen, iopt)
	if err != nil {
		return fmt.Errorf("score p_alive and expected purchase bounds: %w", err)
	}
	e.allocBounds()
	forRows(in.rows, w, func(i, row int) {
		e.PAliveLow[row], e.PAliveHigh[row] = iv.PAliveLow[i], iv.PAliveHigh[i]
		e.ExpectedLow[row], e.ExpectedHigh[row] = iv.ExpectedLow[i], iv.ExpectedHigh[i]
	})
	if out.NoSpend {
		return nil
	}
	var su *clv.ParamUncertainty
	if u.Spend != nil {
		s, err := u.Spend.rebuild(func() (clv.ParamUncertainty, error) { return clv.SpendUncertainty(gg, x, spend, w) })
		if err != nil {
			r.Log.Warn().Err(err).Msg("clv bounds hold the spend parameters at their estimate: the fit's spend uncertainty cannot be rebuilt on this process's customers")
		} else {
			su = &s
		}
	}
	lo, hi, err := clv.CLVIntervals(ctx, pu, su, gg, x, tx, T, spend, months, periodLen, c.MarginOr(), monthly, iopt)
	if err != nil {
		return fmt.Errorf("score clv intervals: %w", err)
	}
	forRows(in.rows, w, func(i, row int) {
		e.CLVLow[row], e.CLVHigh[row] = lo[i], hi[i]
	})
	return nil
}

// extraColumns are the interval and trait columns of the segments table,
// after clv: null where the point values they bound are (noPurchase for
// the purchase model's, noCLV for CLV's), and the bounds also when the
// run has no intervals; expected_next_order_days also where it is
// infinite (the customer has probably gone: the odds of ever ordering
// again are below even).
func (c *clvScores) extraColumns(noPurchase, noCLV []bool) []tables.OutColumn {
	e := &c.extras
	n := len(noPurchase)
	if e.ChurnRisk == nil {
		*e = newExtras(n, 0, nil)
		e.NoIntervals = true
	}
	if e.PAliveLow == nil {
		// No bounds were computed: the columns are null wherever a value
		// would be read (NoIntervals, or nobody scored), so their values
		// are one shared slice of zeros.
		zeros := make([]float64, n)
		for _, p := range e.bounds() {
			*p = zeros
		}
	}
	noBound, noCLVBound, noNext := make([]bool, n), make([]bool, n), make([]bool, n)
	for i := range n {
		noBound[i] = noPurchase[i] || e.NoIntervals
		noCLVBound[i] = noCLV[i] || e.NoIntervals
		noNext[i] = noPurchase[i] || math.IsInf(e.NextOrderDays[i], 0) || math.IsNaN(e.NextOrderDays[i])
	}
	col := func(name string, v []float64, null []bool) tables.OutColumn {
		return tables.OutColumn{Name: name, Type: tables.OutDouble, Optional: true, F64: v, Null: null}
	}
	cols := []tables.OutColumn{
		col("p_alive_low", e.PAliveLow, noBound), col("p_alive_high", e.PAliveHigh, noBound),
		col("expected_purchases_low", e.ExpectedLow, noBound), col("expected_purchases_high", e.ExpectedHigh, noBound),
		col("clv_low", e.CLVLow, noCLVBound), col("clv_high", e.CLVHigh, noCLVBound),
		col("churn_risk", e.ChurnRisk, noPurchase), col("expected_next_order_days", e.NextOrderDays, noNext),
	}
	for h, months := range traitHorizons {
		cols = append(cols, col(fmt.Sprintf("clv_%dm", months), e.CLVByHorizon[h], noCLV))
	}
	return cols
}
