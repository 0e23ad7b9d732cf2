package stages

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/strata-oss/strata/models/drift"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Drift compares the run with the run published before it: each RFM
// segment's change of share, and the population stability index (PSI,
// models/drift) of each numeric feature of the segments table both runs
// publish. A broken upstream export looks like a jump in either. Breaches
// of the drift thresholds are logged and recorded in model.json; with
// drift.action: fail the run fails before publishing.
//
// The baseline is the previous run's published segments table: Fit reads
// it once, and keeps of each feature its decile cut points and its counts
// in them (models/drift.Bins), a few numbers in the fitted model. Every
// process counts its own customers in those bins (Sum), and the PSI is
// taken of the merged counts (Describe), so that a sharded run's PSI is
// the single-process run's, exactly.
type Drift struct{}

// The stage reads the RFM segments and, for their columns, the CLV outputs.
func (Drift) Info() Info { return Info{Name: "drift", Reads: []string{"rfm", "clv"}} }

func (Drift) On(*config.Config) bool { return true }

// driftModel is the baseline: the previous run and, by feature, its bins.
type driftModel struct {
	Previous PreviousRef    `json:"previous"`
	Features []driftFeature `json:"features"`
	// Segments are the previous run's customers by RFM segment (its
	// model.json's segment summary); nil when it has none.
	Segments map[string]int64 `json:"segments,omitempty"`
}

type driftFeature struct {
	Name string `json:"name"`
	drift.Bins
}

// driftColumns are the segments table's numeric columns the check
// compares, in the table's order, and the values of each in a run (NaN
// where the published column is null, as the segments table's rules
// make it). Identifiers and codes (RFM scores, cluster ids) are not
// distributions; the order timestamps move with every as-of date.
//
// expected_avg_spend is left out: every buyer without a repeat purchase
// gets the spend model's population mean, one value refitted each run. On
// the generated shop that is 149 of 562 customers on one point (84.15 one
// day, 84.42 the next), which crosses a decile cut and reads as a PSI of
// 0.96 on an unchanged re-run. clv, its product with the varied expected
// purchases, has no such mass (PSI 0.002 on the same re-run).
var driftColumns = []struct {
	name   string
	clv    bool // a CLV output: only when the CLV stage ran
	values func(r *Run, cv *clvScores) values
}{
	{"recency_days", false, func(r *Run, _ *clvScores) values {
		b := r.Behaviour
		return func(c int) float64 { return orNaN(float64(b.RecencyDays[c]), b.HasOrders[c]) }
	}},
	{"frequency", false, func(r *Run, _ *clvScores) values {
		return func(c int) float64 { return float64(r.Behaviour.Frequency[c]) }
	}},
	{"purchase_days", false, func(r *Run, _ *clvScores) values {
		return func(c int) float64 { return float64(r.Behaviour.PurchaseDays[c]) }
	}},
	{"monetary_value", false, func(r *Run, _ *clvScores) values {
		b := r.Behaviour
		return func(c int) float64 { return orNaN(b.Monetary[c], !b.NoAmount) }
	}},
	{"avg_order_value", false, func(r *Run, _ *clvScores) values {
		b := r.Behaviour
		return func(c int) float64 { return orNaN(b.AvgOrder[c], b.HasOrders[c] && !b.NoAmount) }
	}},
	{"max_order_value", false, func(r *Run, _ *clvScores) values {
		b := r.Behaviour
		return func(c int) float64 { return orNaN(b.MaxOrder[c], b.HasOrders[c] && !b.NoAmount) }
	}},
	{"tenure_days", false, func(r *Run, _ *clvScores) values {
		b := r.Behaviour
		return func(c int) float64 { return orNaN(float64(b.TenureDays[c]), b.HasTenure[c]) }
	}},
	{"p_alive", true, func(_ *Run, cv *clvScores) values { return clvValues(cv, cv.PAlive, cv.noPurchase) }},
	{"expected_purchases", true, func(_ *Run, cv *clvScores) values {
		return clvValues(cv, cv.ExpectedPurchases, cv.noPurchase)
	}},
	{"clv", true, func(_ *Run, cv *clvScores) values { return clvValues(cv, cv.CLV, cv.clvNull) }},
}

func orNaN(v float64, ok bool) float64 {
	if !ok {
		return math.NaN()
	}
	return v
}

// clvValues reads a CLV output as its column publishes it: null for the
// customers not scored, or for everyone the model's failure nulls.
func clvValues(cv *clvScores, v []float64, nulls func() []bool) values {
	null := tables.Not(cv.Scored)
	if cv.NoPurchase || cv.NoSpend {
		null = nulls()
	}
	return func(c int) float64 { return orNaN(v[c], !null[c]) }
}

// driftValues are the values of the compared columns in r, by name.
func driftValues(r *Run) map[string]values {
	cv := resultOf[clvScores](r, "clv")
	out := map[string]values{}
	for _, col := range driftColumns {
		if col.clv && cv == nil {
			continue
		}
		out[col.name] = col.values(r, cv)
	}
	return out
}

func (Drift) Fit(ctx context.Context, r *Run) (any, error) {
	prev, err := previous(ctx, r)
	if err != nil || prev == nil {
		return (*driftModel)(nil), err
	}
	m := &driftModel{Previous: PreviousRef{AsOf: prev.manifest.AsOf, Attempt: prev.manifest.Attempt}}
	had := map[string]bool{}
	for _, c := range prev.segmentColumns {
		had[c] = true
	}
	cur := driftValues(r)
	for _, col := range driftColumns {
		if _, ok := cur[col.name]; !ok || !had[col.name] {
			continue
		}
		base, err := previousFloats(ctx, r.Out, prev, col.name)
		if err != nil {
			return nil, fmt.Errorf("drift: %w", err)
		}
		if len(base) == 0 {
			continue // a previous run without customers: nothing to compare
		}
		m.Features = append(m.Features, driftFeature{Name: col.name, Bins: drift.NewBins(base)})
	}
	for _, row := range prev.summary {
		if row.SegmentType != "rfm" {
			continue
		}
		if m.Segments == nil {
			m.Segments = map[string]int64{}
		}
		m.Segments[row.Segment] += row.Customers
	}
	return m, nil
}

// previousFloats reads one numeric column of the previous run's segments
// table, NaN where it is null: one column at a time, so that the fit holds
// one feature of the previous run's customers, not all of them.
func previousFloats(ctx context.Context, out objstore.Bucket, prev *previousRun, name string) ([]float64, error) {
	src := tables.Source{Bucket: out, Format: "parquet", Fields: []tables.Field{{Name: name, Kind: tables.Float}}}
	var v []float64
	for _, key := range prev.manifest.Tables["segments"].Keys {
		err := src.ScanObject(ctx, key, func(b *tables.Batch) error {
			col := &b.Cols[0]
			for i := 0; i < b.N; i++ {
				v = append(v, orNaN(col.F[i], !col.IsNull(i)))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the previous run's %s: %w", name, err)
		}
	}
	return v, nil
}

// driftResult is what the sums need: the baseline's bins.
type driftResult struct{ model *driftModel }

func (Drift) Apply(ctx context.Context, r *Run, model any) (any, error) {
	m, _ := model.(*driftModel)
	prev, err := previous(ctx, r) // the shared input, in every process
	if err != nil {
		return nil, err
	}
	var fitted *PreviousRef
	if m != nil {
		fitted = &m.Previous
	}
	if err := samePrevious(fitted, prev); err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	if m == nil {
		r.Log.Info().Msg("no run published before this one: no drift to measure")
		return nil, nil
	}
	cur := driftValues(r)
	for _, f := range m.Features {
		if _, ok := cur[f.Name]; !ok {
			return nil, fmt.Errorf("drift: the model compares %s, which this run does not compute", f.Name)
		}
	}
	if resultOf[rfmScores](r, "rfm") == nil {
		return nil, fmt.Errorf("drift: the RFM stage did not run before it")
	}
	return &driftResult{model: m}, nil
}

func (Drift) Decode(data []byte) (any, error) { return decodeAs[driftModel](data) }

// Inputs is the previous run's model.json, when there is one (the same
// input as the cluster stage's).
func (Drift) Inputs(ctx context.Context, _ *config.Config, out objstore.Bucket, asOf string) ([]extract.Input, error) {
	return previousInputs(ctx, out, asOf)
}

// driftPart is a process's counts: Counts[f][bin] of the model's feature f,
// and the customers by RFM segment.
type driftPart struct {
	Counts   [][]int64        `json:"counts"`
	Segments map[string]int64 `json:"segments"`
}

func (Drift) NewPart() Part { return &driftPart{} }

func (p *driftPart) Merge(other Part) error {
	o := other.(*driftPart)
	if len(p.Counts) != len(o.Counts) {
		return fmt.Errorf("drift: parts of %d and %d features", len(p.Counts), len(o.Counts))
	}
	for f := range p.Counts {
		if len(p.Counts[f]) != len(o.Counts[f]) {
			return fmt.Errorf("drift: feature %d has %d bins in one part, %d in another", f, len(p.Counts[f]), len(o.Counts[f]))
		}
		for i, n := range o.Counts[f] {
			p.Counts[f][i] += n
		}
	}
	if p.Segments == nil {
		p.Segments = map[string]int64{}
	}
	for s, n := range o.Segments {
		p.Segments[s] += n
	}
	return nil
}

func (Drift) Sum(r *Run, result any) Part {
	m := result.(*driftResult).model
	cur := driftValues(r)
	p := &driftPart{Counts: make([][]int64, len(m.Features)), Segments: map[string]int64{}}
	for f, feat := range m.Features {
		counts, v := make([]int64, len(feat.Counts)), cur[feat.Name]
		for c := range r.Behaviour.N {
			counts[feat.Bin(v(c))]++
		}
		p.Counts[f] = counts
	}
	s := resultOf[rfmScores](r, "rfm")
	var bySeg [256]int64
	for _, k := range s.Seg {
		bySeg[k]++
	}
	for k, name := range s.Segments {
		if bySeg[k] > 0 {
			p.Segments[name] += bySeg[k]
		}
	}
	return p
}

// DriftSection is model.json's stages.drift: every measure against the
// previous run, the thresholds and the breaches.
type DriftSection struct {
	Previous        PreviousRef `json:"previous"`
	Action          string      `json:"action"`
	MaxPSI          float64     `json:"max_psi"`
	MaxSegmentShift float64     `json:"max_segment_shift"`
	// Features are the PSI of each compared feature, in the segments
	// table's order.
	Features []FeatureDrift `json:"features"`
	// Segments are the RFM segments' shares in both runs, by name; empty
	// when the previous run's model.json has no segment summary.
	Segments []SegmentDrift `json:"segments"`
	Breaches []DriftBreach  `json:"breaches"`
}

// FeatureDrift is one feature's PSI.
type FeatureDrift struct {
	Feature string  `json:"feature"`
	PSI     float64 `json:"psi"`
	Breach  bool    `json:"breach"`
}

// SegmentDrift is one RFM segment's share of the customers in both runs.
type SegmentDrift struct {
	Segment       string  `json:"segment"`
	PreviousShare float64 `json:"previous_share"`
	Share         float64 `json:"share"`
	Change        float64 `json:"change"`
	Breach        bool    `json:"breach"`
}

// DriftBreach is a measure past its threshold.
type DriftBreach struct {
	Kind      string  `json:"kind"` // psi or segment_shift
	Subject   string  `json:"subject"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Message   string  `json:"message"`
}

// Describe measures the drift from the merged counts, records it in
// model.json, logs a warning per breach and, with drift.action: fail,
// fails the run.
func (Drift) Describe(d *Description, model any) {
	m := model.(*driftModel)
	p, _ := d.Parts["drift"].(*driftPart)
	if p == nil || len(p.Counts) != len(m.Features) { // no customer counted: nothing measured
		p = &driftPart{Counts: make([][]int64, len(m.Features))}
		for f := range p.Counts {
			p.Counts[f] = make([]int64, len(m.Features[f].Counts))
		}
	}
	dc := d.Config.Drift
	th := drift.Thresholds{MaxPSI: dc.PSI(), MaxSegmentShift: dc.SegmentShift()}
	sec := DriftSection{Previous: m.Previous, Action: dc.ActionOr(), MaxPSI: th.MaxPSI, MaxSegmentShift: th.MaxSegmentShift,
		Features: []FeatureDrift{}, Segments: []SegmentDrift{}, Breaches: []DriftBreach{}}
	var psis []drift.FeaturePSI
	for f, feat := range m.Features {
		psi, err := drift.PSICounts(feat.Counts, p.Counts[f])
		if err != nil { // a run without customers
			continue
		}
		psis = append(psis, drift.FeaturePSI{Feature: feat.Name, PSI: psi})
	}
	var shares []drift.ShareChange
	if len(m.Segments) > 0 {
		shares, _ = drift.SegmentShares(asInts(m.Segments), asInts(p.Segments)) // only fails on an empty run
	}
	breaches := drift.Check(psis, shares, th)
	breached := map[[2]string]bool{}
	for _, b := range breaches {
		breached[[2]string{b.Kind, b.Subject}] = true
		sec.Breaches = append(sec.Breaches, DriftBreach{Kind: b.Kind, Subject: b.Subject, Value: b.Value, Threshold: b.Threshold, Message: b.String()})
	}
	for _, f := range psis {
		sec.Features = append(sec.Features, FeatureDrift{Feature: f.Feature, PSI: f.PSI, Breach: breached[[2]string{drift.KindPSI, f.Feature}]})
	}
	for _, s := range shares {
		sec.Segments = append(sec.Segments, SegmentDrift{Segment: s.Segment, PreviousShare: s.Baseline, Share: s.Current, Change: s.Change,
			Breach: breached[[2]string{drift.KindSegmentShift, s.Segment}]})
	}
	d.Section("drift", &sec)
	for _, b := range breaches {
		d.Log.Warn().Str("kind", b.Kind).Str("subject", b.Subject).Float64("value", b.Value).Float64("threshold", b.Threshold).
			Str("previous_as_of", m.Previous.AsOf).Str("action", sec.Action).Msg("drift: " + b.String())
	}
	if dc.Fails() && len(breaches) > 0 {
		d.Fail(driftError(m.Previous.AsOf, breaches))
	}
}

// driftError says what breached and how to let such a change through.
func driftError(prevAsOf string, breaches []drift.Breach) error {
	msgs := make([]string, len(breaches))
	for i, b := range breaches {
		msgs[i] = b.String()
	}
	return fmt.Errorf("drift against the run of %s, with drift.action: fail: %s. If the change is expected, raise drift.max_psi "+
		"(features) or drift.max_segment_shift (segments), or set drift.action: warn to publish with a warning",
		prevAsOf, strings.Join(msgs, "; "))
}

func asInts(m map[string]int64) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(v)
	}
	return out
}
