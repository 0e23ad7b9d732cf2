package pipeline

import (
	"fmt"
	"slices"

	"github.com/strata-oss/strata/models/recommend"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/tables"
)

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
func recommendInput(st *state, ids []int32) (recommend.Input, []int32, bool) {
	if !st.cfg.Recommendations.On() || st.cluster == nil || st.feat == nil {
		return recommend.Input{}, nil, false
	}
	cols := shareColumns(st.feat, "category")
	if len(cols) == 0 {
		return recommend.Input{}, nil, false
	}
	if ids == nil {
		// Stable cluster ids are small but need not be contiguous.
		ids = make([]int32, 0, len(st.cluster.Names))
		for id := range st.cluster.Names {
			ids = append(ids, id)
		}
		slices.Sort(ids)
	}
	dense := map[int32]int32{}
	for i, id := range ids {
		dense[id] = int32(i)
	}
	n := st.beh.N
	group := make([]int32, n)
	for c := range n {
		group[c] = -1
		if id := st.cluster.ID[c]; id >= 0 {
			group[c] = dense[id]
		}
	}
	cats := make([]string, len(cols))
	for k, col := range cols {
		cats[k] = col.Level
	}
	return recommend.Input{Customers: n, Categories: cats, Groups: len(ids), Group: group, Buyer: st.beh.HasOrders,
		Bought: func(c, k int) bool { return bought(cols[k], c) }}, ids, true
}

// fitRecommendations learns the lifts of the categories in st's clusters,
// or returns nil when the run has no clusters or no categories to offer.
func fitRecommendations(st *state) (*recFit, error) {
	in, ids, ok := recommendInput(st, nil)
	if !ok {
		return nil, nil
	}
	aff, err := recommend.Fit(in)
	if err != nil {
		return nil, err
	}
	f := &recFit{Affinity: *aff, ClusterIDs: ids, Model: RecommendModel{TopN: st.cfg.Recommendations.N(), Rule: recommendRule,
		Categories: in.Categories, BasePenetration: aff.Base}}
	for g, id := range ids {
		f.Model.Clusters = append(f.Model.Clusters, ClusterAffinity{ClusterID: int(id), Buyers: aff.Buyers[g],
			Penetration: aff.Penetration[g], Lift: aff.Lift[g]})
	}
	return f, nil
}

// applyRecommendations makes each customer's offers from the fitted
// lifts.
func applyRecommendations(st *state, f *recFit) (*recommendations, error) {
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
// in customer order then rank.
func (r *recommendations) columns(st *state, asOfDay int32) []tables.OutColumn {
	n := r.Model.Offers
	id := make([]string, 0, n)
	rank := make([]int32, 0, n)
	cat := make([]string, 0, n)
	lift := make([]float64, 0, n)
	cluster := make([]int32, 0, n)
	noCluster := make([]bool, 0, n)
	basis := make([]string, 0, n)
	for c, offers := range r.offers {
		for _, o := range offers {
			id = append(id, st.ids[c])
			rank = append(rank, int32(o.Rank))
			cat = append(cat, r.cats[o.Category])
			lift = append(lift, o.Lift)
			cid := st.cluster.ID[c]
			cluster = append(cluster, max(cid, 0))
			noCluster = append(noCluster, cid < 0)
			if cid < 0 {
				basis = append(basis, "base")
			} else {
				basis = append(basis, "cluster")
			}
		}
	}
	return []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, Str: id},
		{Name: "as_of", Type: tables.OutDate, I32: constI32(asOfDay, n)},
		{Name: "rank", Type: tables.OutInt32, I32: rank},
		{Name: "category", Type: tables.OutString, Str: cat},
		{Name: "lift", Type: tables.OutDouble, F64: lift},
		{Name: "cluster_id", Type: tables.OutInt32, Optional: true, I32: cluster, Null: noCluster},
		{Name: "basis", Type: tables.OutString, Str: basis},
	}
}
