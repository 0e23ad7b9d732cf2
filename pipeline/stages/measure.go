package stages

import (
	"context"
	"time"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/measure"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// Measure is the stage that judges earlier runs by the orders after them:
// each campaign of an audience with a control group, over every window
// (measurement.windows) that has fully elapsed by this run's as-of date,
// against the audience the latest run before the campaign's start
// published (campaignPlan). It publishes the run-wide table
// campaign_results and its model.json section "measure".
//
// The measurement is run-wide, not per customer: Fit does it once per run
// (in the fitting step of a sharded run), over every customer whatever
// part of them the process holds, with a pass of its own over the orders
// restricted to the measured customers (laterOrders); the rows travel as
// the model, and Apply has nothing to add per customer.
type Measure struct{}

func (Measure) Info() Info { return Info{Name: "measure"} }

// On: some audience feeds a campaign.
func (Measure) On(cfg *config.Config) bool {
	for _, a := range cfg.Audiences {
		if a.Campaign != "" {
			return true
		}
	}
	return false
}

// MeasureModel is what a run measured: its model.json section.
type MeasureModel struct {
	Windows   []int              `json:"windows"`
	Campaigns []MeasuredCampaign `json:"campaigns"`
}

// MeasuredCampaign is one campaign of the run's configuration: which
// earlier run's audience was measured, or why none was, and the rows.
type MeasuredCampaign struct {
	Audience string `json:"audience"`
	Campaign string `json:"campaign"`
	Starts   string `json:"starts"`
	// EarlierAsOf is the as-of date of the run whose audience was
	// measured.
	EarlierAsOf string `json:"earlier_as_of,omitempty"`
	Status      string `json:"status"`
	// Windows are the windows measured (elapsed), in days.
	Windows []int         `json:"windows,omitempty"`
	Rows    []CampaignRow `json:"rows,omitempty"`
}

// plans returns the run's campaign plans, worked out once per process,
// and records the earlier runs read among r's inputs.
func (Measure) plans(ctx context.Context, r *Run) ([]campaignPlan, error) {
	if v, ok := r.scratch["measure.plans"]; ok {
		return v.([]campaignPlan), nil
	}
	plans, inputs, err := planCampaigns(ctx, r.Config, r.Out, r.AsOf)
	if err != nil {
		return nil, err
	}
	r.keep("measure.plans", plans)
	r.Inputs = append(r.Inputs, inputs...)
	return plans, nil
}

// Inputs are the commit records of the earlier runs measured.
func (Measure) Inputs(ctx context.Context, cfg *config.Config, out objstore.Bucket, asOf string) ([]extract.Input, error) {
	_, in, err := planCampaigns(ctx, cfg, out, asOf)
	return in, err
}

func (s Measure) Fit(ctx context.Context, r *Run) (any, error) {
	plans, err := s.plans(ctx, r)
	if err != nil {
		return nil, err
	}
	m := &MeasureModel{Windows: r.Config.Measurement.WindowsOr()}
	var auds []measure.Audience
	var at []int // the campaign of each audience
	want := map[string]struct{}{}
	var from, to time.Time
	for _, p := range plans {
		c := MeasuredCampaign{Audience: p.audience.Name, Campaign: p.audience.Campaign, Starts: p.audience.Starts, Status: p.status}
		if p.earlier != nil {
			c.EarlierAsOf = p.earlier.AsOf
		}
		if c.Status == "" {
			ids, groups, ok, err := readAudience(ctx, r.Out, p.earlier, p.audience.Name)
			if err != nil {
				return nil, err
			}
			if !ok {
				c.Status = StatusNoGroups
			} else {
				c.Status, c.Windows = StatusMeasured, p.windows
				auds = append(auds, measure.Audience{Name: p.audience.Name, Start: p.start, CustomerID: ids, Group: groups})
				at = append(at, len(m.Campaigns))
				for _, id := range ids {
					want[id] = struct{}{}
				}
				end := p.start.AddDate(0, 0, p.windows[len(p.windows)-1])
				if from.IsZero() || p.start.Before(from) {
					from = p.start
				}
				if end.After(to) {
					to = end
				}
			}
		}
		m.Campaigns = append(m.Campaigns, c)
	}
	if len(auds) == 0 {
		return m, nil
	}
	orders, err := laterOrders(ctx, r, want, from, to)
	if err != nil {
		return nil, err
	}
	h, err := measure.NewHistory(orders, r.Config.Location())
	if err != nil {
		return nil, err
	}
	asOf, _ := time.Parse(time.DateOnly, r.AsOf) // checked by plans
	for i, a := range auds {
		c := &m.Campaigns[at[i]]
		rows, err := measure.Campaigns(ctx, []measure.Audience{a}, h, asOf, c.Windows)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			c.Rows = append(c.Rows, campaignRow(row))
		}
	}
	r.Log.Info().Int("campaigns", len(auds)).Int("customers", len(want)).Int("orders", len(orders.At)).Msg("campaigns measured")
	return m, nil
}

// Apply has nothing per customer; it records the earlier runs read, as
// every process of a run must for its attempt id.
func (s Measure) Apply(ctx context.Context, r *Run, _ any) (any, error) {
	_, err := s.plans(ctx, r)
	return nil, err
}

func (Measure) Decode(data []byte) (any, error) { return decodeAs[MeasureModel](data) }

// Describe publishes campaign_results, the model.json section and the
// report's campaign tables.
func (Measure) Describe(d *Description, model any) {
	m := model.(*MeasureModel)
	d.Tables = append(d.Tables, Table{Name: "campaign_results", Columns: campaignColumns(m, d.AsOfDay)})
	d.Section("measure", m)
	d.Report.Models = append(d.Report.Models, campaignReport(m)...)
}
