package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/strata-oss/strata/models/cluster"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/tables"
)

// ClusterModel is model.json's record of the clustering: enough to
// understand the segments and for the next run to keep their ids.
type ClusterModel struct {
	Features []string `json:"features"`
	// Fills are the values given to buyers without one, by feature (for
	// the features whose config sets fill).
	Fills     map[string]float64 `json:"fills,omitempty"`
	Scaler    *cluster.Scaler    `json:"scaler"`
	K         int                `json:"k"`
	Choice    *KChoice           `json:"k_choice,omitempty"`
	Algorithm string             `json:"algorithm"`
	NInit     int                `json:"n_init"`
	Inertia   float64            `json:"inertia"`
	// Iterations and Converged describe the winning restart.
	Iterations int  `json:"iterations"`
	Converged  bool `json:"converged"`
	WarmStart  bool `json:"warm_start"`
	// Customers is the number clustered: those with a purchase.
	Customers int              `json:"customers"`
	Profiles  []ClusterProfile `json:"profiles"`
	// Snapshot holds the centroids in raw feature units under their stable
	// ids; the next run matches its clusters against it.
	Snapshot cluster.Snapshot `json:"snapshot"`
	Previous *PreviousRun     `json:"previous,omitempty"`
}

// KChoice records how k was chosen.
type KChoice struct {
	Reason string           `json:"reason"`
	Scores []cluster.KScore `json:"scores"`
}

// ClusterProfile describes one cluster in raw feature units.
type ClusterProfile struct {
	ID    int                `json:"id"`
	Name  string             `json:"name"`
	Size  int                `json:"size"`
	Share float64            `json:"share"`
	Means map[string]float64 `json:"means"`
	Z     map[string]float64 `json:"z"`
}

// PreviousRun says which run the cluster ids were matched against.
type PreviousRun struct {
	AsOf    string `json:"as_of"`
	Attempt string `json:"attempt"`
	// MatchedIDs are the ids kept from the previous run; NewIDs were
	// created by this one.
	MatchedIDs []int `json:"matched_ids"`
	NewIDs     []int `json:"new_ids"`
	// Distance from each kept cluster's centroid to its previous one, in
	// this run's scaled units, by id.
	Distances map[string]float64 `json:"distances"`
	// Moved is the share of customers clustered in both runs whose id
	// changed.
	Moved float64 `json:"moved"`
}

// clusterResult holds the per-customer clustering outputs; ID[c] < 0 where
// the columns are null (customers without a purchase). The model and the
// previous run's names are the fit's (clusterFit).
type clusterResult struct {
	ID       []int32
	Previous []int32 // the customer's id in the previous run, -1 if none
	Names    map[int32]string
}

// featureLabels name the ends of the features a profile can mention.
var featureLabels = map[string][2]string{
	"recency_days":       {"lapsed", "recent"},
	"frequency":          {"frequent", "infrequent"},
	"purchase_days":      {"frequent", "infrequent"},
	"monetary_value":     {"high spend", "low spend"},
	"avg_order_value":    {"big baskets", "small baskets"},
	"max_order_value":    {"big top order", "small top order"},
	"tenure_days":        {"long-standing", "new"},
	"p_alive":            {"likely active", "likely churned"},
	"expected_purchases": {"buying ahead", "few purchases ahead"},
	"clv":                {"high value", "low value"},
	"gap_mean_days":      {"long gaps", "short gaps"},
	"gap_std_days":       {"irregular", "regular"},
	"refund_rate":        {"many refunds", "few refunds"},
	"age_years":          {"older", "younger"},
	"income":             {"high income", "low income"},
}

// labelOf names the ends of feature name: from featureLabels, or for the
// window features from their window ("recent spend (90d)").
func labelOf(name string) [2]string {
	if l, ok := featureLabels[name]; ok {
		return l
	}
	var w int
	for _, p := range []struct{ prefix, high, low string }{
		{"spend_%dd", "high spend (%dd)", "low spend (%dd)"},
		{"orders_%dd", "many orders (%dd)", "few orders (%dd)"},
	} {
		if _, err := fmt.Sscanf(name, p.prefix, &w); err == nil && fmt.Sprintf(p.prefix, w) == name {
			return [2]string{fmt.Sprintf(p.high, w), fmt.Sprintf(p.low, w)}
		}
	}
	return [2]string{}
}

// values reads one per-customer feature as a float64, NaN for a customer
// without a value.
type values func(c int) float64

// featureColumns returns the per-customer features the config clusters
// on, by name: any column of the feature table (the RFM family included:
// Behaviour's slices are the table's columns) or a CLV output, read where
// they are: a float64 copy of each would cost 8 bytes × customers ×
// features, in the stage that also holds the matrix.
func featureColumns(st *state) map[string]values {
	cols := map[string]values{}
	for _, f := range st.cfg.Cluster.FeatureList() {
		if c, ok := st.feat.Col(f.Name); ok {
			cols[f.Name] = c.Value
			continue
		}
		cv := st.clv
		if cv == nil {
			continue
		}
		var v []float64
		switch f.Name {
		case "p_alive":
			v = cv.PAlive
		case "expected_purchases":
			v = cv.ExpectedPurchases
		case "clv":
			v = cv.CLV
		default:
			continue
		}
		unfit := cv.NoPurchase || (f.Name == "clv" && cv.NoSpend)
		cols[f.Name] = func(c int) float64 {
			if !cv.Scored[c] || unfit {
				return math.NaN()
			}
			return v[c]
		}
	}
	return cols
}

// clvFeatures are the CLV outputs a config may cluster on.
var clvFeatures = []string{"p_alive", "expected_purchases", "clv"}

// checkClusterFeatures fails, before the models run, when the config
// clusters on a feature the run does not compute. Which one-hot and share
// features exist depends on the data (the levels seen), so this is a
// run-time check.
func checkClusterFeatures(cfg *config.Config, feat *features.Table) error {
	if !cfg.Cluster.On() {
		return nil
	}
	for i, f := range cfg.Cluster.FeatureList() {
		if _, ok := feat.Col(f.Name); ok || cfg.CLV.On() && slices.Contains(clvFeatures, f.Name) {
			continue
		}
		known := feat.Names()
		if cfg.CLV.On() {
			known = append(known, clvFeatures...)
		}
		sort.Strings(known)
		return fmt.Errorf("cluster.features[%d]: unknown feature %q; this run's features are: %v", i, f.Name, known)
	}
	return nil
}

// previousRun is what a run needs of the last run published before it.
type previousRun struct {
	manifest *publish.Manifest
	model    *Model
	modelKey string
	attrs    objstore.Attrs
}

// loadPrevious reads the manifest and model.json of the latest run
// published before asOf, or returns nil when there is none.
func loadPrevious(ctx context.Context, out objstore.Bucket, asOf string) (*previousRun, error) {
	m, err := publish.Previous(ctx, out, asOf)
	if err != nil || m == nil {
		return nil, err
	}
	model, key, err := ReadModel(ctx, out, m)
	if err != nil {
		return nil, fmt.Errorf("previous run: %w", err)
	}
	attrs, err := out.Attributes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("previous run's model %s: %w", key, err)
	}
	return &previousRun{manifest: m, model: model, modelKey: key, attrs: attrs}, nil
}

// ReadModel reads the model.json a committed manifest names, returning it
// with its key.
func ReadModel(ctx context.Context, b objstore.Bucket, m *publish.Manifest) (*Model, string, error) {
	key, ok := m.Objects["model"]
	if !ok {
		key = publish.PartitionPrefix("models", m.AsOf) + "model.json"
	}
	data, err := objstore.ReadAll(ctx, b, key)
	if err != nil {
		return nil, key, fmt.Errorf("read model %s: %w", key, err)
	}
	var model Model
	if err := json.Unmarshal(data, &model); err != nil {
		return nil, key, fmt.Errorf("decode model %s: %w", key, err)
	}
	return &model, key, nil
}

// input fingerprints the previous run as an input of this one: its cluster
// ids and labels shape this run's.
func (p *previousRun) input() extract.Input {
	return extract.Input{Table: "previous_model", Key: p.modelKey, Size: p.attrs.Size, ETag: p.attrs.ETag}
}

// fitClusters clusters the customers who bought on the configured features
// and gives the clusters the ids of the previous run's closest clusters.
// clusterFit is the fitted clustering: the model.json record, the
// centroids in scaled units (what customers are assigned to) with their
// stable ids, and the names.
type clusterFit struct {
	Model     ClusterModel     `json:"model"`
	Centroids [][]float64      `json:"centroids"` // scaled, by centroid index
	IDs       []int            `json:"ids"`       // stable id of each centroid
	Names     map[int32]string `json:"names"`
	PrevNames map[int32]string `json:"previous_names,omitempty"`
}

// buyers are the rows of st's customers who bought: the ones clustered.
func buyers(st *state) []int {
	n := 0
	for _, h := range st.beh.HasOrders {
		if h {
			n++
		}
	}
	rows := make([]int, 0, n)
	for c, h := range st.beh.HasOrders {
		if h {
			rows = append(rows, c)
		}
	}
	return rows
}

// clusterMatrix is the raw feature matrix of the customers rows, with the
// fills applied: learned from these customers (fills nil) or the fitted
// ones.
func clusterMatrix(st *state, cols map[string]values, rows []int, fills map[string]float64) (raw cluster.Matrix, used map[string]float64, err error) {
	feats := st.cfg.Cluster.FeatureList()
	raw = cluster.NewMatrix(len(rows), len(feats))
	used = map[string]float64{}
	for t, f := range feats {
		col := cols[f.Name]
		var fill float64
		if f.Fill != "" {
			if fills != nil {
				fill = fills[f.Name]
			} else if fill, err = fillValue(col, rows, f.Fill); err != nil {
				return raw, nil, fmt.Errorf("cluster: feature %s: %w", f.Name, err)
			}
			used[f.Name] = fill
		}
		for i, c := range rows {
			v := col(c)
			if math.IsInf(v, 0) {
				return raw, nil, fmt.Errorf("cluster: feature %s is infinite for customer %s", f.Name, st.ids[c])
			}
			if math.IsNaN(v) {
				if f.Fill == "" {
					return raw, nil, fmt.Errorf("cluster: feature %s has no value for customer %s; set cluster.features[%d].fill to zero, mean or median to fill it",
						f.Name, st.ids[c], t)
				}
				v = fill
			}
			raw.Data[i*len(feats)+t] = v
		}
	}
	return raw, used, nil
}

// scaledBuyers is the scaled matrix a fit clustered, kept for the
// assignment of the same customers in the same process, which would
// otherwise build it again.
type scaledBuyers struct {
	X    cluster.Matrix
	rows []int
}

// fitClusters fits the scaler and the clusters on the customers of st
// who bought, and matches their ids against the previous run's.
func fitClusters(ctx context.Context, st *state, cols map[string]values, prev *previousRun) (*clusterFit, *scaledBuyers, error) {
	cfg := st.cfg
	cc := cfg.Cluster
	feats := cc.FeatureList()
	names := make([]string, len(feats))
	modes := make([]cluster.Scaling, len(feats))
	labels := make([]cluster.FeatureLabel, len(feats))
	for t, f := range feats {
		names[t], modes[t] = f.Name, cluster.Scaling(f.Scale)
		l := labelOf(f.Name)
		labels[t] = cluster.FeatureLabel{Name: f.Name, High: l[0], Low: l[1]}
	}
	kMin, kMax := cc.Range()
	if cc.K > 0 {
		kMin, kMax = cc.K, cc.K
	}
	rows := buyers(st)
	if len(rows) <= kMax {
		return nil, nil, fmt.Errorf("cluster: %d customers with a purchase, too few for k up to %d", len(rows), kMax)
	}
	// The raw matrix is scaled in place, and built again for the profiles
	// once k-means is done: held beside the scaled one it would be another
	// 8 bytes × buyers × features through the whole fit.
	X, fills, err := clusterMatrix(st, cols, rows, nil)
	if err != nil {
		return nil, nil, err
	}
	sc, err := cluster.FitScaler(X, modes, names)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	if err := sc.TransformInPlace(X); err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	kcfg := cluster.Config{
		NInit: cc.Restarts(), MaxIter: cc.Iterations(), Seed: cfg.Seed, Workers: cfg.Workers,
		Algorithm: cluster.Algorithm(cmpOr(cc.Algorithm, string(cluster.Auto))),
	}
	res := &clusterFit{Names: map[int32]string{}, PrevNames: map[int32]string{}}
	var prevSnap cluster.Snapshot
	if prev != nil && prev.model.Cluster != nil {
		prevSnap = prev.model.Cluster.Snapshot
		for _, p := range prev.model.Cluster.Profiles {
			res.PrevNames[int32(p.ID)] = p.Name
		}
	}
	m := &res.Model
	m.Features, m.Scaler, m.NInit, m.Customers = names, sc, kcfg.NInit, X.N
	if len(fills) > 0 {
		m.Fills = fills
	}
	if cc.WarmStart && len(prevSnap.IDs) > 0 {
		if init, err := prevSnap.WarmStart(sc); err == nil {
			kcfg.Init, m.WarmStart = init, true
		}
	}
	var fit cluster.Result
	if cc.K > 0 {
		kcfg.K = cc.K
		if len(kcfg.Init) > cc.K {
			kcfg.Init, m.WarmStart = nil, false
		}
		if fit, err = cluster.KMeans(ctx, X, kcfg); err != nil {
			return nil, nil, fmt.Errorf("cluster: %w", err)
		}
	} else {
		choice, results, err := cluster.ChooseK(ctx, X, kMin, kMax, kcfg, cc.Sample())
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: %w", err)
		}
		m.Choice = &KChoice{Reason: choice.Reason, Scores: choice.Scores}
		fit = results[choice.K-kMin]
	}
	m.K, m.Algorithm, m.Inertia, m.Iterations, m.Converged = fit.Centroids.N, string(fit.Algorithm), fit.Inertia, fit.Iterations, fit.Converged

	match, err := cluster.StableIDs(prevSnap, fit.Centroids, sc, cc.MaxMatchDistance)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	if m.Snapshot, err = cluster.NewSnapshot(fit.Centroids, match.IDs, sc); err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	raw, _, err := clusterMatrix(st, cols, rows, fills)
	if err != nil {
		return nil, nil, err
	}
	profiles, err := cluster.Profiles(raw, fit.Labels, m.K, match.IDs, labels)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	for _, p := range profiles {
		cp := ClusterProfile{ID: p.ID, Name: p.Name, Size: p.Size, Share: p.Share, Means: map[string]float64{}, Z: map[string]float64{}}
		for t, f := range names {
			cp.Means[f], cp.Z[f] = p.Means[t], p.Z[t]
		}
		m.Profiles = append(m.Profiles, cp)
		res.Names[int32(p.ID)] = p.Name
	}
	sort.Slice(m.Profiles, func(i, j int) bool { return m.Profiles[i].ID < m.Profiles[j].ID })
	res.Centroids, res.IDs = fit.Centroids.Rows(), match.IDs

	if prev != nil {
		pr := &PreviousRun{AsOf: prev.manifest.AsOf, Attempt: prev.manifest.Attempt, Distances: map[string]float64{}}
		for j, id := range match.IDs {
			if match.Prev[j] >= 0 {
				pr.MatchedIDs = append(pr.MatchedIDs, id)
				pr.Distances[fmt.Sprint(id)] = match.Dist[j]
			} else {
				pr.NewIDs = append(pr.NewIDs, id)
			}
		}
		sort.Ints(pr.MatchedIDs)
		sort.Ints(pr.NewIDs)
		m.Previous = pr
	}
	return res, &scaledBuyers{X: X, rows: rows}, nil
}

// applyClusters assigns every customer of st who bought to the nearest
// fitted centroid (in the fit's scaled units, with its fills), and reads
// their previous run's ids for the migrations.
//
// pre is the scaled matrix of a fit on these same customers, or nil.
func applyClusters(ctx context.Context, st *state, cols map[string]values, fit *clusterFit, pre *scaledBuyers, prev *previousRun, out objstore.Bucket) (*clusterResult, error) {
	n := st.beh.N
	res := &clusterResult{ID: make([]int32, n), Previous: make([]int32, n), Names: fit.Names}
	for i := range res.ID {
		res.ID[i], res.Previous[i] = -1, -1
	}
	fills := fit.Model.Fills
	if fills == nil {
		fills = map[string]float64{}
	}
	if pre == nil {
		rows := buyers(st)
		X, _, err := clusterMatrix(st, cols, rows, fills)
		if err != nil {
			return nil, err
		}
		if err := fit.Model.Scaler.TransformInPlace(X); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		pre = &scaledBuyers{X: X, rows: rows}
	}
	if rows := pre.rows; len(rows) > 0 {
		X := pre.X
		C, err := cluster.MatrixFromRows(fit.Centroids)
		if err != nil {
			return nil, fmt.Errorf("cluster: fitted centroids: %w", err)
		}
		labels, _, err := cluster.Assign(ctx, X, C, st.cfg.Workers)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		for i, c := range rows {
			res.ID[c] = int32(fit.IDs[labels[i]])
		}
	}
	if prev != nil {
		if err := previousLabels(ctx, out, prev.manifest, st.ids, res.Previous); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// previousLabels fills prevID[c] with customer ids[c]'s cluster id in the
// previous run's segments table (left at -1 when absent or null). ids are
// the ids as published, so pseudonyms match pseudonyms made with the same
// key. The previous ids are sorted (they usually are already), and looked
// up by a merge when ids are in the same order, by binary search when not
// (numeric ids are in numeric order, pseudonyms in none): no map of every
// customer either way.
func previousLabels(ctx context.Context, out objstore.Bucket, m *publish.Manifest, ids []string, prevID []int32) error {
	src := tables.Source{Bucket: out, Format: "parquet", Fields: []tables.Field{
		{Name: "customer_id", Kind: tables.String, Required: true},
		{Name: "cluster_id", Kind: tables.Int},
	}}
	var pids []string
	var pcl []int32
	for _, key := range m.Tables["segments"].Keys {
		err := src.ScanObject(ctx, key, func(b *tables.Batch) error {
			id, cl := &b.Cols[0], &b.Cols[1]
			for i := 0; i < b.N; i++ {
				if id.IsNull(i) || cl.IsNull(i) {
					continue
				}
				pids = append(pids, id.Str[i])
				pcl = append(pcl, int32(cl.I[i]))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read previous run's labels: %w", err)
		}
	}
	if !sort.StringsAreSorted(pids) {
		idx := make([]int, len(pids))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return pids[idx[a]] < pids[idx[b]] })
		sp, sc := make([]string, len(pids)), make([]int32, len(pids))
		for i, j := range idx {
			sp[i], sc[i] = pids[j], pcl[j]
		}
		pids, pcl = sp, sc
	}
	if !sort.StringsAreSorted(ids) {
		for c, id := range ids {
			if j := sort.SearchStrings(pids, id); j < len(pids) && pids[j] == id {
				prevID[c] = pcl[j]
			}
		}
		return nil
	}
	j := 0
	for c, id := range ids {
		for j < len(pids) && pids[j] < id {
			j++
		}
		if j < len(pids) && pids[j] == id {
			prevID[c] = pcl[j]
		}
	}
	return nil
}

// Migration is one (from, to) cell of the segment migration matrix; -1
// stands for "no cluster" (a customer new to the run, or without a
// purchase).
type Migration struct {
	From, To  int32
	Customers int64
}

// migrations counts the customers of this run by (previous id, id).
func migrations(r *clusterResult) []Migration {
	counts := map[[2]int32]int64{}
	for c := range r.ID {
		counts[[2]int32{r.Previous[c], r.ID[c]}]++
	}
	out := make([]Migration, 0, len(counts))
	for k, v := range counts {
		out = append(out, Migration{From: k[0], To: k[1], Customers: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// fillValue is the value a missing entry of col gets among rows, by the
// rule fill; NaN when fill is empty. Mean and median are over the rows
// that have a value, in row order, so they do not depend on the workers.
func fillValue(col values, rows []int, fill string) (float64, error) {
	if fill == "" {
		return math.NaN(), nil
	}
	if fill == "zero" {
		return 0, nil
	}
	vals := make([]float64, 0, len(rows))
	for _, c := range rows {
		if v := col(c); !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return 0, fmt.Errorf("no buyer has a value to take the %s of", fill)
	}
	switch fill {
	case "mean":
		var s float64
		for _, v := range vals {
			s += v
		}
		return s / float64(len(vals)), nil
	case "median":
		sort.Float64s(vals)
		m := len(vals) / 2
		if len(vals)%2 == 1 {
			return vals[m], nil
		}
		return (vals[m-1] + vals[m]) / 2, nil
	}
	return 0, fmt.Errorf("unknown fill %q", fill)
}
