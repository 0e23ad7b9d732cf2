package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/strata-oss/strata/internal/parallel"
	"github.com/strata-oss/strata/models/rfm"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/report"
	"github.com/strata-oss/strata/pipeline/tables"
)

// RFM is the RFM stage: quintile scores of recency, frequency and monetary
// value against breaks learned from the buyers, and named segments from the
// R×F grid (rfm.segments, or the default grid).
type RFM struct{}

func (RFM) Info() Info { return Info{Name: "rfm", Key: "rfm_breaks", Always: true} }

func (RFM) On(*config.Config) bool { return true }

func (RFM) Fit(_ context.Context, r *Run) (any, error) {
	return fitRFM(r.Behaviour, r.Config.Workers), nil
}

func (RFM) Apply(_ context.Context, r *Run, model any) (any, error) {
	s, err := applyRFM(r.Config, r.Behaviour, model.(Breaks))
	if err != nil {
		return nil, &ConfigError{Err: err} // the configured grid
	}
	return s, nil
}

func (RFM) Decode(data []byte) (any, error) {
	var b Breaks
	err := json.Unmarshal(data, &b)
	return b, err
}

// Columns are the scores and the segment.
func (RFM) Columns(r *Run, result any, _ int32) []tables.OutColumn {
	b := r.Behaviour
	s, _ := result.(*rfmScores)
	if s == nil {
		s = &rfmScores{}
	}
	n := b.N
	noOrders := tables.Not(b.HasOrders)
	noMoneyOrders := noOrders
	if b.NoAmount { // no M: null for everyone
		noMoneyOrders = make([]bool, n)
		for i := range noMoneyOrders {
			noMoneyOrders[i] = true
		}
	}
	i8 := func(x []int8) []int32 {
		out := make([]int32, len(x))
		for i, v := range x {
			out[i] = int32(v)
		}
		return out
	}
	// Codes into the names, not a string per customer: the columns
	// live through the publish stage's collections (tables.OutColumn).
	score, segment := make([]int32, n), make([]int32, n)
	scores := rfmScoreCodes{}
	for i := 0; i < n; i++ {
		if b.HasOrders[i] && !b.NoAmount {
			score[i] = scores.code(s.R[i], s.F[i], s.M[i])
		}
		segment[i] = int32(s.Seg[i])
	}
	return []tables.OutColumn{
		{Name: "rfm_r", Type: tables.OutInt32, Optional: true, I32: i8(s.R), Null: noOrders},
		{Name: "rfm_f", Type: tables.OutInt32, Optional: true, I32: i8(s.F), Null: noOrders},
		{Name: "rfm_m", Type: tables.OutInt32, Optional: true, I32: i8(s.M), Null: noMoneyOrders},
		{Name: "rfm_score", Type: tables.OutString, Optional: true, Codes: score, Dict: scores.dict(), Null: noMoneyOrders},
		{Name: "rfm_segment", Type: tables.OutString, Codes: segment, Dict: s.Segments},
	}
}

// rfmPart is the RFM stage's sums: by segment, and the R×F grid.
type rfmPart struct {
	Groups groupSums `json:"groups"`
	// RF[r-1][f-1] counts the customers scored (r, f).
	RF [5][5]int64 `json:"rf"`
}

func (p *rfmPart) Merge(other Part) error {
	o := other.(*rfmPart)
	if err := p.Groups.merge(&o.Groups); err != nil {
		return err
	}
	for r := range p.RF {
		for f := range p.RF[r] {
			p.RF[r][f] += o.RF[r][f]
		}
	}
	return nil
}

func (RFM) NewPart() Part { return &rfmPart{} }

func (RFM) Sum(r *Run, result any) Part {
	s := result.(*rfmScores)
	catCols, cats := levelsOf(r, "category")
	chanCols, chans := levelsOf(r, "channel")
	p := &rfmPart{Groups: *newGroupSums("rfm", s.Segments, cats, chans)}
	in := groupInputsOf(r, catCols, chanCols)
	for c := 0; c < r.Behaviour.N; c++ {
		p.Groups.add(&in, c, int(s.Seg[c]))
		if rr, f := s.R[c], s.F[c]; rr > 0 && f > 0 {
			p.RF[rr-1][f-1]++
		}
	}
	return p
}

// Describe adds the segments' summary rows, the report's segments and R×F
// grid, and model.json's rfm section.
func (RFM) Describe(d *Description, model any) {
	p := d.Parts["rfm"].(*rfmPart)
	rows := p.Groups.rows(d.Customers, d.Revenue, d.clvOn())
	d.nullCLV(rows)
	d.Summary = append(d.Summary, rows...)
	d.RFM = RFMModel{Rule: quintileRule, Breaks: finiteBreaks(model.(Breaks))}
	if d.NoAmount {
		d.RFM.Note = NoAmountNote
	}
	rules := rfmRules(d.Config)
	for _, r := range rules {
		d.RFM.Grid = append(d.RFM.Grid, GridRule{Name: r.Name, R: r.R, F: r.F})
	}
	for _, r := range rows {
		seg := report.Segment{Name: r.Segment, Customers: r.Customers, Revenue: r.Revenue,
			TopCategories: r.TopCategories, BestChannel: r.BestChannel}
		if q, ok := d.Spreads[r.Segment]; ok {
			seg.CLV, seg.PAlive = q[0], q[1]
		}
		d.Report.Segments = append(d.Report.Segments, seg)
	}
	d.Report.RF = p.RF
	for _, rule := range rules {
		for r := rule.R[0]; r <= rule.R[1]; r++ {
			for f := rule.F[0]; f <= rule.F[1]; f++ {
				d.Report.RFNames[r-1][f-1] = rule.Name
			}
		}
	}
}

// RFMModel records how RFM scores were made.
type RFMModel struct {
	Rule string `json:"rule"`
	// Note says what is missing: without amounts, the M score.
	Note string `json:"note,omitempty"`
	// Breaks[feature][s] is the first value that scored s+1.
	Breaks map[string][5]float64 `json:"breaks"`
	Grid   []GridRule            `json:"grid"`
}

// GridRule is one named-segment rule.
type GridRule struct {
	Name string `json:"name"`
	R    [2]int `json:"r"`
	F    [2]int `json:"f"`
}

const quintileRule = "score = 1 + floor(5 * (customers with a strictly worse value) / scored customers); ties share the lower score; recency is reversed; only customers with a purchase are scored"

// NoAmountNote says what a run without amounts publishes.
const NoAmountNote = "the orders have no amount: R and F scores only (rfm_m, rfm_score and the money features null), " +
	"the purchase model and p_alive, no spend model (expected_avg_spend and clv null)"

// finiteBreaks replaces the NaN of a score no value reached (JSON has no
// NaN) by -1.
func finiteBreaks(in map[string][5]float64) map[string][5]float64 {
	out := map[string][5]float64{}
	for k, v := range in {
		for i := range v {
			if math.IsNaN(v[i]) {
				v[i] = -1
			}
		}
		out[k] = v
	}
	return out
}

// rfmScoreText holds the 125 score strings "111" to "555", so that a run's
// million scores share them instead of formatting a string each.
var rfmScoreText = func() (t [5][5][5]string) {
	for r := range 5 {
		for f := range 5 {
			for m := range 5 {
				t[r][f][m] = string([]byte{byte('1' + r), byte('1' + f), byte('1' + m)})
			}
		}
	}
	return t
}()

func rfmScore(r, f, m int8) string {
	if r < 1 || r > 5 || f < 1 || f > 5 || m < 1 || m > 5 {
		return fmt.Sprintf("%d%d%d", r, f, m)
	}
	return rfmScoreText[r-1][f-1][m-1]
}

// rfmScoreCodes numbers the score strings of a column: 0 is "", the 125
// scores of quintiles 1 to 5 come next in rfmScoreText's order, and any
// other (which scoring does not give) after them.
type rfmScoreCodes struct {
	other map[[3]int8]int32
	extra []string
}

func (c *rfmScoreCodes) code(r, f, m int8) int32 {
	if r >= 1 && r <= 5 && f >= 1 && f <= 5 && m >= 1 && m <= 5 {
		return 1 + int32(r-1)*25 + int32(f-1)*5 + int32(m-1)
	}
	k := [3]int8{r, f, m}
	if x, ok := c.other[k]; ok {
		return x
	}
	if c.other == nil {
		c.other = map[[3]int8]int32{}
	}
	c.other[k] = 126 + int32(len(c.extra))
	c.extra = append(c.extra, rfmScore(r, f, m))
	return c.other[k]
}

// dict is the strings of the codes.
func (c *rfmScoreCodes) dict() []string {
	d := make([]string, 1, 126+len(c.extra))
	for r := range rfmScoreText {
		for f := range rfmScoreText[r] {
			d = append(d, rfmScoreText[r][f][:]...)
		}
	}
	return append(d, c.extra...)
}

// rfmScores are the RFM model's outputs, per customer row.
type rfmScores struct {
	R, F, M  []int8  // 0 for customers without a purchase
	Seg      []uint8 // the customer's segment, an index into Segments
	Rules    []rfm.Rule
	Breaks   Breaks
	Segments []string // names in rule order, then No Purchases
}

func rfmRules(cfg *config.Config) []rfm.Rule {
	rules := rfm.DefaultRules()
	if len(cfg.RFM.Segments) > 0 {
		rules = rules[:0]
		for _, s := range cfg.RFM.Segments {
			rules = append(rules, rfm.Rule{Name: s.Name, R: s.R, F: s.F})
		}
	}
	return rules
}

// rfmNames are the features the scores rank, rfmHigher whether each is
// higher-is-better.
var (
	rfmNames  = [3]string{"recency_days", "frequency", "monetary_value"}
	rfmHigher = [3]bool{false, true, true}
)

// fitRFM learns the quintile breaks of the customers of b who bought,
// the three features in parallel, each copying its values alone and
// selecting the breaks (rfm.QuintileBreaks): at millions of customers,
// (value, row) pairs and float64 copies of the integer features were the
// stage's peak, and sorting them most of its time. Recency and frequency
// are counted in a pass; the monetary value's selection is most of the
// fit, so it selects with up to workers goroutines (its breaks do not
// depend on how many).
func fitRFM(b *features.Behaviour, workers int) Breaks {
	var breaks [3][5]float64
	var wg sync.WaitGroup
	for k, fit := range [3]func() [5]float64{
		func() [5]float64 { return rfm.QuintileBreaks(b.RecencyDays, b.HasOrders, rfmHigher[0], workers) },
		func() [5]float64 { return rfm.QuintileBreaks(b.Frequency, b.HasOrders, rfmHigher[1], workers) },
		func() [5]float64 {
			if b.NoAmount { // no M: null breaks
				nan := math.NaN()
				return [5]float64{nan, nan, nan, nan, nan}
			}
			return rfm.QuintileBreaks(b.Monetary, b.HasOrders, rfmHigher[2], workers)
		},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			breaks[k] = fit()
		}()
	}
	wg.Wait()
	out := Breaks{}
	for k, name := range rfmNames {
		out[name] = breaks[k]
	}
	return out
}

// rfmChunk is how many customers applyRFM scores at a time: a chunk's
// values, scores and segments stay in cache between the four passes.
const rfmChunk = 1 << 14

// applyRFM scores the customers of b who bought with the fitted breaks:
// for the customers the breaks were fitted on, exactly their quintile
// scores (rfm.ScoreByBreaks). A customer's scores and segment depend on
// their values alone, so ranges of customers are scored by up to workers
// goroutines at once.
func applyRFM(cfg *config.Config, b *features.Behaviour, breaks Breaks) (*rfmScores, error) {
	rules := rfmRules(cfg)
	grid, err := rfm.NewGrid(rules)
	if err != nil {
		return nil, err
	}
	n := b.N
	s := &rfmScores{Rules: rules, Breaks: breaks, R: make([]int8, n), F: make([]int8, n), M: make([]int8, n)}
	s.Segments = append(rfm.Names(rules), rfm.NoPurchases)
	// Each cell's segment looked up once. A byte per customer rather than
	// the name: the publish stage's tallies index by it, and the names
	// (16 bytes a customer) are only needed for the published column.
	var at [6][6]uint8
	for r := range at {
		for f := range at[r] {
			at[r][f] = uint8(slices.Index(s.Segments, grid.Segment(int8(r), int8(f))))
		}
	}
	s.Seg = make([]uint8, n)
	br, bf, bm := breaks[rfmNames[0]], breaks[rfmNames[1]], breaks[rfmNames[2]]
	parallel.Ranges(n, rfmChunk, cfg.Workers, func(lo, hi int) {
		has := b.HasOrders[lo:hi]
		rfm.ScoreAll(s.R[lo:hi], b.RecencyDays[lo:hi], has, br, rfmHigher[0])
		rfm.ScoreAll(s.F[lo:hi], b.Frequency[lo:hi], has, bf, rfmHigher[1])
		if !b.NoAmount { // else M stays 0, published null
			rfm.ScoreAll(s.M[lo:hi], b.Monetary[lo:hi], has, bm, rfmHigher[2])
		}
		for i := lo; i < hi; i++ {
			s.Seg[i] = at[s.R[i]][s.F[i]]
		}
	})
	return s, nil
}

// Breaks are fitted quintile breaks by feature: Breaks[f][s] is the first
// value of f that scores s+1, NaN when no one scored s+1. In JSON (a
// published fit), NaN is null.
type Breaks map[string][5]float64

func (b Breaks) MarshalJSON() ([]byte, error) {
	out := map[string][5]*float64{}
	for k, v := range b {
		var p [5]*float64
		for i := range v {
			if x := v[i]; x == x {
				p[i] = &x
			}
		}
		out[k] = p
	}
	return json.Marshal(out)
}

func (b *Breaks) UnmarshalJSON(data []byte) error {
	var in map[string][5]*float64
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*b = Breaks{}
	for k, p := range in {
		var v [5]float64
		for i := range p {
			v[i] = math.NaN()
			if p[i] != nil {
				v[i] = *p[i]
			}
		}
		(*b)[k] = v
	}
	return nil
}

// SummaryRow is one segment's aggregate.
type SummaryRow struct {
	SegmentType    string  `json:"segment_type"`
	Segment        string  `json:"segment"`
	Customers      int64   `json:"customers"`
	Share          float64 `json:"share"`
	Revenue        float64 `json:"revenue"`
	RevenueShare   float64 `json:"revenue_share"`
	AvgRecencyDays float64 `json:"avg_recency_days"`
	AvgFrequency   float64 `json:"avg_frequency"`
	AvgMonetary    float64 `json:"avg_monetary_value"`
	AvgOrderValue  float64 `json:"avg_order_value"`
	// CLV aggregates over the segment's scored customers; null when CLV is
	// off or nobody in the segment was scored.
	AvgPAlive *float64 `json:"avg_p_alive"`
	AvgCLV    *float64 `json:"avg_clv"`
	TotalCLV  *float64 `json:"total_clv"`
	// AvgChurnRisk is 1 − AvgPAlive; TotalExpected the expected purchases
	// of the segment's scored customers over the CLV horizon.
	AvgChurnRisk  *float64 `json:"avg_churn_risk"`
	TotalExpected *float64 `json:"total_expected_purchases"`
	// TopCategories are the (up to) three categories with the most of the
	// segment's purchase spend, comma-separated; BestChannel is the channel
	// carrying most of its orders, with that share. Empty/null when the
	// orders have no category or channel.
	TopCategories    string   `json:"top_categories,omitempty"`
	BestChannel      string   `json:"best_channel,omitempty"`
	BestChannelShare *float64 `json:"best_channel_share,omitempty"`
	// Cluster rows: the stable cluster id and the profile (raw feature
	// means and their z-scores against all clustered customers).
	ClusterID    *int               `json:"cluster_id,omitempty"`
	FeatureMeans map[string]float64 `json:"feature_means,omitempty"`
	FeatureZ     map[string]float64 `json:"feature_z,omitempty"`
}
