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
// published (campaignPlan); with measurement.segments, the earlier runs'
// RFM segments and clusters over the same windows, and their CLV
// predictions over their horizon (segmentPlan). It publishes the run-wide
// tables campaign_results, segment_kpis and clv_backtest and its
// model.json section "measure".
//
// The measurement is run-wide, not per customer: Fit does it once per run
// (in the fitting step of a sharded run), over every customer whatever
// part of them the process holds, with a pass of its own over the orders
// restricted to the measured customers and windows (laterOrders); the rows
// travel as the model, and Apply has nothing to add per customer.
type Measure struct{}

func (Measure) Info() Info { return Info{Name: "measure"} }

// On: some audience feeds a campaign, or measurement.segments is set.
func (Measure) On(cfg *config.Config) bool {
	if cfg.Measurement.SegmentsOn() {
		return true
	}
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
	Segments  []MeasuredSegments `json:"segments,omitempty"`
	Backtest  *MeasuredBacktest  `json:"clv_backtest,omitempty"`
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

// MeasuredSegments are the segment KPIs of one earlier run.
type MeasuredSegments struct {
	EarlierAsOf string          `json:"earlier_as_of"`
	Windows     []int           `json:"windows"`
	Rows        []SegmentKPIRow `json:"rows,omitempty"`
}

// MeasuredBacktest is the CLV backtest of one earlier run.
type MeasuredBacktest struct {
	EarlierAsOf string           `json:"earlier_as_of"`
	Horizon     *measure.Horizon `json:"horizon,omitempty"`
	Status      string           `json:"status"`
	Rows        []BacktestRow    `json:"rows,omitempty"`
}

// Why a backtest has no rows.
const (
	StatusNoCLV      = "the earlier run has no CLV predictions"
	StatusNotElapsed = "the earlier run's horizon has not elapsed"
)

// plan returns the run's measurement plan, worked out once per process,
// and records the earlier runs read among r's inputs.
func (Measure) plan(ctx context.Context, r *Run) (*measurePlan, error) {
	if v, ok := r.scratch["measure.plan"]; ok {
		return v.(*measurePlan), nil
	}
	plan, inputs, err := planMeasure(ctx, r.Config, r.Out, r.AsOf)
	if err != nil {
		return nil, err
	}
	r.keep("measure.plan", plan)
	r.Inputs = append(r.Inputs, inputs...)
	return plan, nil
}

// Inputs are the commit records of the earlier runs measured.
func (Measure) Inputs(ctx context.Context, cfg *config.Config, out objstore.Bucket, asOf string) ([]extract.Input, error) {
	_, in, err := planMeasure(ctx, cfg, out, asOf)
	return in, err
}

// span is the instants the measured windows cover, and the customers.
type span struct {
	from, to time.Time
	want     map[string]string // each id to itself (orderSink.want)
}

func (s *span) add(from, to time.Time, ids []string) {
	if s.from.IsZero() || from.Before(s.from) {
		s.from = from
	}
	if to.After(s.to) {
		s.to = to
	}
	for _, id := range ids {
		s.want[id] = id
	}
}

// measureInputs is what the measurement reads before the orders: the
// model being filled, the audiences and earlier customers measured, the
// span of the orders they need, and, when the run's extraction is tapped,
// the orders collected there.
type measureInputs struct {
	plan      *measurePlan
	m         *MeasureModel
	auds      []measure.Audience
	at        []int // the campaign of m each audience is
	customers []*measure.Customers
	sp        *span
	tapped    *orderSink
}

// prepare reads the earlier runs' tables the plan names, once per process.
func (s Measure) prepare(ctx context.Context, r *Run) (*measureInputs, error) {
	if v, ok := r.scratch["measure.inputs"]; ok {
		return v.(*measureInputs), nil
	}
	plan, err := s.plan(ctx, r)
	if err != nil {
		return nil, err
	}
	in := &measureInputs{plan: plan, m: &MeasureModel{Windows: r.Config.Measurement.WindowsOr(), Campaigns: []MeasuredCampaign{}},
		sp: &span{want: map[string]string{}}}
	if in.auds, in.at, err = readCampaigns(ctx, r, plan, in.m, in.sp); err != nil {
		return nil, err
	}
	if in.customers, err = readSegmentRuns(ctx, r, plan, in.sp); err != nil {
		return nil, err
	}
	r.keep("measure.inputs", in)
	return in, nil
}

// Tap collects the measured orders in the run's own extraction, when
// there are any and the ids are published as read (a pseudonym per order
// would cost its extraction's one sink goroutine an HMAC a row).
func (s Measure) Tap(ctx context.Context, r *Run) (func(*extract.OrderBlock), error) {
	in, err := s.prepare(ctx, r)
	if err != nil || len(in.sp.want) == 0 || r.PublishedID != nil {
		return nil, err
	}
	in.tapped = in.sp.sink(nil)
	return in.tapped.collect, nil
}

func (s Measure) Fit(ctx context.Context, r *Run) (any, error) {
	in, err := s.prepare(ctx, r)
	if err != nil {
		return nil, err
	}
	r.take("measure.inputs") // Fit runs once: what it read goes with it
	m := in.m
	if len(in.sp.want) == 0 {
		return m, nil
	}
	var orders measure.Orders
	if in.tapped != nil {
		orders = in.tapped.orders
	} else if orders, err = laterOrders(ctx, r, in.sp); err != nil {
		return nil, err
	}
	h, err := measure.NewHistory(orders, r.Config.Location())
	if err != nil {
		return nil, err
	}
	asOf, _ := time.Parse(time.DateOnly, r.AsOf) // checked by plan
	for i, a := range in.auds {
		c := &m.Campaigns[in.at[i]]
		rows, err := measure.Campaigns(ctx, []measure.Audience{a}, h, asOf, c.Windows)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			c.Rows = append(c.Rows, campaignRow(row))
		}
	}
	for i, p := range in.plan.segments {
		if err := measureSegmentRun(ctx, p, in.customers[i], h, asOf, m); err != nil {
			return nil, err
		}
	}
	r.Log.Info().Int("campaigns", len(in.auds)).Int("segment_runs", len(in.plan.segments)).Int("customers", len(in.sp.want)).
		Int("orders", len(orders.At)).Bool("tapped", in.tapped != nil).Msg("earlier runs measured")
	return m, nil
}

// readCampaigns records every planned campaign in m and reads the
// audiences of those measured, adding their customers and windows to sp;
// at[i] is the campaign of m the i-th audience is.
func readCampaigns(ctx context.Context, r *Run, plan *measurePlan, m *MeasureModel, sp *span) (auds []measure.Audience, at []int, err error) {
	for _, p := range plan.campaigns {
		c := MeasuredCampaign{Audience: p.audience.Name, Campaign: p.audience.Campaign, Starts: p.audience.Starts, Status: p.status}
		if p.earlier != nil {
			c.EarlierAsOf = p.earlier.AsOf
		}
		if c.Status == "" {
			ids, groups, ok, err := readAudience(ctx, r.Out, p.earlier, p.audience.Name)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				c.Status = StatusNoGroups
			} else {
				c.Status, c.Windows = StatusMeasured, p.windows
				auds = append(auds, measure.Audience{Name: p.audience.Name, Start: p.start, CustomerID: ids, Group: groups})
				at = append(at, len(m.Campaigns))
				sp.add(p.start, p.start.AddDate(0, 0, p.windows[len(p.windows)-1]), ids)
			}
		}
		m.Campaigns = append(m.Campaigns, c)
	}
	return auds, at, nil
}

// readSegmentRuns reads the segments tables of the planned earlier runs,
// adding their customers and the instants their windows and horizon cover
// to sp.
func readSegmentRuns(ctx context.Context, r *Run, plan *measurePlan, sp *span) ([]*measure.Customers, error) {
	loc := r.Config.Location()
	month := time.Duration(measure.DaysPerMonth * 24 * float64(time.Hour))
	customers := make([]*measure.Customers, len(plan.segments))
	for i, p := range plan.segments {
		var err error
		if customers[i], err = readSegments(ctx, r.Out, p.earlier); err != nil {
			return nil, err
		}
		d, _ := time.Parse(time.DateOnly, p.earlier.AsOf)
		start := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		end := start
		if len(p.windows) > 0 {
			end = start.AddDate(0, 0, p.windows[len(p.windows)-1])
		}
		if p.horizon != nil {
			end = maxTime(end, start.Add(time.Duration(p.horizon.Months)*month))
		}
		if end.After(start) {
			sp.add(start, end, customers[i].ID)
		}
	}
	return customers, nil
}

// measureSegmentRun adds to m the segment KPIs and the CLV backtest that
// p plans on one earlier run's customers c.
func measureSegmentRun(ctx context.Context, p segmentPlan, c *measure.Customers, h *measure.History, asOf time.Time, m *MeasureModel) error {
	earlier, _ := time.Parse(time.DateOnly, p.earlier.AsOf)
	if len(p.windows) > 0 {
		rows, err := measure.Segments(ctx, c, h, earlier, asOf, p.windows)
		if err != nil {
			return err
		}
		ms := MeasuredSegments{EarlierAsOf: p.earlier.AsOf, Windows: p.windows}
		for _, row := range rows {
			ms.Rows = append(ms.Rows, segmentKPIRow(row))
		}
		m.Segments = append(m.Segments, ms)
	}
	switch {
	case p.backtest && p.horizon == nil:
		m.Backtest = &MeasuredBacktest{EarlierAsOf: p.earlier.AsOf, Status: StatusNoCLV}
	case p.horizon != nil:
		b := &MeasuredBacktest{EarlierAsOf: p.earlier.AsOf, Horizon: p.horizon, Status: StatusNotElapsed}
		rows, err := measure.Backtest(ctx, c, h, earlier, asOf, *p.horizon)
		if err != nil {
			return err
		}
		if rows != nil {
			b.Status = StatusMeasured
		}
		for _, row := range rows {
			b.Rows = append(b.Rows, backtestRow(row))
		}
		m.Backtest = b
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Apply has nothing per customer; it records the earlier runs read, as
// every process of a run must for its attempt id.
func (s Measure) Apply(ctx context.Context, r *Run, _ any) (any, error) {
	_, err := s.plan(ctx, r)
	return nil, err
}

func (Measure) Decode(data []byte) (any, error) { return decodeAs[MeasureModel](data) }

// Describe publishes campaign_results (and, with measurement.segments,
// segment_kpis and clv_backtest), the model.json section and the report's
// tables.
func (Measure) Describe(d *Description, model any) {
	m := model.(*MeasureModel)
	d.Tables = append(d.Tables, Table{Name: "campaign_results", Columns: campaignColumns(m, d.AsOfDay)})
	if d.Config.Measurement.SegmentsOn() {
		d.Tables = append(d.Tables, Table{Name: "segment_kpis", Columns: segmentKPIColumns(m, d.AsOfDay)},
			Table{Name: "clv_backtest", Columns: backtestColumns(m, d.AsOfDay)})
	}
	d.Section("measure", m)
	d.Report.Models = append(d.Report.Models, campaignReport(m)...)
	d.Report.Models = append(d.Report.Models, segmentReport(m)...)
}
