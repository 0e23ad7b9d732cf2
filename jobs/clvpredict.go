package jobs

import (
	"context"
	"fmt"
	"math"

	"github.com/strata-oss/strata/models/clv"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/tables"
)

// daysPerMonth is the mean Gregorian month, the run's CLV month.
const daysPerMonth = 365.2425 / 12

// CLVPredictionsInfo says what `strata clv --predictions` wrote.
type CLVPredictionsInfo struct {
	File          string   `json:"file"`
	Customers     int      `json:"customers"`
	AsOf          string   `json:"as_of"`
	HorizonMonths int      `json:"horizon_months"`
	Level         float64  `json:"level"`
	Draws         int      `json:"draws"`
	Columns       []string `json:"columns"`
	// IntervalsNote is set when the parameter intervals could not be
	// computed (their columns are then null) and says why.
	IntervalsNote string `json:"intervals_note,omitempty"`
}

// writePredictions writes one row per customer of s (every customer with
// a purchase by s.calEnd, in order of first appearance in the input):
//
//	customer_id                       the input's id
//	frequency, recency, T             x, t_x and T in the model's time unit
//	p_alive (+ _low, _high)           P(alive) and its interval over the parameters' uncertainty
//	churn_risk                        1 - p_alive
//	expected_purchases (+ _low, _high) E[purchases in the horizon], interval as p_alive's
//	purchases_low, purchases_high     the predictive interval of the count itself
//	expected_next_order_days          median days to the next order (null: probably never)
//	expected_avg_spend                Gamma-Gamma E[spend per purchase]   (amounts only)
//	clv (+ _low, _high)               CLV over the horizon                (amounts only)
//	clv_3m, clv_6m, clv_12m           CLV by period                       (amounts only)
//
// The intervals are clv.PurchaseIntervals' and clv.CLVIntervals' at
// o.Level from o.Draws parameter draws seeded by o.Seed.
func writePredictions(ctx context.Context, o CLVOptions, pm clv.PurchaseModel, gg *clv.GammaGamma, t *transactions, s *summaryRows) (*CLVPredictionsInfo, error) {
	months := o.HorizonMonths
	if months == 0 {
		months = 12
	}
	level := o.Level
	if level == 0 {
		level = 0.9
	}
	draws := o.Draws
	if draws == 0 {
		draws = 200
	}
	margin := o.Margin
	if margin == 0 {
		margin = 1
	}
	monthly := math.Pow(1+o.AnnualDiscountRate, 1.0/12) - 1
	period := daysPerMonth / t.unit
	horizon := float64(months) * period
	n := len(s.rows)
	info := &CLVPredictionsInfo{File: o.Predictions, Customers: n, AsOf: features.DayDate(s.calEnd), HorizonMonths: months, Level: level, Draws: draws}

	spend := s.spend
	horizons := []int{}
	ggv := clv.GammaGamma{}
	if gg != nil {
		ggv = *gg
		horizons = []int{3, 6, 12}
	}
	tr, err := clv.CustomerTraits(ctx, pm, ggv, s.x, s.tx, s.T, spend, clv.TraitOptions{
		Horizons: horizons, PeriodLength: period, Margin: margin, DiscountRate: monthly, Workers: o.Workers})
	if err != nil {
		return nil, fmt.Errorf("predictions: %w", err)
	}
	expected, err := clv.ExpectedPurchasesAll(ctx, pm, horizon, s.x, s.tx, s.T, o.Workers)
	if err != nil {
		return nil, fmt.Errorf("predictions: %w", err)
	}
	ivOpt := clv.IntervalOptions{Level: level, Draws: draws, Seed: o.Seed, Workers: o.Workers}
	nan := func() []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = math.NaN()
		}
		return v
	}
	iv := clv.Intervals{PAliveLow: nan(), PAliveHigh: nan(), ExpectedLow: nan(), ExpectedHigh: nan(), CountLow: nan(), CountHigh: nan()}
	clvLow, clvHigh := nan(), nan()
	u, err := clv.PurchaseUncertainty(pm, s.x, s.tx, s.T, o.Workers)
	if err != nil {
		// A fit at the edge of its parameter space has no finite
		// information: say so and leave the bounds null rather than
		// invent them.
		info.IntervalsNote = err.Error()
	} else {
		if iv, err = clv.PurchaseIntervals(ctx, u, s.x, s.tx, s.T, horizon, ivOpt); err != nil {
			return nil, fmt.Errorf("predictions: %w", err)
		}
		if gg != nil {
			var su *clv.ParamUncertainty
			if v, err := clv.SpendUncertainty(*gg, s.x, spend, o.Workers); err == nil {
				su = &v
			} else {
				info.IntervalsNote = "clv intervals without the spend model's uncertainty: " + err.Error()
			}
			if clvLow, clvHigh, err = clv.CLVIntervals(ctx, u, su, *gg, s.x, s.tx, s.T, spend, months, period, margin, monthly, ivOpt); err != nil {
				return nil, fmt.Errorf("predictions: %w", err)
			}
		}
	}
	ids := make([]string, n)
	for i, r := range s.rows {
		ids[i] = t.ids[r]
	}
	next := make([]float64, n)
	for i, v := range tr.NextPurchase {
		next[i] = v * t.unit
	}
	cols := []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, Str: ids},
		floatCol("frequency", s.x), floatCol("recency", s.tx), floatCol("T", s.T),
		floatCol("p_alive", tr.PAlive), floatCol("p_alive_low", iv.PAliveLow), floatCol("p_alive_high", iv.PAliveHigh),
		floatCol("churn_risk", tr.ChurnRisk),
		floatCol("expected_purchases", expected), floatCol("expected_purchases_low", iv.ExpectedLow), floatCol("expected_purchases_high", iv.ExpectedHigh),
		floatCol("purchases_low", iv.CountLow), floatCol("purchases_high", iv.CountHigh),
		floatCol("expected_next_order_days", next),
	}
	if gg != nil {
		es, err := clv.ExpectedSpends(ctx, *gg, s.x, spend, o.Workers)
		if err != nil {
			return nil, fmt.Errorf("predictions: %w", err)
		}
		point, err := clv.CLVs(ctx, pm, *gg, s.x, s.tx, s.T, spend, months, period, margin, monthly, o.Workers)
		if err != nil {
			return nil, fmt.Errorf("predictions: %w", err)
		}
		cols = append(cols, floatCol("expected_avg_spend", es), floatCol("clv", point), floatCol("clv_low", clvLow), floatCol("clv_high", clvHigh))
		for h, m := range tr.Horizons {
			cols = append(cols, floatCol(fmt.Sprintf("clv_%dm", m), tr.CLV[h]))
		}
	}
	for _, c := range cols {
		info.Columns = append(info.Columns, c.Name)
	}
	if err := writeTable(ctx, "--predictions", o.Predictions, cols); err != nil {
		return nil, err
	}
	return info, nil
}
