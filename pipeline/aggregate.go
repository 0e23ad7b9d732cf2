package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
)

// aggregates are the sums and counts over a run's customers that the
// summary tables, the report and model.json are made of. Each shard of a
// sharded run adds up its own customers' and the finishing step merges
// them in shard order; an unsharded run has one. Sums run in customer-row
// order within a shard, so the results are reproducible.
type aggregates struct {
	Customers   int64           `json:"customers"`
	Buyers      int64           `json:"buyers"`
	Orders      int64           `json:"orders"`
	Quarantined int64           `json:"quarantined"`
	Quality     extract.Quality `json:"quality"`
	Revenue     float64         `json:"revenue"`
	// NewestOrder is the instant (µs) of the newest accepted order, for
	// the staleness check of a sharded run's finish; 0 when none.
	NewestOrder int64      `json:"newest_order,omitempty"`
	RFM         groupSums  `json:"rfm"`
	Cluster     *groupSums `json:"cluster,omitempty"`
	// RF[r-1][f-1] counts the customers scored (r, f).
	RF [5][5]int64 `json:"rf"`
	// PAlive sums and counts P(alive) by weeks-since-last-purchase row and
	// repeat-purchase column of the report's matrix.
	PAliveSum [5][6]float64 `json:"p_alive_sum"`
	PAliveN   [5][6]int64   `json:"p_alive_n"`
	// Migrations by (previous id, id); Both and Moved count the customers
	// clustered in both runs and those whose id changed.
	Migrations   []Migration      `json:"migrations,omitempty"`
	Both         int64            `json:"both,omitempty"`
	Moved        int64            `json:"moved,omitempty"`
	RecCustomers int64            `json:"rec_customers,omitempty"`
	RecOffers    int64            `json:"rec_offers,omitempty"`
	Audiences    []AudienceResult `json:"audiences,omitempty"`
}

// groupSums are one grouping's (RFM segments, clusters) sums, by group.
type groupSums struct {
	Type      string    `json:"type"`
	Names     []string  `json:"names"`
	IDs       []int32   `json:"ids,omitempty"` // cluster ids
	Customers []int64   `json:"customers"`
	Buyers    []int64   `json:"buyers"`
	Orders    []int64   `json:"orders"`
	Scored    []int64   `json:"scored"`
	Revenue   []float64 `json:"revenue"`
	Gross     []float64 `json:"gross"`
	Recency   []float64 `json:"recency"`
	Frequency []float64 `json:"frequency"`
	PAlive    []float64 `json:"p_alive"`
	CLV       []float64 `json:"clv"`
	// The category spend and channel orders of each group, for the mix
	// columns; Cats and Chans name them.
	Cats        []string    `json:"cats,omitempty"`
	Chans       []string    `json:"chans,omitempty"`
	CatSpend    [][]float64 `json:"cat_spend,omitempty"`
	ChanOrders  [][]float64 `json:"chan_orders,omitempty"`
	TotalOrders []float64   `json:"total_orders,omitempty"`
}

func newGroupSums(typ string, names []string, cats, chans []string) *groupSums {
	k := len(names)
	g := &groupSums{Type: typ, Names: names, Customers: make([]int64, k), Buyers: make([]int64, k), Orders: make([]int64, k),
		Scored: make([]int64, k), Revenue: make([]float64, k), Gross: make([]float64, k), Recency: make([]float64, k),
		Frequency: make([]float64, k), PAlive: make([]float64, k), CLV: make([]float64, k), Cats: cats, Chans: chans}
	if len(cats) > 0 || len(chans) > 0 {
		g.CatSpend, g.ChanOrders, g.TotalOrders = make([][]float64, k), make([][]float64, k), make([]float64, k)
		for i := range k {
			g.CatSpend[i], g.ChanOrders[i] = make([]float64, len(cats)), make([]float64, len(chans))
		}
	}
	return g
}

// add adds customer c of st to group k; cats and chans are st's share
// columns of g.Cats and g.Chans.
func (g *groupSums) add(st *state, c, k int, cats, chans []*features.Column) {
	b := st.beh
	g.Customers[k]++
	g.Revenue[k] += b.Monetary[c]
	if b.HasOrders[c] {
		g.Buyers[k]++
		g.Orders[k] += int64(b.Frequency[c])
		gross := b.AvgOrder[c] * float64(b.Frequency[c])
		g.Gross[k] += gross
		g.Recency[k] += float64(b.RecencyDays[c])
		g.Frequency[k] += float64(b.Frequency[c])
		if g.CatSpend != nil {
			for j, col := range cats {
				if !col.IsNull(c) {
					g.CatSpend[k][j] += col.F[c] * gross
				}
			}
			f := float64(b.Frequency[c])
			g.TotalOrders[k] += f
			for j, col := range chans {
				if !col.IsNull(c) {
					g.ChanOrders[k][j] += col.F[c] * f
				}
			}
		}
	}
	if cv := st.clv; cv != nil && cv.Scored[c] {
		g.Scored[k]++
		g.PAlive[k] += cv.PAlive[c]
		g.CLV[k] += cv.CLV[c]
	}
}

// merge adds o (the same grouping of another shard) to g.
func (g *groupSums) merge(o *groupSums) error {
	if !slices.Equal(g.Names, o.Names) || !slices.Equal(g.Cats, o.Cats) || !slices.Equal(g.Chans, o.Chans) {
		return fmt.Errorf("%s groups differ between shards: %v vs %v", g.Type, g.Names, o.Names)
	}
	for k := range g.Names {
		g.Customers[k] += o.Customers[k]
		g.Buyers[k] += o.Buyers[k]
		g.Orders[k] += o.Orders[k]
		g.Scored[k] += o.Scored[k]
		g.Revenue[k] += o.Revenue[k]
		g.Gross[k] += o.Gross[k]
		g.Recency[k] += o.Recency[k]
		g.Frequency[k] += o.Frequency[k]
		g.PAlive[k] += o.PAlive[k]
		g.CLV[k] += o.CLV[k]
		if g.CatSpend != nil {
			g.TotalOrders[k] += o.TotalOrders[k]
			for j := range g.CatSpend[k] {
				g.CatSpend[k][j] += o.CatSpend[k][j]
			}
			for j := range g.ChanOrders[k] {
				g.ChanOrders[k][j] += o.ChanOrders[k][j]
			}
		}
	}
	return nil
}

// rows are the summary rows of the groups; customers and revenue are the
// run's totals, clvOn whether CLV columns are published.
func (g *groupSums) rows(customers int64, revenue float64, clvOn bool) []SummaryRow {
	rows := make([]SummaryRow, len(g.Names))
	for k, name := range g.Names {
		r := &rows[k]
		*r = SummaryRow{SegmentType: g.Type, Segment: name, Customers: g.Customers[k], Revenue: g.Revenue[k]}
		if customers > 0 {
			r.Share = float64(r.Customers) / float64(customers)
		}
		if revenue != 0 {
			r.RevenueShare = r.Revenue / revenue
		}
		if r.Customers > 0 {
			r.AvgMonetary = r.Revenue / float64(r.Customers)
		}
		if g.Buyers[k] > 0 {
			r.AvgRecencyDays = g.Recency[k] / float64(g.Buyers[k])
			r.AvgFrequency = g.Frequency[k] / float64(g.Buyers[k])
		}
		if g.Orders[k] > 0 {
			r.AvgOrderValue = g.Gross[k] / float64(g.Orders[k])
		}
		if clvOn && g.Scored[k] > 0 {
			avgPA, avgV, tot := g.PAlive[k]/float64(g.Scored[k]), g.CLV[k]/float64(g.Scored[k]), g.CLV[k]
			r.AvgPAlive, r.AvgCLV, r.TotalCLV = &avgPA, &avgV, &tot
		}
		if g.CatSpend != nil {
			g.mix(r, k)
		}
	}
	return rows
}

// mix fills a row's top categories (by the group's purchase spend) and
// best channel (the one carrying most of its orders).
func (g *groupSums) mix(r *SummaryRow, k int) {
	spend := g.CatSpend[k]
	idx := make([]int, len(spend))
	for j := range idx {
		idx[j] = j
	}
	slices.SortStableFunc(idx, func(x, y int) int { return cmp.Compare(spend[y], spend[x]) })
	var top []string
	for _, j := range idx {
		if len(top) == 3 || spend[j] <= 0 {
			break
		}
		top = append(top, g.Cats[j])
	}
	r.TopCategories = strings.Join(top, ", ")
	orders := g.ChanOrders[k]
	best := -1
	for j := range orders {
		if orders[j] > 0 && (best < 0 || orders[j] > orders[best]) {
			best = j
		}
	}
	if best >= 0 {
		share := orders[best] / g.TotalOrders[k]
		r.BestChannel, r.BestChannelShare = g.Chans[best], &share
	}
}

// levelsOf returns st's share columns of group and their levels.
func levelsOf(st *state, group string) ([]*features.Column, []string) {
	if st.feat == nil {
		return nil, nil
	}
	cols := shareColumns(st.feat, group)
	var out []string
	for _, c := range cols {
		out = append(out, c.Level)
	}
	return cols, out
}

// aggregate adds up st's customers.
func aggregate(st *state) *aggregates {
	b, s := st.beh, st.rfm
	catCols, cats := levelsOf(st, "category")
	chanCols, chans := levelsOf(st, "channel")
	a := &aggregates{Customers: int64(b.N), Orders: st.orders(), Quarantined: int64(st.ds.Quarantine.Len()),
		Quality: st.ds.Quality, RFM: *newGroupSums("rfm", s.Segments, cats, chans)}
	if st.ds.LastOrder != extract.NoTime {
		a.NewestOrder = st.ds.LastOrder
	}
	var clusterAt map[int32]int
	if r := st.cluster; r != nil {
		ids := make([]int32, 0, len(r.Names))
		for id := range r.Names {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		clusterAt = map[int32]int{}
		names := make([]string, len(ids))
		for i, id := range ids {
			clusterAt[id], names[i] = i, r.Names[id]
		}
		a.Cluster = newGroupSums("cluster", names, cats, chans)
		a.Cluster.IDs = ids
	}
	for c := 0; c < b.N; c++ {
		a.Revenue += b.Monetary[c]
		if b.HasOrders[c] {
			a.Buyers++
		}
		a.RFM.add(st, c, int(s.Seg[c]), catCols, chanCols)
		if r, f := s.R[c], s.F[c]; r > 0 && f > 0 {
			a.RF[r-1][f-1]++
		}
		if cl := st.cluster; cl != nil {
			if id := cl.ID[c]; id >= 0 {
				a.Cluster.add(st, c, clusterAt[id], catCols, chanCols)
			}
			if cl.ID[c] >= 0 && cl.Previous[c] >= 0 {
				a.Both++
				if cl.ID[c] != cl.Previous[c] {
					a.Moved++
				}
			}
		}
		if cv := st.clv; cv != nil && cv.Scored[c] {
			fi := bucket(int(b.PurchaseDays[c])-1, pAliveFreqEdges)
			ri := bucket(int(b.RecencyDays[c])/7, pAliveRecEdges)
			a.PAliveSum[ri][fi] += cv.PAlive[c]
			a.PAliveN[ri][fi]++
		}
	}
	if st.cluster != nil {
		a.Migrations = migrations(st.cluster)
	}
	if st.recs != nil {
		a.RecCustomers, a.RecOffers = int64(st.recs.Model.Customers), int64(st.recs.Model.Offers)
	}
	return a
}

// merge adds o, another shard's aggregates, to a.
func (a *aggregates) merge(o *aggregates) error {
	a.Customers += o.Customers
	a.Buyers += o.Buyers
	a.Orders += o.Orders
	a.Quarantined += o.Quarantined
	a.Revenue += o.Revenue
	if o.NewestOrder != 0 && (a.NewestOrder == 0 || o.NewestOrder > a.NewestOrder) {
		a.NewestOrder = o.NewestOrder
	}
	a.Quality.Merge(o.Quality)
	if err := a.RFM.merge(&o.RFM); err != nil {
		return err
	}
	if (a.Cluster == nil) != (o.Cluster == nil) {
		return fmt.Errorf("clusters in some shards only")
	}
	if a.Cluster != nil {
		if err := a.Cluster.merge(o.Cluster); err != nil {
			return err
		}
	}
	for r := range a.RF {
		for f := range a.RF[r] {
			a.RF[r][f] += o.RF[r][f]
		}
	}
	for r := range a.PAliveSum {
		for f := range a.PAliveSum[r] {
			a.PAliveSum[r][f] += o.PAliveSum[r][f]
			a.PAliveN[r][f] += o.PAliveN[r][f]
		}
	}
	a.Migrations = mergeMigrations(a.Migrations, o.Migrations)
	a.Both += o.Both
	a.Moved += o.Moved
	a.RecCustomers += o.RecCustomers
	a.RecOffers += o.RecOffers
	if len(a.Audiences) != len(o.Audiences) {
		return fmt.Errorf("audiences differ between shards")
	}
	for i := range a.Audiences {
		a.Audiences[i].Customers += o.Audiences[i].Customers
	}
	return nil
}

func mergeMigrations(a, b []Migration) []Migration {
	type key struct{ from, to int32 }
	sum := map[key]int64{}
	for _, m := range append(append([]Migration(nil), a...), b...) {
		sum[key{m.From, m.To}] += m.Customers
	}
	out := make([]Migration, 0, len(sum))
	for k, n := range sum {
		out = append(out, Migration{From: k.from, To: k.to, Customers: n})
	}
	slices.SortFunc(out, func(x, y Migration) int {
		if c := cmp.Compare(x.From, y.From); c != 0 {
			return c
		}
		return cmp.Compare(x.To, y.To)
	})
	return out
}

// summaryRows are the segment_summary rows of a run: RFM segments, then
// clusters with their profiles.
func summaryRows(a *aggregates, fit *Fitted) []SummaryRow {
	clvOn := fit.CLV != nil
	rows := a.RFM.rows(a.Customers, a.Revenue, clvOn)
	nullCLV(rows, fit.CLV)
	if g := a.Cluster; g != nil {
		crows := g.rows(a.Customers, a.Revenue, clvOn)
		nullCLV(crows, fit.CLV)
		profiles := map[int]ClusterProfile{}
		for _, p := range fit.Cluster.Model.Profiles {
			profiles[p.ID] = p
		}
		for i := range crows {
			id := int(g.IDs[i])
			crows[i].ClusterID = &id
			p := profiles[id]
			crows[i].FeatureMeans, crows[i].FeatureZ = p.Means, p.Z
		}
		rows = append(rows, crows...)
	}
	return rows
}

var (
	pAliveFreqEdges = []int{0, 1, 2, 3, 5, 10} // repeat purchase days: 0, 1, 2, 3-4, 5-9, 10+
	pAliveRecEdges  = []int{0, 5, 13, 27, 53}  // weeks since last purchase
)

func bucket(v int, edges []int) int {
	k := 0
	for i, e := range edges {
		if v >= e {
			k = i
		}
	}
	return k
}

// nullCLV clears the summary averages of the CLV models that could not be
// fitted.
func nullCLV(rows []SummaryRow, m *CLVModel) {
	if m == nil {
		return
	}
	for i := range rows {
		if m.NoPurchase() {
			rows[i].AvgPAlive = nil
		}
		if m.NoPurchase() || m.NoSpend() {
			rows[i].AvgCLV, rows[i].TotalCLV = nil, nil
		}
	}
}
