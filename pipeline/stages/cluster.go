package stages

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"

	"github.com/strata-oss/strata/models/cluster"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/report"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Cluster is the clustering stage: k-means on the configured features of
// the customers who bought, scaled as configured, with k chosen in a range
// or fixed; cluster ids kept stable against the previous run's centroids,
// and each customer's previous id for the migrations.
type Cluster struct{}

func (Cluster) Info() Info { return Info{Name: "cluster", Reads: []string{"clv"}} }

func (Cluster) On(cfg *config.Config) bool { return cfg.Cluster.On() }

func (Cluster) Fit(ctx context.Context, r *Run) (any, error) {
	prev, err := previous(ctx, r)
	if err != nil {
		return nil, err
	}
	early := Cluster{}.Early(r.Config)
	fit, pre, err := fitClusters(ctx, r, featureColumns(r), prev, !early)
	if err != nil {
		return nil, err
	}
	r.keep("cluster.labels", pre)
	if early {
		r.keep("cluster.names", pre)
	}
	return fit, nil
}

// Early: k-means reads the CLV stage's results only when it clusters on
// them; the names read P(alive) (an activity witness), so Finish gives
// them once the CLV stage has run.
func (Cluster) Early(cfg *config.Config) bool {
	if !cfg.CLV.On() {
		return false
	}
	for _, f := range cfg.Cluster.FeatureList() {
		if slices.Contains(CLVFeatures, f.Name) {
			return false
		}
	}
	return true
}

func (Cluster) FinishName() string { return "cluster_names" }

// Finish profiles and names the clusters Fit left unnamed.
func (Cluster) Finish(ctx context.Context, r *Run, model any) error {
	fit, _ := model.(*clusterFit)
	labeled, _ := r.take("cluster.names").(*fittedBuyers)
	if fit == nil || labeled == nil {
		return fmt.Errorf("cluster: no fit to name")
	}
	return nameFit(ctx, r, featureColumns(r), fit, labeled)
}

func (Cluster) Apply(ctx context.Context, r *Run, model any) (any, error) {
	fit, _ := model.(*clusterFit)
	if fit == nil {
		return nil, fmt.Errorf("the fitted model has no clusters, the configuration asks for them")
	}
	prev, err := previous(ctx, r)
	if err != nil {
		return nil, err
	}
	pre, _ := r.take("cluster.labels").(*fittedBuyers)
	res, err := applyClusters(ctx, r, featureColumns(r), fit, pre, prev, r.Out)
	if err != nil {
		return nil, err
	}
	m := fit.Model
	ev := r.Log.Info().Int("k", m.K).Int("customers", m.Customers).Float64("inertia", m.Inertia).
		Int("iterations", m.Iterations).Bool("warm_start", m.WarmStart)
	if m.Previous != nil {
		ev = ev.Str("previous_as_of", m.Previous.AsOf).Ints("new_ids", m.Previous.NewIDs)
	}
	ev.Msg("clustered")
	return res, nil
}

func (Cluster) Decode(data []byte) (any, error) { return decodeAs[clusterFit](data) }

// Inputs is the previous run's model.json, when there is one.
func (Cluster) Inputs(ctx context.Context, _ *config.Config, out objstore.Bucket, asOf string) ([]extract.Input, error) {
	return previousInputs(ctx, out, asOf)
}

// Columns are the cluster's id and name, and the previous run's id.
func (Cluster) Columns(r *Run, result any, _ int32) []tables.OutColumn {
	res, _ := result.(*clusterResult)
	if res == nil {
		res = &clusterResult{}
	}
	n := r.Behaviour.N
	id, prev, name := make([]int32, n), make([]int32, n), make([]int32, n)
	noID, noPrev := make([]bool, n), make([]bool, n)
	// Names as codes, not a string per customer: the column lives
	// through the publish stage's collections (tables.OutColumn). Code 0
	// is "", for customers without a cluster.
	ids, names := res.named()
	dict := append([]string{""}, names...)
	at := newIDIndex(ids)
	for i := range n {
		id[i], noID[i] = res.ID[i], res.ID[i] < 0
		prev[i], noPrev[i] = res.Previous[i], res.Previous[i] < 0
		if k, ok := at.at(res.ID[i]); ok && !noID[i] {
			name[i] = int32(k) + 1
		}
	}
	return []tables.OutColumn{
		{Name: "cluster_id", Type: tables.OutInt32, Optional: true, I32: id, Null: noID},
		{Name: "cluster_name", Type: tables.OutString, Optional: true, Codes: name, Dict: dict, Null: noID},
		{Name: "previous_cluster_id", Type: tables.OutInt32, Optional: true, I32: prev, Null: noPrev},
	}
}

// clusterPart is the clustering's sums: by cluster, and the migrations
// from the previous run's ids; Both and Moved count the customers
// clustered in both runs and those whose id changed.
type clusterPart struct {
	Groups     groupSums   `json:"groups"`
	Migrations []Migration `json:"migrations,omitempty"`
	Both       int64       `json:"both,omitempty"`
	Moved      int64       `json:"moved,omitempty"`
}

func (Cluster) NewPart() Part { return &clusterPart{} }

func (p *clusterPart) Merge(other Part) error {
	o := other.(*clusterPart)
	if err := p.Groups.merge(&o.Groups); err != nil {
		return err
	}
	p.Migrations = mergeMigrations(p.Migrations, o.Migrations)
	p.Both += o.Both
	p.Moved += o.Moved
	return nil
}

func (Cluster) Sum(r *Run, result any) Part {
	cl := result.(*clusterResult)
	catCols, cats := levelsOf(r, "category")
	chanCols, chans := levelsOf(r, "channel")
	ids, names := cl.named()
	at := newIDIndex(ids)
	p := &clusterPart{Groups: *newGroupSums("cluster", names, cats, chans)}
	p.Groups.IDs = ids
	in := groupInputsOf(r, catCols, chanCols)
	for c := 0; c < r.Behaviour.N; c++ {
		if id := cl.ID[c]; id >= 0 {
			k, _ := at.at(id) // the first cluster's, if not one of them
			p.Groups.add(&in, c, k)
		}
		if cl.ID[c] >= 0 && cl.Previous[c] >= 0 {
			p.Both++
			if cl.ID[c] != cl.Previous[c] {
				p.Moved++
			}
		}
	}
	p.Migrations = migrations(cl)
	return p
}

// Describe adds the clusters' summary rows with their profiles, the
// migrations table, model.json's cluster section and the report's
// profiles, migrations and model table.
func (Cluster) Describe(d *Description, model any) {
	fit := model.(*clusterFit)
	p := d.Parts["cluster"].(*clusterPart)
	m := fit.Model
	if m.Previous != nil {
		prev := *m.Previous
		if p.Both > 0 {
			prev.Moved = float64(p.Moved) / float64(p.Both)
		}
		m.Previous = &prev
	}
	d.Cluster = &m
	d.ClusterFeatures = m.Features

	rows := p.Groups.rows(d.Customers, d.Revenue, d.clvOn())
	d.nullCLV(rows)
	profiles := map[int]ClusterProfile{}
	for _, pr := range fit.Model.Profiles {
		profiles[pr.ID] = pr
	}
	for i := range rows {
		id := int(p.Groups.IDs[i])
		rows[i].ClusterID = &id
		pr := profiles[id]
		rows[i].FeatureMeans, rows[i].FeatureZ = pr.Means, pr.Z
	}
	d.Summary = append(d.Summary, rows...)
	d.Tables = append(d.Tables, Table{Name: "segment_migration", Columns: migrationColumns(p.Migrations, fit, d.AsOfDay)})

	rm := &report.Matrix{Title: "Cluster profiles (mean z-score per feature)", RowTitle: "cluster", ColTitle: "feature",
		Cols: fit.Model.Features, Diverging: true, Format: "%+.2f"}
	for _, pr := range fit.Model.Profiles {
		rm.Rows = append(rm.Rows, fmt.Sprintf("%d %s (%d)", pr.ID, pr.Name, pr.Size))
		row := make([]float64, len(rm.Cols))
		for j, f := range rm.Cols {
			row[j] = pr.Z[f]
		}
		rm.Values = append(rm.Values, row)
	}
	d.Report.Profiles = rm
	if fit.Model.Previous != nil {
		d.Report.Migration = migrationMatrix(p.Migrations, fit.PrevNames)
	}
	d.Report.Models = append(d.Report.Models, clusterTable(fit.Model))
}

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
	// Rule is BIC (the default): see cluster.ChooseKBy.
	Rule   string           `json:"rule,omitempty"`
	Reason string           `json:"reason"`
	Scores []cluster.KScore `json:"scores"`
	// BIC[i] is the BIC of Scores[i].K; higher is better.
	BIC []float64 `json:"bic,omitempty"`
	// RuleK is the k the rule chose when the previous run's k was kept
	// instead (see stickyK); 0 otherwise.
	RuleK int `json:"rule_k,omitempty"`
}

// stickyK is the previous run's k when a run should keep it: the previous
// run chose its k (no cluster.k) on the same features and that k is in
// this run's range; 0 otherwise. Why: the BIC's knee moves with a few
// weeks of data (5 to 8 clusters on the 3,000-customer demo), and a new k
// reshuffles the clusters, so that 42 % of the customers changed cluster id
// where 7.5 % do with the k kept. k is chosen again when the features
// or the range change, or the range no longer holds it.
func stickyK(prev *previousRun, features []string, kMin, kMax int) int {
	if prev == nil || prev.cluster == nil || prev.cluster.Choice == nil || !slices.Equal(prev.cluster.Features, features) {
		return 0
	}
	if k := prev.cluster.K; k >= kMin && k <= kMax {
		return k
	}
	return 0
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

// named is the clusters' ids in ascending order and their names: stable
// ids are small but need not be contiguous.
func (r *clusterResult) named() (ids []int32, names []string) {
	ids = slices.Sorted(maps.Keys(r.Names))
	names = make([]string, len(ids))
	for i, id := range ids {
		names[i] = r.Names[id]
	}
	return ids, names
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
func featureColumns(st *Run) map[string]values {
	cols := map[string]values{}
	for _, f := range st.Config.Cluster.FeatureList() {
		if c, ok := st.Features.Col(f.Name); ok {
			cols[f.Name] = c.Value
			continue
		}
		cv := resultOf[clvScores](st, "clv")
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

// CLVFeatures are the CLV outputs a config may cluster on.
var CLVFeatures = []string{"p_alive", "expected_purchases", "clv"}

// CheckClusterFeatures fails, before the models run, when the config
// clusters on a feature the run does not compute. Which one-hot and share
// features exist depends on the data (the levels seen), so this is a
// run-time check.
func CheckClusterFeatures(cfg *config.Config, feat *features.Table) error {
	if !cfg.Cluster.On() {
		return nil
	}
	for i, f := range cfg.Cluster.FeatureList() {
		if _, ok := feat.Col(f.Name); ok || cfg.CLV.On() && slices.Contains(CLVFeatures, f.Name) {
			continue
		}
		known := feat.Names()
		if cfg.CLV.On() {
			known = append(known, CLVFeatures...)
		}
		sort.Strings(known)
		return fmt.Errorf("cluster.features[%d]: unknown feature %q; this run's features are: %v", i, f.Name, known)
	}
	return nil
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
// Row numbers are int32, half an int's bytes: they live through the whole
// stage, beside the matrix.
func buyers(st *Run) []int32 {
	n := 0
	for _, h := range st.Behaviour.HasOrders {
		if h {
			n++
		}
	}
	rows := make([]int32, 0, n)
	for c, h := range st.Behaviour.HasOrders {
		if h {
			rows = append(rows, int32(c))
		}
	}
	return rows
}

// clusterMatrix is the raw feature matrix of the customers rows, with the
// fills applied: learned from these customers (fills nil) or the fitted
// ones.
func clusterMatrix(st *Run, cols map[string]values, rows []int32, fills map[string]float64) (cluster.Matrix, map[string]float64, error) {
	feats := st.Config.Cluster.FeatureList()
	raw := cluster.NewMatrix(len(rows), len(feats))
	used := map[string]float64{}
	for t, f := range feats {
		fill, err := columnInto(raw.Data[t:], raw.D, st, cols[f.Name], rows, t, f, fills)
		if err != nil {
			return raw, nil, err
		}
		if f.Fill != "" {
			used[f.Name] = fill
		}
	}
	return raw, used, nil
}

// columnInto writes the raw values of f, the t-th clustered feature (col),
// of the customers rows into dst, stride apart, filled with fills' value
// or, when fills is nil, one learned from these customers; it returns the
// fill.
func columnInto(dst []float64, stride int, st *Run, col values, rows []int32, t int, f config.ClusterFeature, fills map[string]float64) (fill float64, err error) {
	if f.Fill != "" {
		if fills != nil {
			fill = fills[f.Name]
		} else if fill, err = fillValue(col, rows, f.Fill); err != nil {
			return 0, fmt.Errorf("cluster: feature %s: %w", f.Name, err)
		}
	}
	for i, c := range rows {
		v := col(int(c))
		if math.IsInf(v, 0) {
			return 0, fmt.Errorf("cluster: feature %s is infinite for customer %s", f.Name, st.IDs.At(int(c)))
		}
		if math.IsNaN(v) {
			if f.Fill == "" {
				return 0, fmt.Errorf("cluster: feature %s has no value for customer %s; set cluster.features[%d].fill to zero, mean or median to fill it",
					f.Name, st.IDs.At(int(c)), t)
			}
			v = fill
		}
		dst[i*stride] = v
	}
	return fill, nil
}

// fittedBuyers are the labels a fit gave the customers rows, kept for the
// assignment of the same customers in the same process: the nearest
// fitted centroid of each, which cluster.Assign on the scaled matrix
// would compute again (its kernel is the fit's, so the labels are the
// same). Keeping 4 bytes a buyer instead of the scaled matrix's 8 a
// feature lets the profiles reuse the matrix's memory.
type fittedBuyers struct {
	labels []int32
	rows   []int32
}

// fitClusters fits the scaler and the clusters on the customers of st
// who bought, and matches their ids against the previous run's.
//
// With nameNow false the clusters are left without profiles and names,
// which nameFit gives them later (Cluster.Finish).
func fitClusters(ctx context.Context, st *Run, cols map[string]values, prev *previousRun, nameNow bool) (*clusterFit, *fittedBuyers, error) {
	cfg := st.Config
	cc := cfg.Cluster
	feats := cc.FeatureList()
	names := make([]string, len(feats))
	modes := make([]cluster.Scaling, len(feats))
	for t, f := range feats {
		names[t], modes[t] = f.Name, cluster.Scaling(f.Scale)
	}
	kMin, kMax := cc.Range()
	if cc.K > 0 {
		kMin, kMax = cc.K, cc.K
	}
	rows := buyers(st)
	if len(rows) <= kMax {
		return nil, nil, fmt.Errorf("cluster: %d customers with a purchase, too few for k up to %d", len(rows), kMax)
	}
	// The raw matrix is scaled in place, and the profiles read the raw
	// values a feature at a time once k-means is done: held beside the
	// scaled one it would be another 8 bytes × buyers × features through
	// the whole fit.
	X, fills, err := clusterMatrix(st, cols, rows, nil)
	if err != nil {
		return nil, nil, err
	}
	sc, err := cluster.FitTransformInPlace(X, modes, names)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	kcfg := cluster.Config{
		NInit: cc.Restarts(), MaxIter: cc.Iterations(), Seed: cfg.Seed, Workers: cfg.Workers,
		Algorithm: cluster.Algorithm(cmpOr(cc.Algorithm, string(cluster.Auto))),
	}
	res := &clusterFit{Names: map[int32]string{}, PrevNames: map[int32]string{}}
	var prevSnap cluster.Snapshot
	if prev != nil && prev.cluster != nil {
		prevSnap = prev.cluster.Snapshot
		for _, p := range prev.cluster.Profiles {
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
		// The BIC of a spherical mixture with one variance per cluster,
		// the knee of its curve when it keeps rising to kMax (see
		// cluster.ChooseKBy): the silhouette picked the range's minimum.
		choice, results, err := cluster.ChooseKBy(ctx, X, kMin, kMax, kcfg, cluster.KOptions{Rule: cluster.KByBIC, SilhouetteSample: cc.Sample()})
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: %w", err)
		}
		m.Choice = &KChoice{Rule: choice.Rule.String(), Reason: choice.Reason, Scores: choice.Scores, BIC: choice.BIC}
		k := choice.K
		if pk := stickyK(prev, names, kMin, kMax); pk > 0 && pk != k {
			m.Choice.RuleK, k = k, pk
			m.Choice.Reason = fmt.Sprintf("k=%d, the previous run's, kept so that the cluster ids stay stable; the BIC rule alone: %s", pk, choice.Reason)
		}
		fit = results[k-kMin]
	}
	m.K, m.Algorithm, m.Inertia, m.Iterations, m.Converged = fit.Centroids.N, string(fit.Algorithm), fit.Inertia, fit.Iterations, fit.Converged

	match, err := cluster.StableIDs(prevSnap, fit.Centroids, sc, cc.MaxMatchDistance)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	if m.Snapshot, err = cluster.NewSnapshot(fit.Centroids, match.IDs, sc); err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	res.Centroids, res.IDs = fit.Centroids.Rows(), match.IDs
	labeled := &fittedBuyers{labels: fit.Labels, rows: rows}
	if nameNow {
		if err := nameFit(ctx, st, cols, res, labeled); err != nil {
			return nil, nil, err
		}
	}

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
	return res, labeled, nil
}

// nameFit profiles and names fit's clusters on the buyers labeled, in raw
// feature units, a feature at a time (see nameClusters).
func nameFit(ctx context.Context, st *Run, cols map[string]values, fit *clusterFit, labeled *fittedBuyers) error {
	m := &fit.Model
	fills := m.Fills
	if fills == nil {
		fills = map[string]float64{}
	}
	feats := st.Config.Cluster.FeatureList()
	raw := func(t int, dst []float64) error {
		_, err := columnInto(dst, 1, st, cols[feats[t].Name], labeled.rows, t, feats[t], fills)
		return err
	}
	profiles, err := nameClusters(ctx, st, raw, labeled.rows, labeled.labels, m.K, fit.IDs, m.Features)
	if err != nil {
		return err
	}
	for _, p := range profiles {
		cp := ClusterProfile{ID: p.ID, Name: p.Name, Size: p.Size, Share: p.Share, Means: map[string]float64{}, Z: map[string]float64{}}
		for t, f := range m.Features {
			cp.Means[f], cp.Z[f] = p.Means[t], p.Z[t]
		}
		m.Profiles = append(m.Profiles, cp)
		fit.Names[int32(p.ID)] = p.Name
	}
	sort.Slice(m.Profiles, func(i, j int) bool { return m.Profiles[i].ID < m.Profiles[j].ID })
	return nil
}

// applyClusters assigns every customer of st who bought to the nearest
// fitted centroid (in the fit's scaled units, with its fills), and reads
// their previous run's ids for the migrations.
//
// pre is the labels of a fit on these same customers, or nil.
func applyClusters(ctx context.Context, st *Run, cols map[string]values, fit *clusterFit, pre *fittedBuyers, prev *previousRun, out objstore.Bucket) (*clusterResult, error) {
	n := st.Behaviour.N
	res := &clusterResult{ID: make([]int32, n), Previous: make([]int32, n), Names: fit.Names}
	for i := range res.ID {
		res.ID[i], res.Previous[i] = -1, -1
	}
	fills := fit.Model.Fills
	if fills == nil {
		fills = map[string]float64{}
	}
	if pre == nil {
		var err error
		if pre, err = assignBuyers(ctx, st, cols, fit, fills); err != nil {
			return nil, err
		}
	}
	for i, c := range pre.rows {
		res.ID[c] = int32(fit.IDs[pre.labels[i]])
	}
	if prev != nil {
		if err := previousLabels(ctx, out, prev.manifest, st.IDs, res.Previous); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// assignBuyers gives the customers of st who bought the nearest of fit's
// centroids, in its scaled units and with its fills.
func assignBuyers(ctx context.Context, st *Run, cols map[string]values, fit *clusterFit, fills map[string]float64) (*fittedBuyers, error) {
	rows := buyers(st)
	if len(rows) == 0 {
		return &fittedBuyers{}, nil
	}
	X, _, err := clusterMatrix(st, cols, rows, fills)
	if err != nil {
		return nil, err
	}
	if err := fit.Model.Scaler.TransformInPlace(X); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	C, err := cluster.MatrixFromRows(fit.Centroids)
	if err != nil {
		return nil, fmt.Errorf("cluster: fitted centroids: %w", err)
	}
	labels, _, err := cluster.Assign(ctx, X, C, st.Config.Workers)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return &fittedBuyers{labels: labels, rows: rows}, nil
}

// Migration is one (from, to) cell of the segment migration matrix; -1
// stands for "no cluster" (a customer new to the run, or without a
// purchase).
type Migration struct {
	From, To  int32
	Customers int64
}

// migrations counts the customers of this run by (previous id, id).
func migrations(r *clusterResult) []Migration { return countPairs(r.Previous, r.ID) }

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// fillValue is the value a missing entry of col gets among rows, by the
// rule fill; NaN when fill is empty. Mean and median are over the rows
// that have a value, in row order, so they do not depend on the workers.
func fillValue(col values, rows []int32, fill string) (float64, error) {
	if fill == "" {
		return math.NaN(), nil
	}
	if fill == "zero" {
		return 0, nil
	}
	vals := make([]float64, 0, len(rows))
	for _, c := range rows {
		if v := col(int(c)); !math.IsNaN(v) && !math.IsInf(v, 0) {
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

func migrationColumns(ms []Migration, r *clusterFit, asOfDay int32) []tables.OutColumn {
	n := len(ms)
	from := tables.OutColumn{Name: "from_cluster_id", Type: tables.OutInt32, Optional: true, I32: make([]int32, n), Null: make([]bool, n)}
	fromName := tables.OutColumn{Name: "from_cluster_name", Type: tables.OutString, Optional: true, Str: make([]string, n), Null: make([]bool, n)}
	to := tables.OutColumn{Name: "to_cluster_id", Type: tables.OutInt32, Optional: true, I32: make([]int32, n), Null: make([]bool, n)}
	toName := tables.OutColumn{Name: "to_cluster_name", Type: tables.OutString, Optional: true, Str: make([]string, n), Null: make([]bool, n)}
	count := tables.OutColumn{Name: "customers", Type: tables.OutInt64, I64: make([]int64, n)}
	for i, m := range ms {
		if m.From < 0 {
			from.Null[i], fromName.Null[i] = true, true
		} else {
			from.I32[i] = m.From
			name, ok := r.PrevNames[m.From]
			fromName.Str[i], fromName.Null[i] = name, !ok
		}
		if m.To < 0 {
			to.Null[i], toName.Null[i] = true, true
		} else {
			to.I32[i], toName.Str[i] = m.To, r.Names[m.To]
		}
		count.I64[i] = m.Customers
	}
	return []tables.OutColumn{
		{Name: "as_of", Type: tables.OutDate, I32: tables.Repeat(asOfDay, n)},
		from, fromName, to, toName, count,
	}
}
