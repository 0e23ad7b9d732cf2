package stages

import (
	"context"
	"fmt"
	"slices"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/report"
)

// Brief is the stage that turns the run's summary into the report's brief:
// the headline figures of the first screen, each with its change since the
// previous run, and one row per RFM segment with a suggested action and the
// audiences that reach it. It learns nothing from the customers: its model
// is the previous run's figures (read from its model.json, the run the
// cluster ids are matched against), so that a sharded run's finishing step
// has them too. It comes last: it reads the summary rows of every stage.
type Brief struct{}

func (Brief) Info() Info { return Info{Name: "brief"} }

func (Brief) On(*config.Config) bool { return true }

// briefModel is the previous run's figures; AsOf is empty on a first run.
type briefModel struct {
	AsOf     string           `json:"as_of,omitempty"`
	Counts   map[string]int64 `json:"counts,omitempty"`
	Segments []SummaryRow     `json:"segments,omitempty"`
}

func (Brief) Fit(ctx context.Context, r *Run) (any, error) {
	prev, err := previous(ctx, r)
	if err != nil {
		return nil, err
	}
	m := &briefModel{}
	if prev != nil {
		m.AsOf, m.Counts = prev.manifest.AsOf, prev.counts
		for _, s := range prev.summary {
			if s.SegmentType == "rfm" {
				m.Segments = append(m.Segments, s)
			}
		}
	}
	return m, nil
}

func (Brief) Apply(context.Context, *Run, any) (any, error) { return nil, nil }

// Inputs is the previous run's model.json, when there is one.
func (Brief) Inputs(ctx context.Context, out objstore.Bucket, asOf string) ([]extract.Input, error) {
	return previousInputs(ctx, out, asOf)
}

func (Brief) Decode(data []byte) (any, error) { return decodeAs[briefModel](data) }

// segmentActions is the rule table of the suggested actions, by the
// default RFM grid's segment names (docs/outputs.md lists it). A segment
// of a custom grid with another name gets none.
var segmentActions = []report.KV{
	{Key: "Champions", Value: "reward them and ask for reviews and referrals"},
	{Key: "Loyal", Value: "upsell, and invite them into the loyalty programme"},
	{Key: "Potential Loyalist", Value: "offer membership and a second category"},
	{Key: "New", Value: "onboard: a welcome series and a reason to come back"},
	{Key: "Promising", Value: "build the habit: a time-limited offer on the next order"},
	{Key: "Need Attention", Value: "re-engage with personal recommendations"},
	{Key: "About to Sleep", Value: "reactivate before they lapse: a reminder and a small incentive"},
	{Key: "At Risk", Value: "win back: personal outreach and a strong offer"},
	{Key: "Can't Lose Them", Value: "win back first: call, ask why, best offer"},
	{Key: "Hibernating", Value: "low-cost reactivation only; stop paid media if it fails"},
	{Key: "No Purchases", Value: "convert: a first-order incentive"},
}

// actionFor is the suggested action of segment, empty when the table has
// none.
func actionFor(segment string) string {
	i := slices.IndexFunc(segmentActions, func(kv report.KV) bool { return kv.Key == segment })
	if i < 0 {
		return ""
	}
	return segmentActions[i].Value
}

// Describe fills the report's headline, brief and cluster rows from the
// summary rows the stages before it added.
func (Brief) Describe(d *Description, model any) {
	prev, _ := model.(*briefModel)
	rep := d.Report
	rep.Currency = d.Currency
	rep.Subtitle = fmt.Sprintf("%s buyers of %s customers, %s orders", report.Thousands(float64(d.Buyers)),
		report.Thousands(float64(d.Customers)), report.Thousands(float64(d.Orders)))
	rfm := rowsOf(d.Summary, "rfm")
	var before []SummaryRow
	var pc map[string]int64
	if prev != nil && prev.AsOf != "" {
		before, pc = prev.Segments, prev.Counts
		rep.Subtitle += " · changes since " + prev.AsOf
	}
	fig := func(label string, v float64, money bool, p *float64) report.Figure {
		return report.Figure{Label: label, Value: v, Money: money, Previous: p}
	}
	count := func(key string) *float64 {
		if v, ok := pc[key]; ok {
			f := float64(v)
			return &f
		}
		return nil
	}
	rep.Headline = []report.Figure{
		fig("Customers", float64(d.Customers), false, count("customers")),
		fig("Buyers", float64(d.Buyers), false, count("buyers")),
		fig("Revenue", d.Revenue, true, total(before, func(r SummaryRow) *float64 { v := r.Revenue; return &v })),
	}
	if clv := total(rfm, func(r SummaryRow) *float64 { return r.TotalCLV }); clv != nil {
		horizon := d.Config.CLV.Horizon()
		rep.Headline = append(rep.Headline, fig(fmt.Sprintf("Total CLV, next %d months", horizon), *clv, true,
			total(before, func(r SummaryRow) *float64 { return r.TotalCLV })))
	}
	if exp := total(rfm, func(r SummaryRow) *float64 { return r.TotalExpected }); exp != nil {
		rep.Headline = append(rep.Headline, fig(fmt.Sprintf("Expected purchases, next %d months", d.Config.CLV.Horizon()), *exp, false,
			total(before, func(r SummaryRow) *float64 { return r.TotalExpected })))
	}
	moves, _ := d.Parts["rfm_migration"].(*rfmMigrationPart)
	if prev == nil || prev.AsOf == "" {
		moves = nil // a first run: everyone is new, nobody moved
	}
	for _, r := range rfm {
		b := report.SegmentBrief{Name: r.Segment, Customers: r.Customers, Revenue: r.Revenue, CLV: r.TotalCLV,
			ChurnRisk: r.AvgChurnRisk, Action: actionFor(r.Segment)}
		if moves != nil {
			in, out := movedInOut(moves, r.Segment)
			b.MovedIn, b.MovedOut = &in, &out
		}
		for _, a := range d.Audiences {
			if n := a.BySegment[r.Segment]; n > 0 {
				b.Audiences = append(b.Audiences, report.AudienceSize{Name: a.Name, Customers: int64(n)})
			}
		}
		rep.Brief = append(rep.Brief, b)
	}
	rep.ActionRules = segmentActions
	for _, r := range rowsOf(d.Summary, "cluster") {
		c := report.ClusterBrief{Name: r.Segment, Customers: r.Customers, Revenue: r.Revenue, AvgCLV: r.AvgCLV, ChurnRisk: r.AvgChurnRisk}
		if r.ClusterID != nil {
			c.ID = *r.ClusterID
		}
		rep.Clusters = append(rep.Clusters, c)
	}
}

// rowsOf are the summary rows of one segment type.
func rowsOf(rows []SummaryRow, typ string) []SummaryRow {
	var out []SummaryRow
	for _, r := range rows {
		if r.SegmentType == typ {
			out = append(out, r)
		}
	}
	return out
}

// total sums f over the rows that have a value (segments nobody in which
// was scored have no CLV); nil when none has (CLV off, or a previous run
// from before the figure existed).
func total(rows []SummaryRow, f func(SummaryRow) *float64) *float64 {
	var s float64
	found := false
	for _, r := range rows {
		if v := f(r); v != nil {
			s, found = s+*v, true
		}
	}
	if !found {
		return nil
	}
	return &s
}

// movedInOut counts the customers who entered segment since the previous
// run (from another segment, or new to the run) and those who left it for
// another segment.
func movedInOut(p *rfmMigrationPart, segment string) (in, out int64) {
	for _, m := range p.Moves {
		switch {
		case m.To == segment && (m.New || m.From != segment):
			in += m.Customers
		case !m.New && m.From == segment && m.To != segment:
			out += m.Customers
		}
	}
	return in, out
}
