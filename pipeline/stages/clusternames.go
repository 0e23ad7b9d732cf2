package stages

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

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
// features are profiled a column at a time (8 bytes a buyer) and give the
// bits a matrix of them all would (cluster.TestProfilesByColumn): the
// matrix would be 8 bytes a buyer a feature, at the peak of a stage that
// holds the CLV columns. Up to st.Config.Workers features are profiled at
// once, each in a column of its own (a column a worker): a feature's sums
// are still one goroutine's, in row order, so the bits are those of one
// worker.
func nameClusters(ctx context.Context, st *Run, raw func(t int, dst []float64) error, rows []int32, labels []int32, k int, ids []int, feats []string) ([]cluster.Profile, error) {
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
	column := func(t int, dst []float64) error {
		if t < d {
			return raw(t, dst)
		}
		for i, c := range rows {
			dst[i] = extra[t-d](int(c))
		}
		return nil
	}
	byFeature, err := profileFeatures(ctx, st.Config.Workers, len(rows), fl, column, func(col cluster.Matrix, fl []cluster.FeatureLabel) ([]cluster.Profile, error) {
		return cluster.Profiles(col, labels, k, ids, fl)
	})
	if err != nil {
		return nil, err
	}
	ps := joinProfiles(byFeature)
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

// profileFeatures profiles each of the features fl, one column of n rows
// at a time (column writes the t-th), up to workers at once: the result's
// t-th entry is profile's profiles of feature t alone. Each goroutine
// reuses one column, so the memory is a column a worker, not a feature.
// A failing feature does not stop the others, so that the error returned
// is the first feature's to fail, as one worker would return, whatever
// the timing.
func profileFeatures(ctx context.Context, workers, n int, fl []cluster.FeatureLabel, column func(t int, dst []float64) error,
	profile func(cluster.Matrix, []cluster.FeatureLabel) ([]cluster.Profile, error)) ([][]cluster.Profile, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([][]cluster.Profile, len(fl))
	errs := make([]error, len(fl))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(fl)) {
		wg.Go(func() {
			col := cluster.NewMatrix(n, 1)
			for t := int(next.Add(1)) - 1; t < len(fl); t = int(next.Add(1)) - 1 {
				out[t], errs[t] = profileFeature(ctx, col, t, fl, column, profile)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// profileFeature writes feature t into col and profiles it.
func profileFeature(ctx context.Context, col cluster.Matrix, t int, fl []cluster.FeatureLabel, column func(t int, dst []float64) error,
	profile func(cluster.Matrix, []cluster.FeatureLabel) ([]cluster.Profile, error)) ([]cluster.Profile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := column(t, col.Data); err != nil {
		return nil, err
	}
	pt, err := profile(col, fl[t:t+1])
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return pt, nil
}

// joinProfiles joins each feature's profiles (byFeature[t][j], for
// cluster j) into one profile a cluster with the features' means and z
// in feature order.
func joinProfiles(byFeature [][]cluster.Profile) []cluster.Profile {
	var ps []cluster.Profile
	for _, pt := range byFeature {
		if ps == nil {
			ps = pt
			continue
		}
		for j := range ps {
			ps[j].Means = append(slices.Clip(ps[j].Means), pt[j].Means...)
			ps[j].Z = append(slices.Clip(ps[j].Z), pt[j].Z...)
		}
	}
	return ps
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
