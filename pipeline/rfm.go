package pipeline

import (
	"encoding/json"
	"math"
	"slices"
	"sync"

	"github.com/strata-oss/strata/models/rfm"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/features"
)

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
// stage's peak, and sorting them most of its time.
func fitRFM(b *features.Behaviour) Breaks {
	var breaks [3][5]float64
	var wg sync.WaitGroup
	for k, fit := range [3]func() [5]float64{
		func() [5]float64 { return rfm.QuintileBreaks(b.RecencyDays, b.HasOrders, rfmHigher[0]) },
		func() [5]float64 { return rfm.QuintileBreaks(b.Frequency, b.HasOrders, rfmHigher[1]) },
		func() [5]float64 {
			if b.NoAmount { // no M: null breaks
				nan := math.NaN()
				return [5]float64{nan, nan, nan, nan, nan}
			}
			return rfm.QuintileBreaks(b.Monetary, b.HasOrders, rfmHigher[2])
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

// applyRFM scores the customers of b who bought with the fitted breaks:
// for the customers the breaks were fitted on, exactly their quintile
// scores (rfm.ScoreByBreaks).
func applyRFM(cfg *config.Config, b *features.Behaviour, breaks Breaks) (*rfmScores, error) {
	rules := rfmRules(cfg)
	grid, err := rfm.NewGrid(rules)
	if err != nil {
		return nil, err
	}
	n := b.N
	s := &rfmScores{Rules: rules, Breaks: breaks, R: make([]int8, n), F: make([]int8, n), M: make([]int8, n)}
	var wg sync.WaitGroup
	wg.Go(func() { rfm.ScoreAll(s.R, b.RecencyDays, b.HasOrders, breaks[rfmNames[0]], rfmHigher[0]) })
	wg.Go(func() { rfm.ScoreAll(s.F, b.Frequency, b.HasOrders, breaks[rfmNames[1]], rfmHigher[1]) })
	if !b.NoAmount { // else M stays 0, published null
		rfm.ScoreAll(s.M, b.Monetary, b.HasOrders, breaks[rfmNames[2]], rfmHigher[2])
	}
	wg.Wait()
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
	for i := 0; i < n; i++ {
		s.Seg[i] = at[s.R[i]][s.F[i]]
	}
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
