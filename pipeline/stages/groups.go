package stages

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-oss/strata/pipeline/features"
)

// The summary's groupings (RFM segments, clusters) share one kind of sums.

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
	// Expected sums expected_purchases over the scored customers.
	Expected []float64 `json:"expected_purchases"`
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
		Frequency: make([]float64, k), PAlive: make([]float64, k), CLV: make([]float64, k), Expected: make([]float64, k),
		Cats: cats, Chans: chans}
	if len(cats) > 0 || len(chans) > 0 {
		g.CatSpend, g.ChanOrders, g.TotalOrders = make([][]float64, k), make([][]float64, k), make([]float64, k)
		for i := range k {
			g.CatSpend[i], g.ChanOrders[i] = make([]float64, len(cats)), make([]float64, len(chans))
		}
	}
	return g
}

// groupInputs are what groupSums.add reads of a run, looked up once per
// pass rather than once per customer (the CLV scores are a map lookup by
// stage name).
type groupInputs struct {
	b           *features.Behaviour
	cv          *clvScores // nil when the CLV stage did not run
	cats, chans []*features.Column
}

// groupInputsOf are r's inputs to a grouping's sums; cats and chans are
// r's share columns of its Cats and Chans.
func groupInputsOf(r *Run, cats, chans []*features.Column) groupInputs {
	return groupInputs{b: r.Behaviour, cv: resultOf[clvScores](r, "clv"), cats: cats, chans: chans}
}

// add adds customer c to group k. The groups sum the CLV stage's outputs
// too, when it ran.
func (g *groupSums) add(in *groupInputs, c, k int) {
	b := in.b
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
			g.addMix(in, c, k, gross)
		}
	}
	if cv := in.cv; cv != nil && cv.Scored[c] {
		g.Scored[k]++
		g.PAlive[k] += cv.PAlive[c]
		g.CLV[k] += cv.CLV[c]
		g.Expected[k] += cv.ExpectedPurchases[c]
	}
}

// addMix adds buyer c's category spend and channel orders to group k.
func (g *groupSums) addMix(in *groupInputs, c, k int, gross float64) {
	for j, col := range in.cats {
		if !col.IsNull(c) {
			g.CatSpend[k][j] += col.F[c] * gross
		}
	}
	f := float64(in.b.Frequency[c])
	g.TotalOrders[k] += f
	for j, col := range in.chans {
		if !col.IsNull(c) {
			g.ChanOrders[k][j] += col.F[c] * f
		}
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
		g.Expected[k] += o.Expected[k]
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
			churn, exp := 1-avgPA, g.Expected[k]
			r.AvgPAlive, r.AvgCLV, r.TotalCLV = &avgPA, &avgV, &tot
			r.AvgChurnRisk, r.TotalExpected = &churn, &exp
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

// levelsOf returns r's share columns of group and their levels.
func levelsOf(r *Run, group string) ([]*features.Column, []string) {
	if r.Features == nil {
		return nil, nil
	}
	cols := shareColumns(r.Features, group)
	var out []string
	for _, c := range cols {
		out = append(out, c.Level)
	}
	return cols, out
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

// bucketTable is bucket(v, edges) by v, for v from 0 to the last of the
// (ascending) edges: the P(alive) sums take two buckets a customer.
type bucketTable struct {
	edges []int
	at    []int8
}

func newBucketTable(edges []int) bucketTable {
	t := bucketTable{edges: edges, at: make([]int8, edges[len(edges)-1]+1)}
	for v := range t.at {
		t.at[v] = int8(bucket(v, edges))
	}
	return t
}

// of is bucket(v, t.edges): past the last edge, the last bucket.
func (t *bucketTable) of(v int) int {
	switch {
	case v < 0:
		return bucket(v, t.edges)
	case v >= len(t.at):
		return len(t.edges) - 1
	}
	return int(t.at[v])
}

// clvOn reports whether the run has CLV outputs.
func (d *Description) clvOn() bool { return d.clvModel() != nil }

func (d *Description) clvModel() *CLVModel {
	m, _ := d.Models["clv"].(*CLVModel)
	return m
}

// nullCLV clears the summary averages of the CLV models that could not be
// fitted.
func (d *Description) nullCLV(rows []SummaryRow) {
	m := d.clvModel()
	if m == nil {
		return
	}
	for i := range rows {
		if m.NoPurchase() {
			rows[i].AvgPAlive, rows[i].AvgChurnRisk, rows[i].TotalExpected = nil, nil, nil
		}
		if m.NoPurchase() || m.NoSpend() {
			rows[i].AvgCLV, rows[i].TotalCLV = nil, nil
		}
	}
}
