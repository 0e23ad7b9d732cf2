package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/strata-oss/strata/internal/memlimit"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Model is the content of model.json: everything needed to understand and
// reproduce a run's outputs. It holds no wall-clock time, so it is as
// reproducible as the tables.
type Model struct {
	StrataVersion string              `json:"strata_version"`
	AsOf          string              `json:"as_of"`
	Attempt       string              `json:"attempt"`
	ConfigHash    string              `json:"config_hash"`
	Seed          uint64              `json:"seed"`
	Timezone      string              `json:"timezone"`
	Inputs        []extract.Input     `json:"inputs"`
	Counts        map[string]int64    `json:"counts"`
	Quality       extract.Quality     `json:"quality"`
	RFM           RFMModel            `json:"rfm"`
	Tables        map[string][]string `json:"tables"`
	Segments      []SummaryRow        `json:"segments"`
	CLV           *CLVModel           `json:"clv,omitempty"`
	Cluster       *ClusterModel       `json:"cluster,omitempty"`
	Audiences     []AudienceResult    `json:"audiences,omitempty"`
	// Recommendations records how the category offers were made.
	Recommendations *RecommendModel `json:"recommendations,omitempty"`
	// Features is the catalogue of the run's features (what each column
	// of the features table is, where it comes from, when it is null):
	// the names cluster.features may use.
	Features []features.Feature `json:"features"`
	// Report is the key of the run's HTML report.
	Report string `json:"report"`
	// Privacy says what the run withheld: suppressed customers,
	// pseudonymised ids, personal features.
	Privacy *PrivacyModel `json:"privacy"`
	// Fit says what the models were fitted on: every customer, or a
	// sample of them.
	Fit *FitRecord `json:"fit,omitempty"`
	// GuestShare is the guest orders' share of the revenue, net of
	// returns (quality.guest_revenue against the customers' revenue);
	// absent without guest orders.
	GuestShare float64 `json:"guest_share,omitempty"`
}

// RFMModel records how RFM scores were made.
type RFMModel struct {
	Rule string `json:"rule"`
	// Note says what is missing: without amounts, the M score.
	Note string `json:"note,omitempty"`
	// Breaks[feature][s] is the first value that scored s+1.
	Breaks map[string][5]float64 `json:"breaks"`
	Grid   []GridRule            `json:"grid"`
}

// GridRule is one named-segment rule.
type GridRule struct {
	Name string `json:"name"`
	R    [2]int `json:"r"`
	F    [2]int `json:"f"`
}

const quintileRule = "score = 1 + floor(5 * (customers with a strictly worse value) / scored customers); ties share the lower score; recency is reversed; only customers with a purchase are scored"

// state is what the stages of one run have produced so far.
type state struct {
	cfg     *config.Config
	opt     Options
	ds      *extract.Dataset
	ids     []string // the customer ids as published: ds.IDs or their pseudonyms
	beh     *features.Behaviour
	feat    *features.Table // every feature, for the models that choose theirs by name
	rfm     *rfmScores
	clv     *clvScores       // nil when CLV is off
	cluster *clusterResult   // nil when clustering is off
	recs    *recommendations // nil when none are made
	prev    *previousRun     // nil when nothing was published before
}

// orders is the number of accepted orders of the run.
func (st *state) orders() int64 { return int64(st.ds.Orders) }

// customerPart is what writing one part of the per-customer tables
// found, for the tables made of all parts (summary, migration, report,
// model.json): a shard's record, merged by the finishing step.
type customerPart struct {
	Agg        *aggregates     `json:"aggregates"`
	Segments   []string        `json:"segment_columns"`
	Features   []string        `json:"feature_columns,omitempty"`
	Withheld   []string        `json:"withheld,omitempty"`
	Inputs     []extract.Input `json:"inputs"`
	Timezone   string          `json:"timezone"`
	AsOfDay    int32           `json:"as_of_day"`
	ConfigHash string          `json:"config_hash"`
}

func tableMeta(cfg *config.Config, opt Options) map[string]string {
	return map[string]string{
		"strata.version":     opt.Version,
		"strata.as_of":       opt.AsOf.Format(DateLayout),
		"strata.config_hash": cfg.Hash(),
		"strata.money":       "DOUBLE, in the input's currency units",
	}
}

// writeCustomerTables writes part `part` of the tables with a row per
// customer (segments, audiences, recommendations, features) or per bad
// row (quarantine), and adds up the part's aggregates.
func writeCustomerTables(ctx context.Context, pub *publish.Publisher, st *state, part int) (*customerPart, error) {
	// What this allocates (the tables' columns, the writer's buffers) is
	// live until the tables are written.
	defer memlimit.Raise(100)()
	cfg, opt, ds := st.cfg, st.opt, st.ds
	meta := tableMeta(cfg, opt)
	asOfDay := int32(features.DayNumber(ds.AsOf.UnixMicro(), ds.Location))
	cp := &customerPart{Timezone: ds.Location.String(), AsOfDay: asOfDay, ConfigHash: cfg.Hash()}
	// The group sums only read st, like the writer: added up while the
	// segments table is written, they take the processor time its workers
	// leave (at 1M customers they are ~70 ms; the writer keeps 2 cores
	// ~90% busy).
	agg := make(chan *aggregates, 1)
	go func() { agg <- aggregate(st) }()
	segs := segmentColumns(st, asOfDay)
	audCols := append(slices.Clip(segs), ownColumns(st)...)
	cp.Segments = columnNames(segs)
	auds, err := compileAudiences(cfg, audCols)
	if err != nil {
		return nil, err
	}
	if err := writeTable(ctx, pub, writeOptions(cfg), part, "segments", segs, meta); err != nil {
		return nil, err
	}
	cp.Agg = <-agg
	if cp.Agg.Audiences, err = writeAudiences(ctx, pub, writeOptions(cfg), part, auds, audCols, meta); err != nil {
		return nil, err
	}
	if err := writeTable(ctx, pub, writeOptions(cfg), part, "quarantine", quarantineColumns(&ds.Quarantine, asOfDay), meta); err != nil {
		return nil, err
	}
	if st.recs != nil {
		if err := writeTable(ctx, pub, writeOptions(cfg), part, "recommendations", st.recs.columns(st, asOfDay), meta); err != nil {
			return nil, err
		}
	}
	if st.feat != nil && cfg.Features.Publish {
		var keep []int
		keep, cp.Withheld = publishable(cfg, st.feat)
		featCols := featureTableColumns(st.ids, st.feat, keep, asOfDay)
		cp.Features = columnNames(featCols)
		if err := writeTable(ctx, pub, writeOptions(cfg), part, "features", featCols, meta); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// segmentValues are, by RFM segment, the CLV and P(alive) of its scored
// customers, from which the report's spreads are taken.
type segmentValues map[string]*[2][]float64

// segmentSpreads are, by RFM segment, the 10/25/50/75/90th percentiles of
// its scored customers' CLV and P(alive) (nil without any).
type segmentSpreads map[string][2]*[5]float64

// spreads takes the percentiles of v, reordering its values.
func (v segmentValues) spreads() segmentSpreads {
	s := segmentSpreads{}
	for seg, x := range v {
		s[seg] = [2]*[5]float64{quantiles5(x[0]), quantiles5(x[1])}
	}
	return s
}

func (v segmentValues) add(segment string, clv, pAlive float64) {
	x := v[segment]
	if x == nil {
		x = &[2][]float64{}
		v[segment] = x
	}
	x[0], x[1] = append(x[0], clv), append(x[1], pAlive)
}

func valuesOf(st *state) segmentValues {
	v := segmentValues{}
	c, s := st.clv, st.rfm
	if c == nil {
		return v
	}
	// Counted first, so that each segment's values are allocated once at
	// their size rather than grown by doubling: 16 bytes a scored
	// customer, tens of megabytes at millions of customers.
	counts := make([]int, len(s.Segments))
	if c.NoPurchase || c.NoSpend {
		return v // no values to show
	}
	for i := range st.beh.N {
		if c.Scored[i] {
			counts[s.Seg[i]]++
		}
	}
	by := make([]*[2][]float64, len(s.Segments))
	for k, name := range s.Segments {
		if counts[k] > 0 {
			by[k] = &[2][]float64{make([]float64, 0, counts[k]), make([]float64, 0, counts[k])}
			v[name] = by[k]
		}
	}
	for i := range st.beh.N {
		if c.Scored[i] {
			x := by[s.Seg[i]]
			x[0], x[1] = append(x[0], c.CLV[i]), append(x[1], c.PAlive[i])
		}
	}
	return v
}

// writeRunTables writes the tables made of all the run's customers — the
// segment summary, the migrations, the report, model.json — from the
// fitted models and the merged aggregates of every part.
func writeRunTables(ctx context.Context, pub *publish.Publisher, cfg *config.Config, opt Options, fit *Fitted, cp *customerPart, spreads segmentSpreads) ([]SummaryRow, error) {
	asOf := opt.AsOf.Format(DateLayout)
	meta := tableMeta(cfg, opt)
	a := cp.Agg
	summary := summaryRows(a, fit)
	var clusterFeatures []string
	var cl *ClusterModel
	if fit.Cluster != nil {
		m := fit.Cluster.Model
		if m.Previous != nil {
			p := *m.Previous
			if a.Both > 0 {
				p.Moved = float64(a.Moved) / float64(a.Both)
			}
			m.Previous = &p
		}
		cl = &m
		clusterFeatures = m.Features
	}
	// Four small objects, each synced on its own: written at once, their
	// waits for the disk (or the object store's round trips) overlap. They
	// only read what is built here.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return writeTable(gctx, pub, writeOptions(cfg), 0, "segment_summary", summaryColumns(summary, clusterFeatures, cp.AsOfDay), meta)
	})
	if fit.Cluster != nil {
		g.Go(func() error {
			return writeTable(gctx, pub, writeOptions(cfg), 0, "segment_migration", migrationColumns(a.Migrations, fit.Cluster, cp.AsOfDay), meta)
		})
	}
	g.Go(func() error {
		return writeReport(gctx, pub, reportData(cfg, fit, a, summary, spreads, asOf, pub.Attempt()))
	})
	m := Model{
		StrataVersion: opt.Version,
		AsOf:          asOf,
		Attempt:       pub.Attempt(),
		ConfigHash:    cfg.Hash(),
		Seed:          cfg.Seed,
		Timezone:      cp.Timezone,
		Inputs:        cp.Inputs,
		Counts: map[string]int64{
			"customers":   a.Customers,
			"buyers":      a.Buyers,
			"orders":      a.Orders,
			"quarantined": a.Quarantined,
		},
		Quality:  a.Quality.Published(),
		RFM:      RFMModel{Rule: quintileRule, Breaks: finiteBreaks(fit.RFM)},
		Tables:   map[string][]string{"segments": cp.Segments},
		Segments: summary,
		Features: fit.Features,
		CLV:      fit.CLV,
		Cluster:  cl,
		Fit:      fit.record(),
	}
	m.GuestShare = a.Quality.GuestShare(a.Revenue)
	if cp.Features != nil {
		m.Tables["features"] = cp.Features
	}
	if fit.NoAmount {
		m.RFM.Note = noAmountNote
	}
	if fit.Recs != nil && cfg.Recommendations.On() {
		r := fit.Recs.Model
		r.Customers, r.Offers = int(a.RecCustomers), int(a.RecOffers)
		m.Recommendations = &r
	}
	m.Audiences = a.Audiences
	m.Report = reportKey(asOf)
	m.Privacy = privacyModel(cfg, cp.Withheld)
	for _, r := range rfmRules(cfg) {
		m.RFM.Grid = append(m.RFM.Grid, GridRule{Name: r.Name, R: r.R, F: r.F})
	}
	g.Go(func() error {
		data, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return fmt.Errorf("encode model.json: %w", err)
		}
		return pub.WriteObject(gctx, "model", "models", "model.json", data)
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return summary, nil
}

// finiteBreaks replaces the NaN of a score no value reached (JSON has no
// NaN) by -1.
func finiteBreaks(in map[string][5]float64) map[string][5]float64 {
	out := map[string][5]float64{}
	for k, v := range in {
		for i := range v {
			if math.IsNaN(v[i]) {
				v[i] = -1
			}
		}
		out[k] = v
	}
	return out
}

func columnNames(cols []tables.OutColumn) []string {
	names := make([]string, len(cols))
	for i := range cols {
		names[i] = cols[i].Name
	}
	return names
}

// writeOptions are the Parquet writer's settings of cfg.
func writeOptions(cfg *config.Config) tables.WriteOptions {
	return tables.WriteOptions{Workers: cfg.Workers, Compression: cfg.Output.Compression,
		PlainIntegers: cfg.Output.IntegerEncoding == "plain"}
}

func writeTable(ctx context.Context, pub *publish.Publisher, wo tables.WriteOptions, part int, name string, cols []tables.OutColumn, meta map[string]string) error {
	rows := 0
	if len(cols) > 0 {
		rows = cols[0].Len()
	}
	return pub.WritePart(ctx, name, part, "parquet", int64(rows), func(w io.Writer) error {
		wo.Metadata = meta
		return tables.WriteParquet(w, cols, wo)
	})
}

func constI32(v int32, n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func notB(b []bool) []bool {
	out := make([]bool, len(b))
	for i, v := range b {
		out[i] = !v
	}
	return out
}

func segmentColumns(st *state, asOfDay int32) []tables.OutColumn {
	b, s := st.beh, st.rfm
	n := b.N
	noOrders := notB(b.HasOrders)
	i8 := func(x []int8) []int32 {
		out := make([]int32, len(x))
		for i, v := range x {
			out[i] = int32(v)
		}
		return out
	}
	score, segment := make([]string, n), make([]string, n)
	for i := 0; i < n; i++ {
		if b.HasOrders[i] && !b.NoAmount {
			score[i] = rfmScore(s.R[i], s.F[i], s.M[i])
		}
		segment[i] = s.Segments[s.Seg[i]]
	}
	// Without amounts there is no M, nor money: null for everyone.
	noMoney, noMoneyOrders := []bool(nil), noOrders
	if b.NoAmount {
		noMoney = make([]bool, n)
		for i := range noMoney {
			noMoney[i] = true
		}
		noMoneyOrders = noMoney
	}
	cols := []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, Str: st.ids},
		{Name: "as_of", Type: tables.OutDate, I32: constI32(asOfDay, n)},
		{Name: "recency_days", Type: tables.OutInt32, Optional: true, I32: b.RecencyDays, Null: noOrders},
		{Name: "frequency", Type: tables.OutInt32, I32: b.Frequency},
		{Name: "purchase_days", Type: tables.OutInt32, I32: b.PurchaseDays},
		{Name: "monetary_value", Type: tables.OutDouble, Optional: b.NoAmount, F64: b.Monetary, Null: noMoney},
		{Name: "avg_order_value", Type: tables.OutDouble, Optional: true, F64: b.AvgOrder, Null: noMoneyOrders},
		{Name: "max_order_value", Type: tables.OutDouble, Optional: true, F64: b.MaxOrder, Null: noMoneyOrders},
		{Name: "tenure_days", Type: tables.OutInt32, Optional: true, I32: b.TenureDays, Null: notB(b.HasTenure)},
		{Name: "first_order_at", Type: tables.OutTimestamp, Optional: true, I64: b.FirstOrder, Null: noOrders},
		{Name: "last_order_at", Type: tables.OutTimestamp, Optional: true, I64: b.LastOrder, Null: noOrders},
		{Name: "rfm_r", Type: tables.OutInt32, Optional: true, I32: i8(s.R), Null: noOrders},
		{Name: "rfm_f", Type: tables.OutInt32, Optional: true, I32: i8(s.F), Null: noOrders},
		{Name: "rfm_m", Type: tables.OutInt32, Optional: true, I32: i8(s.M), Null: noMoneyOrders},
		{Name: "rfm_score", Type: tables.OutString, Optional: true, Str: score, Null: noMoneyOrders},
		{Name: "rfm_segment", Type: tables.OutString, Str: segment},
	}
	if r := st.cluster; r != nil {
		id, prev, name := make([]int32, n), make([]int32, n), make([]string, n)
		noID, noPrev := make([]bool, n), make([]bool, n)
		for i := range n {
			id[i], noID[i] = r.ID[i], r.ID[i] < 0
			prev[i], noPrev[i] = r.Previous[i], r.Previous[i] < 0
			if !noID[i] {
				name[i] = r.Names[r.ID[i]]
			}
		}
		cols = append(cols,
			tables.OutColumn{Name: "cluster_id", Type: tables.OutInt32, Optional: true, I32: id, Null: noID},
			tables.OutColumn{Name: "cluster_name", Type: tables.OutString, Optional: true, Str: name, Null: noID},
			tables.OutColumn{Name: "previous_cluster_id", Type: tables.OutInt32, Optional: true, I32: prev, Null: noPrev},
		)
	}
	if c := st.clv; c != nil {
		unscored := notB(c.Scored)
		noPurchase, noSpend, noCLV := unscored, unscored, unscored
		if c.NoPurchase || c.NoSpend {
			noPurchase, noSpend, noCLV = c.noPurchase(), c.noSpend(), c.clvNull()
		}
		cols = append(cols,
			tables.OutColumn{Name: "p_alive", Type: tables.OutDouble, Optional: true, F64: c.PAlive, Null: noPurchase},
			tables.OutColumn{Name: "expected_purchases", Type: tables.OutDouble, Optional: true, F64: c.ExpectedPurchases, Null: noPurchase},
			tables.OutColumn{Name: "expected_avg_spend", Type: tables.OutDouble, Optional: true, F64: c.ExpectedSpend, Null: noSpend},
			tables.OutColumn{Name: "clv", Type: tables.OutDouble, Optional: true, F64: c.CLV, Null: noCLV},
		)
	}
	return cols
}

func summaryColumns(rows []SummaryRow, clusterFeatures []string, asOfDay int32) []tables.OutColumn {
	n := len(rows)
	cols := []tables.OutColumn{
		{Name: "as_of", Type: tables.OutDate, I32: constI32(asOfDay, n)},
		{Name: "segment_type", Type: tables.OutString, Str: make([]string, n)},
		{Name: "segment", Type: tables.OutString, Str: make([]string, n)},
		{Name: "customers", Type: tables.OutInt64, I64: make([]int64, n)},
		{Name: "share", Type: tables.OutDouble, F64: make([]float64, n)},
		{Name: "revenue", Type: tables.OutDouble, F64: make([]float64, n)},
		{Name: "revenue_share", Type: tables.OutDouble, F64: make([]float64, n)},
		{Name: "avg_recency_days", Type: tables.OutDouble, F64: make([]float64, n)},
		{Name: "avg_frequency", Type: tables.OutDouble, F64: make([]float64, n)},
		{Name: "avg_monetary_value", Type: tables.OutDouble, F64: make([]float64, n)},
		{Name: "avg_order_value", Type: tables.OutDouble, F64: make([]float64, n)},
		{Name: "avg_p_alive", Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)},
		{Name: "avg_clv", Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)},
		{Name: "total_clv", Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)},
		{Name: "top_categories", Type: tables.OutString, Optional: true, Str: make([]string, n), Null: make([]bool, n)},
		{Name: "best_channel", Type: tables.OutString, Optional: true, Str: make([]string, n), Null: make([]bool, n)},
		{Name: "best_channel_share", Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)},
	}
	for i, r := range rows {
		cols[1].Str[i] = r.SegmentType
		cols[2].Str[i] = r.Segment
		cols[3].I64[i] = r.Customers
		cols[4].F64[i] = r.Share
		cols[5].F64[i] = r.Revenue
		cols[6].F64[i] = r.RevenueShare
		cols[7].F64[i] = r.AvgRecencyDays
		cols[8].F64[i] = r.AvgFrequency
		cols[9].F64[i] = r.AvgMonetary
		cols[10].F64[i] = r.AvgOrderValue
		for k, v := range []*float64{r.AvgPAlive, r.AvgCLV, r.TotalCLV} {
			col := &cols[11+k]
			if v == nil {
				col.Null[i] = true
			} else {
				col.F64[i] = *v
			}
		}
		cols[14].Str[i], cols[14].Null[i] = r.TopCategories, r.TopCategories == ""
		cols[15].Str[i], cols[15].Null[i] = r.BestChannel, r.BestChannel == ""
		if r.BestChannelShare != nil {
			cols[16].F64[i] = *r.BestChannelShare
		} else {
			cols[16].Null[i] = true
		}
	}
	if clusterFeatures == nil {
		return cols
	}
	// Cluster rows carry their id and profile; RFM rows have them null.
	id := tables.OutColumn{Name: "cluster_id", Type: tables.OutInt32, Optional: true, I32: make([]int32, n), Null: make([]bool, n)}
	for i, r := range rows {
		if r.ClusterID == nil {
			id.Null[i] = true
		} else {
			id.I32[i] = int32(*r.ClusterID)
		}
	}
	cols = append(cols, id)
	for _, f := range clusterFeatures {
		mean := tables.OutColumn{Name: "mean_" + f, Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)}
		z := tables.OutColumn{Name: "z_" + f, Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)}
		for i, r := range rows {
			if r.FeatureMeans == nil {
				mean.Null[i], z.Null[i] = true, true
				continue
			}
			mean.F64[i], z.F64[i] = r.FeatureMeans[f], r.FeatureZ[f]
		}
		cols = append(cols, mean, z)
	}
	return cols
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
		{Name: "as_of", Type: tables.OutDate, I32: constI32(asOfDay, n)},
		from, fromName, to, toName, count,
	}
}

func quarantineColumns(q *extract.Quarantine, asOfDay int32) []tables.OutColumn {
	n := q.Len()
	return []tables.OutColumn{
		{Name: "as_of", Type: tables.OutDate, I32: constI32(asOfDay, n)},
		{Name: "source_table", Type: tables.OutString, Str: q.Table},
		{Name: "source_object", Type: tables.OutString, Str: q.Key},
		{Name: "source_row", Type: tables.OutInt64, I64: q.Row},
		{Name: "reason", Type: tables.OutString, Str: q.Reason},
		{Name: "customer_id", Type: tables.OutString, Str: q.CustomerID},
		{Name: "detail", Type: tables.OutString, Str: q.Detail},
	}
}

// featureTableColumns is the features table: customer_id (ids, as
// published), as_of, then the features keep lists, in the table's order,
// integers as INT32 and the rest as DOUBLE, null where the feature is
// undefined. The columns share the feature table's slices.
func featureTableColumns(ids []string, t *features.Table, keep []int, asOfDay int32) []tables.OutColumn {
	cols := []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, Str: ids},
		{Name: "as_of", Type: tables.OutDate, I32: constI32(asOfDay, t.N)},
	}
	for _, i := range keep {
		c := &t.Cols[i]
		oc := tables.OutColumn{Name: c.Name, Optional: c.Null != nil, Null: c.Null}
		if c.F != nil {
			oc.Type, oc.F64 = tables.OutDouble, c.F
		} else {
			oc.Type, oc.I32 = tables.OutInt32, c.I
		}
		cols = append(cols, oc)
	}
	return cols
}

// rfmScoreText holds the 125 score strings "111" to "555", so that a run's
// million scores share them instead of formatting a string each.
var rfmScoreText = func() (t [5][5][5]string) {
	for r := range 5 {
		for f := range 5 {
			for m := range 5 {
				t[r][f][m] = string([]byte{byte('1' + r), byte('1' + f), byte('1' + m)})
			}
		}
	}
	return t
}()

func rfmScore(r, f, m int8) string {
	if r < 1 || r > 5 || f < 1 || f > 5 || m < 1 || m > 5 {
		return fmt.Sprintf("%d%d%d", r, f, m)
	}
	return rfmScoreText[r-1][f-1][m-1]
}

// ownColumns are the columns of the user's own attributes and measures
// that audiences may filter on and show, besides the segments table's: a
// numeric attribute's value, a categorical one's level, a measure's
// <name>_total and <name>_share. They are personal: config validation
// allows them in audiences only when privacy.publish_personal lists them.
func ownColumns(st *state) []tables.OutColumn {
	cfg := st.cfg
	var out []tables.OutColumn
	n := 0
	if st.beh != nil {
		n = st.beh.N
	}
	num := func(name string) {
		col := tables.OutColumn{Name: name, Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)}
		if st.feat != nil {
			if c, ok := st.feat.Col(name); ok {
				for i := range n {
					col.F64[i], col.Null[i] = c.Value(i), c.IsNull(i)
				}
			}
		}
		out = append(out, col)
	}
	if t := cfg.Input.Customers; t != nil {
		for _, a := range t.Attributes {
			name := a.FeatureName()
			if a.Type != "categorical" {
				num(name)
				continue
			}
			col := tables.OutColumn{Name: name, Type: tables.OutString, Optional: true, Str: make([]string, n), Null: make([]bool, n)}
			var lv []string
			if st.beh != nil {
				lv = st.beh.OwnLevels[name]
			}
			for i := range n {
				if i < len(lv) && lv[i] != "" {
					col.Str[i] = lv[i]
				} else {
					col.Null[i] = true
				}
			}
			out = append(out, col)
		}
	}
	for _, m := range cfg.Input.Orders.Measures {
		num(m.FeatureName() + "_total")
		num(m.FeatureName() + "_share")
	}
	return out
}
