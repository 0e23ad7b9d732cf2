package stages

import (
	"fmt"
	"math"
	"slices"

	"github.com/strata-oss/strata/models/cluster"
)

// Cluster names say how a cluster differs from the population of buyers
// (cluster.DescriptiveNames: its features ranked by the z-score of the
// cluster's mean, "Frequent · high spend"), are unique, and never
// contradict whether its customers are still active. For that last rule
// the namer also sees two witnesses that need not be clustered on: the
// recency (recency_days, high = lapsed) and, when the purchase model was
// fitted, P(alive) (high = active). They are profiled with the clustered
// features and may name a cluster ("Likely churned · infrequent"); the
// published profiles keep the clustered features only.
var activityWitnesses = []struct {
	name string
	kind cluster.FeatureKind
}{
	{"recency_days", cluster.KindRecency},
	{"p_alive", cluster.KindActivity},
}

// featureKind says what feature name tells of activity.
func featureKind(name string) cluster.FeatureKind {
	for _, w := range activityWitnesses {
		if w.name == name {
			return w.kind
		}
	}
	return cluster.KindPlain
}

// nameClusters profiles the k clusters of the buyers rows (labels their
// clusters; raw writes the t-th clustered feature's raw values of the rows)
// and names them. The returned profiles hold the clustered features only.
//
// A feature's means and spread are sums over its own column, so the
// features are profiled one at a time, in one column's memory (8 bytes a
// buyer), and give the bits a matrix of them all would
// (cluster.TestProfilesByColumn): the matrix would be 8 bytes a buyer a
// feature, at the peak of a stage that holds the CLV columns.
func nameClusters(st *Run, raw func(t int, dst []float64) error, rows []int32, labels []int32, k int, ids []int, feats []string) ([]cluster.Profile, error) {
	all := slices.Clone(feats)
	cols := featureColumns(st)
	var extra []values
	for _, w := range activityWitnesses {
		if slices.Contains(feats, w.name) {
			continue
		}
		v, ok := witness(st, cols, w.name, rows)
		if !ok {
			continue
		}
		all, extra = append(all, w.name), append(extra, v)
	}
	d := len(feats)
	nf := make([]cluster.NameFeature, len(all))
	fl := make([]cluster.FeatureLabel, len(all))
	for t, f := range all {
		l := labelOf(f)
		nf[t] = cluster.NameFeature{Name: f, High: l[0], Low: l[1], Kind: featureKind(f)}
		fl[t] = cluster.FeatureLabel{Name: f, High: l[0], Low: l[1]}
	}
	col := cluster.NewMatrix(len(rows), 1)
	var ps []cluster.Profile
	for t := range all {
		if t < d {
			if err := raw(t, col.Data); err != nil {
				return nil, err
			}
		} else {
			for i, c := range rows {
				col.Data[i] = extra[t-d](int(c))
			}
		}
		pt, err := cluster.Profiles(col, labels, k, ids, fl[t:t+1])
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		if ps == nil {
			ps = pt
			continue
		}
		for j := range ps {
			ps[j].Means = append(slices.Clip(ps[j].Means), pt[j].Means...)
			ps[j].Z = append(slices.Clip(ps[j].Z), pt[j].Z...)
		}
	}
	names, err := cluster.DescriptiveNames(ps, nf, cluster.NameOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster: name the clusters: %w", err)
	}
	for i := range ps {
		ps[i].Name = names[i]
		ps[i].Means, ps[i].Z = ps[i].Means[:d], ps[i].Z[:d]
	}
	return ps, nil
}

// witness reads an activity witness for every buyer, or reports that the
// run has none (P(alive) without a fitted purchase model) or that some
// buyer lacks it.
func witness(st *Run, cols map[string]values, name string, rows []int32) (values, bool) {
	v, ok := cols[name]
	if !ok {
		if c, found := st.Features.Col(name); found {
			v, ok = c.Value, true
		} else if cv := resultOf[clvScores](st, "clv"); name == "p_alive" && cv != nil && !cv.NoPurchase {
			v, ok = func(c int) float64 {
				if !cv.Scored[c] {
					return math.NaN()
				}
				return cv.PAlive[c]
			}, true
		}
	}
	if !ok {
		return nil, false
	}
	for _, c := range rows {
		if x := v(int(c)); math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false
		}
	}
	return v, true
}
