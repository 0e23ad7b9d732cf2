package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/strata-oss/strata/pipeline/measure"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
)

// segmentPlan is one earlier run whose segments table a run measures.
//
// For each window of w days, the run measured is the latest one as of
// asOf − w days or before: the latest whose window [its cutoff, its cutoff
// + w days) has fully elapsed, so the freshest segments with a complete
// window. For the CLV backtest, the latest run whose CLV horizon (this
// configuration's clv.horizon_months, in months of 365.2425/12 days) has
// fully elapsed; its own model.json's horizon, margin and discount rate
// are then used. Like the campaigns', the choice depends only on the
// configuration, the as-of date and the runs published before it.
type segmentPlan struct {
	earlier *publish.Manifest
	windows []int // segment_kpis windows, ascending; may be empty
	// backtest: the CLV backtest is measured on this run, over horizon
	// (nil when the run had no CLV).
	backtest bool
	horizon  *measure.Horizon
}

// segments plans segment_kpis and clv_backtest, when measurement.segments
// asks for them.
func (p *planner) segments(ctx context.Context) ([]segmentPlan, error) {
	if !p.cfg.Measurement.SegmentsOn() {
		return nil, nil
	}
	byDate := map[string]*segmentPlan{}
	var order []string
	at := func(date string) (*segmentPlan, error) {
		if sp, ok := byDate[date]; ok {
			return sp, nil
		}
		m, err := p.manifest(ctx, date)
		if err != nil {
			return nil, err
		}
		sp := &segmentPlan{earlier: m}
		byDate[date] = sp
		order = append(order, date)
		return sp, nil
	}
	asOf, _ := time.Parse(time.DateOnly, p.asOf)
	for _, w := range p.cfg.Measurement.WindowsOr() {
		last := asOf.AddDate(0, 0, -w).Format(time.DateOnly)
		date, err := p.latest(ctx, func(d string) bool { return d <= last })
		if err != nil {
			return nil, err
		}
		if date == "" {
			continue
		}
		sp, err := at(date)
		if err != nil {
			return nil, err
		}
		sp.windows = append(sp.windows, w)
	}
	if p.cfg.CLV.On() {
		month := time.Duration(measure.DaysPerMonth * 24 * float64(time.Hour))
		span := time.Duration(p.cfg.CLV.Horizon()) * month
		date, err := p.latest(ctx, func(d string) bool { return !p.midnight(d).AddDate(0, 0, 1).Add(span).After(p.cutoff) })
		if err != nil {
			return nil, err
		}
		if date != "" {
			sp, err := at(date)
			if err != nil {
				return nil, err
			}
			sp.backtest = true
			if sp.horizon, err = earlierHorizon(ctx, p.out, sp.earlier); err != nil {
				return nil, err
			}
		}
	}
	slices.Sort(order)
	plans := make([]segmentPlan, len(order))
	for i, d := range order {
		plans[i] = *byDate[d]
	}
	return plans, nil
}

// earlierModel is what the measurement reads of an earlier run's
// model.json.
type earlierModel struct {
	CLV *struct {
		HorizonMonths      int     `json:"horizon_months"`
		Margin             float64 `json:"margin"`
		AnnualDiscountRate float64 `json:"annual_discount_rate"`
	} `json:"clv"`
	Audiences []struct {
		Name     string `json:"name"`
		Campaign string `json:"campaign"`
	} `json:"audiences"`
}

// readEarlierModel reads run m's model.json.
func readEarlierModel(ctx context.Context, out objstore.Bucket, m *publish.Manifest) (*earlierModel, error) {
	key := m.Object("model", "models", "model.json")
	data, err := objstore.ReadAll(ctx, out, key)
	if err != nil {
		return nil, fmt.Errorf("measure: read the model of %s: %w", m.AsOf, err)
	}
	var model earlierModel
	if err := json.Unmarshal(data, &model); err != nil {
		return nil, fmt.Errorf("measure: decode the model of %s: %w", m.AsOf, err)
	}
	return &model, nil
}

// earlierCampaign is the campaign run m published audience name for, ""
// when none.
func earlierCampaign(ctx context.Context, out objstore.Bucket, m *publish.Manifest, name string) (string, error) {
	model, err := readEarlierModel(ctx, out, m)
	if err != nil {
		return "", err
	}
	for _, a := range model.Audiences {
		if a.Name == name {
			return a.Campaign, nil
		}
	}
	return "", nil
}

// earlierHorizon reads what run m's CLV predictions are over from its
// model.json; nil when it had no CLV.
func earlierHorizon(ctx context.Context, out objstore.Bucket, m *publish.Manifest) (*measure.Horizon, error) {
	model, err := readEarlierModel(ctx, out, m)
	if err != nil {
		return nil, err
	}
	if model.CLV == nil || model.CLV.HorizonMonths <= 0 {
		return nil, nil
	}
	return &measure.Horizon{Months: model.CLV.HorizonMonths, Margin: model.CLV.Margin, AnnualDiscountRate: model.CLV.AnnualDiscountRate}, nil
}
