// Package output builds the published tables of a run from its features
// and its stages' results. Per customer, WriteCustomerTables writes the
// segments table, the audiences and their channel files, the quarantine,
// the stages' own tables and the features table, and adds up the sums the
// rest is made of (in a sharded run, once per shard). Per run,
// WriteRunTables writes from the merged sums the segment summary, the
// stages' run-wide tables, the report and model.json. It writes through
// the run's publisher and commits nothing: the order of a run's steps, and
// whether it publishes, are package pipeline's.
//
// What the tables will read is checked before the run reads any data:
// CheckAudiences compiles the audiences against the columns the run
// publishes, CheckContacts looks for the contact columns they need.
package output

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/strata-oss/strata/internal/memlimit"
	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/report"
	"github.com/strata-oss/strata/pipeline/stages"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Customers are one part's customers as the run's stages left them (the
// whole run's, or a shard's): what the per-customer tables are written
// from.
type Customers struct {
	*stages.Run
	// Stages is the run's stage list: the segments table takes their
	// columns, and the stages' own tables are written, in its order.
	Stages stages.List
	// Spec is what the run read its customers with (its shard, the
	// suppression list): the contact fields are read with it too.
	Spec extract.Spec
	// Version is Strata's, stamped on every table.
	Version string
	// schema: no customers, only the columns a run publishes (every stage
	// cfg turns on has columns, without results).
	schema bool
}

func (c *Customers) schemaOnly(s stages.Stage) bool { return c.schema && s.On(c.Config) }

// Part is what writing one part of the per-customer tables found, for
// the tables made of all parts (summary, migration, report, model.json):
// a shard's record, merged by the finishing step.
type Part struct {
	Agg        *Aggregates     `json:"aggregates"`
	Segments   []string        `json:"segment_columns"`
	Features   []string        `json:"feature_columns,omitempty"`
	Withheld   []string        `json:"withheld,omitempty"`
	Inputs     []extract.Input `json:"inputs"`
	Timezone   string          `json:"timezone"`
	AsOfDay    int32           `json:"as_of_day"`
	ConfigHash string          `json:"config_hash"`
}

// Run is a run as its run-wide tables tell of it: its configuration,
// date and the models its customers were scored with.
type Run struct {
	Config  *config.Config
	Version string // Strata's
	AsOf    string // the as-of date, as partitions name it
	// Models are the fitted models, their Order the stages in run order:
	// each describes its part of the run in turn.
	Models stages.Models
	// Features is the catalogue of the run's features.
	Features []features.Feature
	// NoAmount: the orders the models were fitted on had no amount.
	NoAmount bool
	// Sample is the fit's sample; nil when fitted on every customer.
	Sample *FitRecord
}

func tableMeta(cfg *config.Config, version, asOf string) map[string]string {
	return map[string]string{
		"strata.version":     version,
		"strata.as_of":       asOf,
		"strata.config_hash": cfg.Hash(),
		"strata.money":       "DOUBLE, in the input's currency units",
	}
}

// WriteCustomerTables writes part `part` of the tables with a row per
// customer (segments, audiences, the stages' own tables, features) or per
// bad row (quarantine), and adds up the part's aggregates.
func WriteCustomerTables(ctx context.Context, pub *publish.Publisher, st *Customers, part int) (*Part, error) {
	// What this allocates (the tables' columns, the writer's buffers) is
	// live until the tables are written.
	defer memlimit.Raise(100)()
	cfg, ds := st.Config, st.Data
	meta := tableMeta(cfg, st.Version, st.AsOf)
	asOfDay := int32(features.DayNumber(ds.AsOf.UnixMicro(), ds.Location))
	cp := &Part{Timezone: ds.Location.String(), AsOfDay: asOfDay, ConfigHash: cfg.Hash()}
	// The group sums only read st, like the writer: added up while the
	// segments table is written, they take the processor time its workers
	// leave (at 1M customers they are ~70 ms; the writer keeps 2 cores
	// ~90% busy).
	agg := make(chan *Aggregates, 1)
	go func() { agg <- aggregate(st) }()
	segs := segmentColumns(st, asOfDay)
	ct, err := readContactTable(ctx, st)
	if err != nil {
		return nil, err
	}
	audCols := audienceColumns(st, segs, ct)
	cp.Segments = columnNames(segs)
	auds, err := compileAudiences(cfg, audCols)
	if err != nil {
		return nil, err
	}
	if err := writeTable(ctx, pub, writeOptions(cfg), part, "segments", segs, meta); err != nil {
		return nil, err
	}
	cp.Agg = <-agg
	if cp.Agg.Audiences, err = writeAudiences(ctx, pub, writeOptions(cfg), part, auds, audCols, meta, ct, ds.IDs); err != nil {
		return nil, err
	}
	if err := writeTable(ctx, pub, writeOptions(cfg), part, "quarantine", quarantineColumns(&ds.Quarantine, asOfDay), meta); err != nil {
		return nil, err
	}
	for _, s := range st.Stages {
		t, ok := s.(stages.Tables)
		res := st.Result(s.Info().Name)
		if !ok || res == nil {
			continue
		}
		for _, tbl := range t.Tables(st.Run, res, asOfDay) {
			if err := writeTable(ctx, pub, writeOptions(cfg), part, tbl.Name, tbl.Columns, meta); err != nil {
				return nil, err
			}
		}
	}
	if st.Features != nil && cfg.Features.Publish {
		var keep []int
		keep, cp.Withheld = publishable(cfg, st.Features)
		featCols := featureTableColumns(st.IDs, st.Features, keep, asOfDay)
		cp.Features = columnNames(featCols)
		if err := writeTable(ctx, pub, writeOptions(cfg), part, "features", featCols, meta); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// WriteRunTables writes the tables made of all the run's customers — the
// segment summary, the stages' run-wide tables (migrations), the report,
// model.json — from the fitted models and the merged aggregates of every
// part. It returns the summary rows and the drift stage's section, the
// latter also when its breaches fail the run.
func WriteRunTables(ctx context.Context, log zerolog.Logger, pub *publish.Publisher, r *Run,
	cp *Part, spreads stages.SegmentSpreads) ([]stages.SummaryRow, *stages.DriftSection, error) {
	cfg, asOf := r.Config, r.AsOf
	meta := tableMeta(cfg, r.Version, asOf)
	a := cp.Agg
	d := &stages.Description{Config: cfg, AsOfDay: cp.AsOfDay, NoAmount: r.NoAmount,
		Customers: a.Customers, Buyers: a.Buyers, Orders: a.Orders, Revenue: a.Revenue,
		Parts: a.Parts, Models: r.Models.ByName, Spreads: spreads, Log: log,
		Report: &report.Data{Title: "Customer segments", AsOf: asOf, Attempt: pub.Attempt(),
			Subtitle: fmt.Sprintf("%d buyers of %d customers, %d orders", a.Buyers, a.Customers, a.Orders)}}
	for _, au := range a.Audiences {
		d.Audiences = append(d.Audiences, stages.Audience{Name: au.Name, Customers: int64(au.Customers), BySegment: au.BySegment})
	}
	d.Currency = a.Quality.Currency
	for _, s := range r.Models.Order {
		if ds, ok := s.(stages.Describer); ok {
			if m := r.Models.Get(s.Info().Name); m != nil && !stages.IsNil(m) {
				ds.Describe(d, m)
			}
		}
	}
	dr, _ := d.Sections["drift"].(*stages.DriftSection)
	if err := d.Err(); err != nil {
		return nil, dr, err // before any run-wide table: the run publishes nothing
	}
	reportQuality(d.Report, a)
	// Small objects, each synced on its own: written at once, their waits
	// for the disk (or the object store's round trips) overlap. They only
	// read what is built here.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return writeTable(gctx, pub, writeOptions(cfg), 0, "segment_summary", summaryColumns(d.Summary, d.ClusterFeatures, cp.AsOfDay), meta)
	})
	for _, t := range d.Tables {
		g.Go(func() error { return writeTable(gctx, pub, writeOptions(cfg), 0, t.Name, t.Columns, meta) })
	}
	g.Go(func() error { return writeReport(gctx, pub, *d.Report) })
	m := Model{
		StrataVersion: r.Version,
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
		Quality:         a.Quality.Published(),
		RFM:             d.RFM,
		Tables:          map[string][]string{"segments": cp.Segments},
		Segments:        d.Summary,
		Features:        r.Features,
		CLV:             d.CLV,
		Cluster:         d.Cluster,
		Recommendations: d.Recommendations,
		Stages:          d.Sections,
		Fit:             r.Sample,
	}
	m.GuestShare = a.Quality.GuestShare(a.Revenue)
	if cp.Features != nil {
		m.Tables["features"] = cp.Features
	}
	m.Audiences = a.Audiences
	m.Report = reportKey(asOf)
	m.Privacy = privacyModel(cfg, cp.Withheld)
	g.Go(func() error {
		data, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return fmt.Errorf("encode model.json: %w", err)
		}
		return pub.WriteObject(gctx, "model", "models", "model.json", data)
	})
	if err := g.Wait(); err != nil {
		return nil, dr, err
	}
	return d.Summary, dr, nil
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

// segmentColumns is the segments table: the customer's id and behaviour,
// then each stage's columns, in the list's order.
func segmentColumns(st *Customers, asOfDay int32) []tables.OutColumn {
	b := st.Behaviour
	n := b.N
	noOrders := tables.Not(b.HasOrders)
	// Without amounts there is no money: null for everyone.
	noMoney, noMoneyOrders := []bool(nil), noOrders
	if b.NoAmount {
		noMoney = make([]bool, n)
		for i := range noMoney {
			noMoney[i] = true
		}
		noMoneyOrders = noMoney
	}
	cols := []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, StrCol: st.IDs},
		{Name: "as_of", Type: tables.OutDate, I32: tables.Repeat(asOfDay, n)},
		{Name: "recency_days", Type: tables.OutInt32, Optional: true, I32: b.RecencyDays, Null: noOrders},
		{Name: "frequency", Type: tables.OutInt32, I32: b.Frequency},
		{Name: "purchase_days", Type: tables.OutInt32, I32: b.PurchaseDays},
		{Name: "monetary_value", Type: tables.OutDouble, Optional: b.NoAmount, F64: b.Monetary, Null: noMoney},
		{Name: "avg_order_value", Type: tables.OutDouble, Optional: true, F64: b.AvgOrder, Null: noMoneyOrders},
		{Name: "max_order_value", Type: tables.OutDouble, Optional: true, F64: b.MaxOrder, Null: noMoneyOrders},
		{Name: "tenure_days", Type: tables.OutInt32, Optional: true, I32: b.TenureDays, Null: tables.Not(b.HasTenure)},
		{Name: "first_order_at", Type: tables.OutTimestamp, Optional: true, I64: b.FirstOrder, Null: noOrders},
		{Name: "last_order_at", Type: tables.OutTimestamp, Optional: true, I64: b.LastOrder, Null: noOrders},
	}
	for _, s := range st.Stages {
		c, ok := s.(stages.Columns)
		if !ok {
			continue
		}
		res := st.Result(s.Info().Name)
		if res == nil && !st.schemaOnly(s) {
			continue
		}
		cols = append(cols, c.Columns(st.Run, res, asOfDay)...)
	}
	return cols
}

func summaryColumns(rows []stages.SummaryRow, clusterFeatures []string, asOfDay int32) []tables.OutColumn {
	n := len(rows)
	cols := []tables.OutColumn{
		{Name: "as_of", Type: tables.OutDate, I32: tables.Repeat(asOfDay, n)},
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
		{Name: "avg_churn_risk", Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)},
		{Name: "total_expected_purchases", Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)},
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
		for k, v := range []*float64{r.AvgChurnRisk, r.TotalExpected} {
			col := &cols[17+k]
			if v == nil {
				col.Null[i] = true
			} else {
				col.F64[i] = *v
			}
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

func quarantineColumns(q *extract.Quarantine, asOfDay int32) []tables.OutColumn {
	n := q.Len()
	return []tables.OutColumn{
		{Name: "as_of", Type: tables.OutDate, I32: tables.Repeat(asOfDay, n)},
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
func featureTableColumns(ids strcol.Column, t *features.Table, keep []int, asOfDay int32) []tables.OutColumn {
	cols := []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, StrCol: ids},
		{Name: "as_of", Type: tables.OutDate, I32: tables.Repeat(asOfDay, t.N)},
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

// publishable splits the feature table's columns into those the policy
// lets the features table carry and the names of those it withholds.
func publishable(cfg *config.Config, t *features.Table) (keep []int, withheld []string) {
	pol := cfg.Privacy.Policy()
	for i := range t.Cols {
		if pol.Feature(t.Cols[i].Feature) {
			keep = append(keep, i)
		} else {
			withheld = append(withheld, t.Cols[i].Name)
		}
	}
	return keep, withheld
}

// ownColumns are the columns of the user's own attributes and measures
// that audiences may filter on and show, besides the segments table's: a
// numeric attribute's value, a categorical one's level, a measure's
// <name>_total and <name>_share. They are personal: config validation
// allows them in audiences only when privacy.publish_personal lists them.
func ownColumns(st *stages.Run) []tables.OutColumn {
	cfg := st.Config
	var out []tables.OutColumn
	n := 0
	if st.Behaviour != nil {
		n = st.Behaviour.N
	}
	num := func(name string) {
		col := tables.OutColumn{Name: name, Type: tables.OutDouble, Optional: true, F64: make([]float64, n), Null: make([]bool, n)}
		if st.Features != nil {
			if c, ok := st.Features.Col(name); ok {
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
			var lv features.Levels
			if st.Behaviour != nil {
				lv = st.Behaviour.OwnLevels[name]
			}
			// Codes, not strings: the column lives until the audiences are
			// written. A null row's value is "", as a string column's was.
			blank := int32(len(lv.Dict))
			col := tables.OutColumn{Name: name, Type: tables.OutString, Optional: true,
				Codes: make([]int32, n), Dict: append(slices.Clip(lv.Dict), ""), Null: make([]bool, n)}
			for i := range n {
				if i < len(lv.Codes) && lv.At(i) != "" {
					col.Codes[i] = lv.Codes[i]
				} else {
					col.Codes[i], col.Null[i] = blank, true
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
