// Package pipeline runs one Strata run: for one as-of date and one
// configuration it extracts the inputs, computes features, scores the
// models and publishes the outputs atomically, reporting a Result.
//
// A run is a pure function of (input objects, config, as-of date, seed,
// Strata version): running it again writes the same bytes.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/hive"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/privacy"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/storage"
	"github.com/strata-oss/strata/pipeline/tables"
)

// DateLayout is the layout of as-of dates everywhere: flags, partitions,
// manifests.
const DateLayout = "2006-01-02"

// Options are the run's non-config inputs.
type Options struct {
	AsOf    time.Time
	Version string // Strata's version; part of the attempt id
	RunID   string // unique per run; for logs and the ledger, never in data
	Logger  zerolog.Logger
	// Input and Output override the buckets named in the config (tests,
	// and the demo's embedded configuration).
	Input, Output objstore.Bucket
	// BeforeCommit, if set, is called right before the commit point; an
	// error aborts the run with nothing published. The scheduler checks
	// its date lock here, so a run that lost it cannot overwrite another
	// holder's.
	BeforeCommit func(ctx context.Context) error
}

// Result is what a run did.
type Result struct {
	RunID      string
	AsOf       string
	Attempt    string
	ConfigHash string
	Customers  int
	Orders     int // accepted transactions, refunds included
	Quality    extract.Quality
	Segments   []SummaryRow
	Manifest   publish.Manifest
	Stages     []StageTiming
	Inputs     []extract.Input // the fingerprints the attempt id hashes
}

// StageTiming is how long one stage took.
type StageTiming struct {
	Stage    string        `json:"stage"`
	Duration time.Duration `json:"duration_ns"`
	// PeakRSSMiB is the process's peak resident memory during the stage
	// (see memstat.go); -1 when the system does not say.
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// QualityError says the data-quality gate failed; nothing was published.
type QualityError struct {
	Table     string
	Bad, Rows int64
	Limit     float64
}

func (e *QualityError) Error() string {
	return fmt.Sprintf("data-quality gate: %d of %d %s rows (%.2f%%) are bad, more than the allowed %.2f%%",
		e.Bad, e.Rows, e.Table, 100*float64(e.Bad)/float64(max(e.Rows, 1)), 100*e.Limit)
}

// ConfigError says the configuration or the input schema is wrong.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Run performs one run.
func Run(ctx context.Context, cfg *config.Config, opt Options) (*Result, error) {
	asOf := opt.AsOf.Format(DateLayout)
	log := opt.Logger.With().Str("run_id", opt.RunID).Str("as_of", asOf).Logger()
	res := &Result{RunID: opt.RunID, AsOf: asOf, ConfigHash: cfg.Hash()}
	stage := func(name string, f func(log zerolog.Logger) error) error {
		l := log.With().Str("stage", name).Logger()
		start := time.Now()
		resetPeakRSS()
		l.Info().Msg("stage started")
		err := f(l)
		d := time.Since(start)
		peak := peakRSSMiB()
		res.Stages = append(res.Stages, StageTiming{Stage: name, Duration: d, PeakRSSMiB: peak})
		if err != nil {
			l.Error().Err(err).Dur("duration", d).Float64("peak_rss_mib", peak).Msg("stage failed")
			return err
		}
		l.Info().Dur("duration", d).Float64("peak_rss_mib", peak).Msg("stage finished")
		return nil
	}

	// A filter that does not fit the published columns is found before
	// any data is read.
	if err := CheckAudiences(cfg); err != nil {
		return res, err
	}
	pseud, err := pseudonymizer(cfg)
	if err != nil {
		return res, err
	}
	in, out := opt.Input, opt.Output
	if in == nil {
		if in, err = storage.Open(ctx, cfg.Input.Location, StorageOptions(cfg)); err != nil {
			return res, err
		}
	}
	if out == nil {
		if out, err = storage.Create(ctx, cfg.Output.Location, StorageOptions(cfg)); err != nil {
			return res, err
		}
	}

	spec, window, err := runSpec(ctx, cfg, in, opt.AsOf, pseud)
	if err != nil {
		return res, err
	}
	var ds *extract.Dataset
	var agg *features.Aggregates
	if err := stage("extract", func(l zerolog.Logger) error {
		agg, err = features.Extract(ctx, spec, featureOptions(cfg))
		if err != nil {
			var se *tables.SchemaError
			if errors.As(err, &se) {
				return &ConfigError{Err: err}
			}
			return err
		}
		ds = agg.Dataset
		res.Customers, res.Orders, res.Quality = len(ds.IDs), ds.Orders, ds.Quality
		l.Info().Int("customers", len(ds.IDs)).Int("orders", ds.Orders).
			Interface("rows_read", ds.Quality.RowsRead).Interface("bad", ds.Quality.Bad).
			Interface("excluded", ds.Quality.Excluded).Interface("duplicates", ds.Quality.Duplicates).
			Int64("pruned_objects", window.Pruned()).Msg("extracted")
		return checkGate(cfg, ds)
	}); err != nil {
		return res, err
	}

	var beh *features.Behaviour
	var feat *features.Table
	if err := stage("features", func(l zerolog.Logger) error {
		set, err := agg.Compute(ctx)
		if err != nil {
			return err
		}
		beh, feat = set.Behaviour, set.Table
		l.Info().Int("features", len(feat.Cols)).Msg("features computed")
		return nil
	}); err != nil {
		return res, err
	}

	var scores *rfmScores
	if err := stage("rfm", func(zerolog.Logger) error {
		scores, err = scoreRFM(cfg, beh)
		return err
	}); err != nil {
		return res, &ConfigError{Err: err}
	}

	st := &state{cfg: cfg, opt: opt, ds: ds, beh: beh, feat: feat, rfm: scores,
		ids: publishedIDs(cfg, pseud, ds.IDs)}
	if cfg.CLV.On() {
		if err := stage("clv", func(l zerolog.Logger) error {
			st.clv, err = scoreCLV(ctx, cfg, ds, beh)
			if err != nil {
				return err
			}
			m := st.clv.Model
			ev := l.Info().Str("model", m.PurchaseModel).Int("customers", m.Customers).
				Interface("params", m.Params).Float64("log_likelihood", m.LogLik)
			if m.Holdout != nil {
				ev = ev.Float64("holdout_mae", m.Holdout.MAE).Float64("holdout_rel_err", m.Holdout.RelErr)
			}
			if m.Skipped != "" {
				ev = ev.Str("skipped", m.Skipped)
			}
			if m.RequestedModel != "" {
				ev = ev.Str("requested_model", m.RequestedModel).Str("reason", m.Reason)
			}
			ev.Msg("clv fitted")
			return nil
		}); err != nil {
			return res, err
		}
	}

	if cfg.Cluster.On() {
		if err := stage("cluster", func(l zerolog.Logger) error {
			cols := featureColumns(st)
			if err := checkClusterFeatures(cfg, cols, st.feat, st.clv != nil); err != nil {
				return &ConfigError{Err: err}
			}
			if st.prev, err = loadPrevious(ctx, out, asOf); err != nil {
				return err
			}
			if st.cluster, err = fitClusters(ctx, st, cols, st.prev, out); err != nil {
				return err
			}
			m := st.cluster.Model
			ev := l.Info().Int("k", m.K).Int("customers", m.Customers).Float64("inertia", m.Inertia).
				Int("iterations", m.Iterations).Bool("warm_start", m.WarmStart)
			if m.Previous != nil {
				ev = ev.Str("previous_as_of", m.Previous.AsOf).Ints("new_ids", m.Previous.NewIDs).Float64("moved", m.Previous.Moved)
			}
			ev.Msg("clustered")
			return nil
		}); err != nil {
			return res, err
		}
	}

	if st.cluster != nil && cfg.Recommendations.On() {
		if err := stage("recommend", func(l zerolog.Logger) error {
			if st.recs, err = recommendCategories(st); err != nil {
				return err
			}
			if st.recs == nil {
				l.Info().Msg("no categories to recommend: the orders have no category column")
				return nil
			}
			l.Info().Int("customers", st.recs.Model.Customers).Int("offers", st.recs.Model.Offers).
				Strs("categories", st.recs.Model.Categories).Msg("recommended")
			return nil
		}); err != nil {
			return res, err
		}
	}

	inputs := ds.Inputs
	if st.prev != nil {
		// The previous run's clusters shape this run's ids and
		// migrations, so a re-publication of it is a new attempt here.
		inputs = append(append([]extract.Input(nil), inputs...), st.prev.input())
	}
	if pseud != nil {
		inputs = append(append([]extract.Input(nil), inputs...), keyInput(pseud))
	}
	res.Attempt, res.Inputs = attemptID(opt.Version, res.ConfigHash, asOf, inputs), inputs
	err = stage("publish", func(l zerolog.Logger) error {
		pub := publish.New(out, asOf, res.Attempt)
		st.summary = summarize(st)
		res.Segments = st.summary
		err := writeOutputs(ctx, pub, st)
		if err == nil && opt.BeforeCommit != nil {
			err = opt.BeforeCommit(ctx)
		}
		if err != nil {
			if aerr := pub.Abort(context.WithoutCancel(ctx)); aerr != nil {
				l.Warn().Err(aerr).Msg("could not remove this attempt's objects; the next successful run will")
			}
			return err
		}
		err = pub.Commit(ctx, publish.Manifest{RunID: opt.RunID, ConfigHash: res.ConfigHash},
			map[string]string{"model": publish.PartitionPrefix("models", asOf) + "model.json", "report": reportKey(asOf)})
		var ce *publish.CleanupError
		if errors.As(err, &ce) {
			l.Warn().Err(err).Msg("run committed; clean-up incomplete")
			err = nil
		}
		if err != nil {
			return err
		}
		m, err := publish.ReadManifest(ctx, out, asOf)
		if err != nil {
			return fmt.Errorf("read back manifest: %w", err)
		}
		res.Manifest = *m
		return nil
	})
	return res, err
}

// StorageOptions are the object-store settings of cfg.
func StorageOptions(cfg *config.Config) storage.Options {
	s := cfg.Storage.S3
	return storage.Options{S3: storage.S3Options{
		Endpoint: s.Endpoint, Region: s.Region, PathStyle: s.PathStyle, MaxAttempts: s.MaxAttempts,
	}}
}

// runSpec is what a run reads: the input tables of cfg in the date
// window of asOf over in (returned too, for its counts), and the
// suppression list, read whole; with the quarantine shown as cfg's
// privacy settings say.
func runSpec(ctx context.Context, cfg *config.Config, in objstore.Bucket, asOf time.Time, pseud *privacy.Pseudonymizer) (extract.Spec, *hive.Window, error) {
	// Date partitions after the as-of day cannot hold records the run may
	// see; they are left unlisted, so unread.
	window := hive.NewWindow(in, "", asOf.Format(DateLayout))
	spec := extractSpec(cfg, window, asOf)
	var err error
	if spec.Suppression, err = suppressionTable(ctx, cfg, in); err != nil {
		return spec, nil, err
	}
	spec.Quarantine = quarantineView(cfg, pseud)
	return spec, window, nil
}

func extractSpec(cfg *config.Config, in objstore.Bucket, asOf time.Time) extract.Spec {
	tbl := func(t *config.Table) extract.Table {
		var comma rune
		if t.CSV.Delimiter != "" {
			comma = []rune(t.CSV.Delimiter)[0]
		}
		return extract.Table{Bucket: in, Prefix: t.Path, Format: t.Format, Columns: t.Columns,
			CSV: tables.CSVOptions{Comma: comma, TimeLayouts: t.CSV.TimeLayouts}}
	}
	spec := extract.Spec{AsOf: asOf, Location: cfg.Location(), Orders: tbl(&cfg.Input.Orders)}
	if cfg.Input.Customers != nil {
		c := tbl(cfg.Input.Customers)
		spec.Customers = &c
	}
	if cfg.Input.Events != nil {
		e := tbl(cfg.Input.Events)
		spec.Events = &e
	}
	return spec
}

// featureOptions are the feature engine's options for cfg: the CLV stage
// needs the per-customer purchase days.
func featureOptions(cfg *config.Config) features.Options {
	o := cfg.Features.Options()
	o.Workers = cfg.Workers
	o.PurchaseDays = cfg.CLV.On()
	return o
}

func checkGate(cfg *config.Config, ds *extract.Dataset) error {
	limit := cfg.Quality.Fraction()
	for _, table := range []string{"orders", "customers"} {
		rows := ds.Quality.RowsRead[table]
		bad := ds.Quality.BadRows(table)
		if rows > 0 && float64(bad) > limit*float64(rows) {
			return &QualityError{Table: table, Bad: bad, Rows: rows, Limit: limit}
		}
	}
	return nil
}

// attemptID hashes everything that determines a run's outputs.
func attemptID(version, configHash, asOf string, inputs []extract.Input) string {
	h := sha256.New()
	fmt.Fprintf(h, "strata %s\nconfig %s\nas_of %s\n", version, configHash, asOf)
	sorted := append([]extract.Input(nil), inputs...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Table != sorted[j].Table {
			return sorted[i].Table < sorted[j].Table
		}
		return sorted[i].Key < sorted[j].Key
	})
	for _, in := range sorted {
		fmt.Fprintf(h, "%s %s %d %s\n", in.Table, in.Key, in.Size, in.ETag)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// CheckInputs opens the configured input tables and checks their schemas
// against the column mapping, without reading rows or writing anything.
func CheckInputs(ctx context.Context, cfg *config.Config, asOf time.Time) error {
	in, err := storage.Open(ctx, cfg.Input.Location, StorageOptions(cfg))
	if err != nil {
		return err
	}
	spec, _, err := runSpec(ctx, cfg, in, asOf, nil)
	if err != nil {
		return err
	}
	if err := extract.CheckSchemas(ctx, spec); err != nil {
		// Only a schema that does not fit the mapping is the user's
		// config to fix; storage failures keep exit code 1.
		var se *tables.SchemaError
		if errors.As(err, &se) {
			return &ConfigError{Err: err}
		}
		return err
	}
	return nil
}
