package pipeline

import (
	"slices"

	"github.com/strata-oss/strata/models/rfm"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/features"
)

// rfmScores are the RFM model's outputs, per customer row.
type rfmScores struct {
	R, F, M  []int8 // 0 for customers without a purchase
	Segment  []string
	Rules    []rfm.Rule
	Breaks   map[string][5]float64
	Segments []string // names in rule order, then No Purchases
}

func scoreRFM(cfg *config.Config, b *features.Behaviour) (*rfmScores, error) {
	rules := rfm.DefaultRules()
	if len(cfg.RFM.Segments) > 0 {
		rules = rules[:0]
		for _, s := range cfg.RFM.Segments {
			rules = append(rules, rfm.Rule{Name: s.Name, R: s.R, F: s.F})
		}
	}
	grid, err := rfm.NewGrid(rules)
	if err != nil {
		return nil, err
	}
	n := b.N
	rec := make([]float64, n)
	freq := make([]float64, n)
	mon := make([]float64, n)
	for i := 0; i < n; i++ {
		rec[i] = float64(b.RecencyDays[i])
		freq[i] = float64(b.Frequency[i])
		mon[i] = b.Monetary[i]
	}
	s := &rfmScores{Rules: rules, Breaks: map[string][5]float64{}}
	var br [5]float64
	s.R, br = rfm.Quintiles(rec, b.HasOrders, false)
	s.Breaks["recency_days"] = br
	s.F, br = rfm.Quintiles(freq, b.HasOrders, true)
	s.Breaks["frequency"] = br
	s.M, br = rfm.Quintiles(mon, b.HasOrders, true)
	s.Breaks["monetary_value"] = br
	s.Segment = make([]string, n)
	for i := 0; i < n; i++ {
		s.Segment[i] = grid.Segment(s.R[i], s.F[i])
	}
	s.Segments = append(rfm.Names(rules), rfm.NoPurchases)
	return s, nil
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

// summarize aggregates customers by RFM segment and, when clustering ran,
// by cluster. Sums run in customer-row order, so the floating-point results
// are reproducible.
func summarize(st *state) []SummaryRow {
	b, s := st.beh, st.rfm
	pos := map[string]int{}
	for i, name := range s.Segments {
		pos[name] = i
	}
	rfmGroup := func(c int) int { return pos[s.Segment[c]] }
	rows := summarizeGroups(b, st.clv, "rfm", s.Segments, rfmGroup)
	segmentMix(rows, st, rfmGroup)
	if r := st.cluster; r != nil {
		ids := make([]int32, 0, len(r.Names))
		for id := range r.Names {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		at := map[int32]int{}
		names := make([]string, len(ids))
		for i, id := range ids {
			at[id], names[i] = i, r.Names[id]
		}
		clusterGroup := func(c int) int {
			if r.ID[c] < 0 {
				return -1
			}
			return at[r.ID[c]]
		}
		crows := summarizeGroups(b, st.clv, "cluster", names, clusterGroup)
		segmentMix(crows, st, clusterGroup)
		for i := range crows {
			id := int(ids[i])
			crows[i].ClusterID = &id
			p := r.Model.Profiles[i]
			crows[i].FeatureMeans, crows[i].FeatureZ = p.Means, p.Z
		}
		rows = append(rows, crows...)
	}
	return rows
}

// summarizeGroups aggregates the customers of each group; group(c) is the
// index into names of customer c's group, or -1 for none.
func summarizeGroups(b *features.Behaviour, cv *clvScores, typ string, names []string, group func(c int) int) []SummaryRow {
	rows := make([]SummaryRow, len(names))
	for i, name := range names {
		rows[i] = SummaryRow{SegmentType: typ, Segment: name}
	}
	buyers := make([]int64, len(rows))
	orders := make([]int64, len(rows))
	gross := make([]float64, len(rows))
	var total float64
	for c := 0; c < b.N; c++ {
		total += b.Monetary[c]
		k := group(c)
		if k < 0 {
			continue
		}
		r := &rows[k]
		r.Customers++
		r.Revenue += b.Monetary[c]
		if b.HasOrders[c] {
			buyers[k]++
			orders[k] += int64(b.Frequency[c])
			gross[k] += b.AvgOrder[c] * float64(b.Frequency[c])
			r.AvgRecencyDays += float64(b.RecencyDays[c])
			r.AvgFrequency += float64(b.Frequency[c])
		}
	}
	if cv != nil {
		scored := make([]int64, len(rows))
		pa := make([]float64, len(rows))
		val := make([]float64, len(rows))
		for c := 0; c < b.N; c++ {
			if k := group(c); k >= 0 && cv.Scored[c] {
				scored[k]++
				pa[k] += cv.PAlive[c]
				val[k] += cv.CLV[c]
			}
		}
		for k := range rows {
			if scored[k] > 0 {
				avgPA, avgV, tot := pa[k]/float64(scored[k]), val[k]/float64(scored[k]), val[k]
				rows[k].AvgPAlive, rows[k].AvgCLV, rows[k].TotalCLV = &avgPA, &avgV, &tot
			}
		}
	}
	for k := range rows {
		r := &rows[k]
		if b.N > 0 {
			r.Share = float64(r.Customers) / float64(b.N)
		}
		if total != 0 {
			r.RevenueShare = r.Revenue / total
		}
		if r.Customers > 0 {
			r.AvgMonetary = r.Revenue / float64(r.Customers)
		}
		if buyers[k] > 0 {
			r.AvgRecencyDays /= float64(buyers[k])
			r.AvgFrequency /= float64(buyers[k])
		}
		if orders[k] > 0 {
			r.AvgOrderValue = gross[k] / float64(orders[k])
		}
	}
	return rows
}
