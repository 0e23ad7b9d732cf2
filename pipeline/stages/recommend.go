package stages

import (
	"context"
	"fmt"
	"slices"

	"github.com/strata-oss/strata/internal/parallel"
	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/models/recommend"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Recommend is the category-offers stage: each cluster's lift per
// category, and each customer's top categories they have not bought.
type Recommend struct{}

func (Recommend) Info() Info {
	return Info{Name: "recommend", Key: "recommendations", Reads: []string{"cluster"}}
}

// On: offers are made per cluster.
func (Recommend) On(cfg *config.Config) bool { return cfg.Recommendations.On() && cfg.Cluster.On() }

func (Recommend) Fit(_ context.Context, r *Run) (any, error) { return fitRecommendations(r) }

func (Recommend) Apply(_ context.Context, r *Run, model any) (any, error) {
	f, _ := model.(*recFit)
	if f == nil {
		r.Log.Info().Msg("no categories to recommend: the orders have no category column")
		return nil, nil
	}
	recs, err := applyRecommendations(r, f)
	if err != nil || recs == nil {
		return nil, err
	}
	r.Log.Info().Int("customers", recs.Model.Customers).Int("offers", recs.Model.Offers).
		Strs("categories", recs.Model.Categories).Msg("recommended")
	return recs, nil
}

func (Recommend) Decode(data []byte) (any, error) { return decodeAs[recFit](data) }

// Tables is the recommendations table.
func (Recommend) Tables(r *Run, result any, asOfDay int32) []Table {
	return []Table{{Name: "recommendations", Columns: result.(*recommendations).columns(r, asOfDay)}}
}

// recPart counts the customers with an offer and the offers.
type recPart struct {
	Customers int64 `json:"customers"`
	Offers    int64 `json:"offers"`
}

func (Recommend) NewPart() Part { return &recPart{} }

func (p *recPart) Merge(other Part) error {
	o := other.(*recPart)
	p.Customers += o.Customers
	p.Offers += o.Offers
	return nil
}

func (Recommend) Sum(_ *Run, result any) Part {
	m := result.(*recommendations).Model
	return &recPart{Customers: int64(m.Customers), Offers: int64(m.Offers)}
}

// Describe adds model.json's recommendations section.
func (Recommend) Describe(d *Description, model any) {
	m := model.(*recFit).Model
	if p, ok := d.Parts["recommend"].(*recPart); ok {
		m.Customers, m.Offers = int(p.Customers), int(p.Offers)
	} else {
		m.Customers, m.Offers = 0, 0
	}
	d.Recommendations = &m
}

// RecommendModel is model.json's record of the category offers.
type RecommendModel struct {
	TopN int `json:"top_n"`
	// Rule states how offers are chosen.
	Rule string `json:"rule"`
	// Categories are the candidates: the feature table's category share
	// columns (features.top_categories), without "other".
	Categories []string `json:"categories"`
	// BasePenetration[k]: the share of buyers who bought Categories[k].
	BasePenetration []float64 `json:"base_penetration"`
	// Clusters are the lifts per cluster, by stable cluster id.
	Clusters []ClusterAffinity `json:"clusters"`
	// Customers with at least one offer, and offers in all.
	Customers int `json:"customers"`
	Offers    int `json:"offers"`
}

// ClusterAffinity is one cluster's penetration and lift per category.
type ClusterAffinity struct {
	ClusterID   int       `json:"cluster_id"`
	Buyers      int       `json:"buyers"`
	Penetration []float64 `json:"penetration"`
	Lift        []float64 `json:"lift"`
}

const recommendRule = "lift = share of the cluster's buyers who bought the category / share of all buyers who did; " +
	"each customer gets the highest-lift categories (lift > 0) they have not bought, ties to the more popular category; " +
	"customers without a cluster get the most popular categories (lift 1)"

// recommendations are the per-customer offers of a run.
type recommendations struct {
	Model  RecommendModel
	offers [][]recommend.Offer
	cats   []string
}

// shareColumns are the feature table's share columns of group ("category",
// "channel") that name a level: not other, nor the unknown of blanks.
func shareColumns(t *features.Table, group string) []*features.Column {
	var out []*features.Column
	for i := range t.Cols {
		c := &t.Cols[i]
		if c.Kind == features.Share && c.Group == group && c.Level != "other" && c.Level != "unknown" {
			out = append(out, c)
		}
	}
	return out
}

// bought reports whether customer c has purchase spend in the category of
// share column col.
func bought(col *features.Column, c int) bool { return !col.IsNull(c) && col.F[c] > 0 }

// recFit is the fitted affinity table: the model.json record and what
// the offers are ranked by.
type recFit struct {
	Model    RecommendModel     `json:"model"`
	Affinity recommend.Affinity `json:"affinity"`
	// ClusterIDs are the stable cluster ids in the affinity's group order.
	ClusterIDs []int32 `json:"cluster_ids"`
}

// recommendInput is the recommendation input of st's customers, grouped
// by cluster in the order of ids (nil: the order of st's cluster names).
func recommendInput(st *Run, ids []int32) (recommend.Input, []int32, bool) {
	cl := resultOf[clusterResult](st, "cluster")
	if !st.Config.Recommendations.On() || cl == nil || st.Features == nil {
		return recommend.Input{}, nil, false
	}
	cols := shareColumns(st.Features, "category")
	if len(cols) == 0 {
		return recommend.Input{}, nil, false
	}
	if ids == nil {
		ids, _ = cl.named()
	}
	n := st.Behaviour.N
	group := denseGroups(cl.ID[:n], ids)
	cats := make([]string, len(cols))
	for k, col := range cols {
		cats[k] = col.Level
	}
	return recommend.Input{Customers: n, Categories: cats, Groups: len(ids), Group: group, Buyer: st.Behaviour.HasOrders,
		Bought: func(c, k int) bool { return bought(cols[k], c) }, Workers: st.Config.Workers}, ids, true
}

// denseGroups maps each customer's stable cluster id (< 0: none, -1) to
// its index in ids. Stable ids are small, so a slice indexed by id does
// what a map lookup per customer did. An id missing from ids (the fit saw
// every cluster the run has, so none is) gets 0, as the map's zero value
// gave it.
func denseGroups(clusterID, ids []int32) []int32 {
	var top int32 = -1
	for _, id := range ids {
		top = max(top, id)
	}
	dense := make([]int32, top+1)
	for i, id := range ids {
		if id >= 0 {
			dense[id] = int32(i)
		}
	}
	group := make([]int32, len(clusterID))
	for c, id := range clusterID {
		switch {
		case id < 0:
			group[c] = -1
		case id <= top:
			group[c] = dense[id]
		}
	}
	return group
}

// fitRecommendations learns the lifts of the categories in st's clusters,
// or returns nil when the run has no clusters or no categories to offer.
func fitRecommendations(st *Run) (*recFit, error) {
	in, ids, ok := recommendInput(st, nil)
	if !ok {
		return nil, nil
	}
	aff, err := recommend.Fit(in)
	if err != nil {
		return nil, err
	}
	f := &recFit{Affinity: *aff, ClusterIDs: ids, Model: RecommendModel{TopN: st.Config.Recommendations.N(), Rule: recommendRule,
		Categories: in.Categories, BasePenetration: aff.Base}}
	for g, id := range ids {
		f.Model.Clusters = append(f.Model.Clusters, ClusterAffinity{ClusterID: int(id), Buyers: aff.Buyers[g],
			Penetration: aff.Penetration[g], Lift: aff.Lift[g]})
	}
	return f, nil
}

// applyRecommendations makes each customer's offers from the fitted
// lifts.
func applyRecommendations(st *Run, f *recFit) (*recommendations, error) {
	in, _, ok := recommendInput(st, f.ClusterIDs)
	if !ok {
		return nil, nil
	}
	if !slices.Equal(in.Categories, f.Affinity.Categories) {
		return nil, fmt.Errorf("recommend: the run's categories %v are not the fitted %v", in.Categories, f.Affinity.Categories)
	}
	offers, err := f.Affinity.Recommend(in, f.Model.TopN)
	if err != nil {
		return nil, err
	}
	r := &recommendations{offers: offers, cats: in.Categories, Model: f.Model}
	for _, o := range offers {
		if len(o) > 0 {
			r.Model.Customers++
		}
		r.Model.Offers += len(o)
	}
	return r, nil
}

// columns is the recommendations table: one row per customer and offer,
// in customer order then rank. Each customer's rows start where the
// offers of those before end, so ranges of customers are filled in
// parallel, the same values whatever the workers. Its string columns
// hold no pointer per row (the ids a strcol.Column, the category and
// basis codes): a table of several rows per customer would otherwise be
// the largest thing the publish stage's collections scan.
func (r *recommendations) columns(st *Run, asOfDay int32) []tables.OutColumn {
	cl := resultOf[clusterResult](st, "cluster")
	start := make([]int, len(r.offers)+1)
	for c, offers := range r.offers {
		start[c+1] = start[c] + len(offers)
	}
	n := start[len(r.offers)]
	// Each range of customers writes its own part of the ids' column,
	// its rows and bytes counted first.
	const customersAtATime = 1 << 14 // enough that handing them out costs nothing
	var rows []int
	var bytes []int64
	for lo := 0; lo < len(r.offers); lo += customersAtATime {
		hi := min(lo+customersAtATime, len(r.offers))
		size := int64(0)
		for c := lo; c < hi; c++ {
			size += int64(len(st.IDs.At(c)) * len(r.offers[c]))
		}
		rows, bytes = append(rows, start[hi]-start[lo]), append(bytes, size)
	}
	ids := strcol.Parts(rows, bytes)
	t := recTable{rank: make([]int32, n), cat: make([]int32, n), lift: make([]float64, n),
		cluster: make([]int32, n), noCluster: make([]bool, n), basis: make([]int32, n)}
	parallel.Ranges(len(r.offers), customersAtATime, st.Config.Workers, func(lo, hi int) {
		t.fill(r, st.IDs, ids[lo/customersAtATime], cl.ID, start, lo, hi)
	})
	id, err := strcol.Join(ids)
	if err != nil {
		panic(fmt.Sprintf("recommend: customer ids: %v", err)) // the counts above are wrong
	}
	return []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, StrCol: id},
		{Name: "as_of", Type: tables.OutDate, I32: tables.Repeat(asOfDay, n)},
		{Name: "rank", Type: tables.OutInt32, I32: t.rank},
		{Name: "category", Type: tables.OutString, Codes: t.cat, Dict: r.cats},
		{Name: "lift", Type: tables.OutDouble, F64: t.lift},
		{Name: "cluster_id", Type: tables.OutInt32, Optional: true, I32: t.cluster, Null: t.noCluster},
		{Name: "basis", Type: tables.OutString, Codes: t.basis, Dict: []string{"cluster", "base"}},
	}
}

// recTable is the recommendations table's columns, a row per offer; cat
// is a code into the categories, basis 0 for an offer from the
// customer's cluster and 1 for one from the base rate (no cluster).
type recTable struct {
	rank, cluster, cat, basis []int32
	lift                      []float64
	noCluster                 []bool
}

// fill writes the rows of customers [lo, hi), which start at row
// start[lo], their ids to id; clusterID is each customer's stable cluster
// id (< 0: none).
func (t *recTable) fill(r *recommendations, ids strcol.Column, id *strcol.Builder, clusterID []int32, start []int, lo, hi int) {
	i := start[lo]
	for c := lo; c < hi; c++ {
		cid := clusterID[c]
		basis := int32(0)
		if cid < 0 {
			basis = 1
		}
		for _, o := range r.offers[c] {
			id.Append(ids.At(c))
			t.rank[i], t.cat[i], t.lift[i] = int32(o.Rank), int32(o.Category), o.Lift
			t.cluster[i], t.noCluster[i], t.basis[i] = max(cid, 0), cid < 0, basis
			i++
		}
	}
}
