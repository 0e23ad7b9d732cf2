// Package pipeline runs one Strata run: for one as-of date and one
// configuration it extracts the inputs, computes features, scores the
// models and publishes the outputs atomically, reporting a Result.
//
// A run is a pure function of (input objects, config, as-of date, seed,
// Strata version): running it again writes the same bytes.
//
// The package is the run's orchestration only: extract, features, then
// the model stages of package stages in the order their reads require,
// then the published tables, which package output builds, then the
// commit. Run is the single-process run; Fit, Score and Finish are the
// steps of a sharded one, and all of them walk the same stage list.
//
// # How to add a stage
//
// A stage is a type implementing stages.Stage (name, reads, fit → model,
// apply → result) and whichever of stages.Columns, stages.Tables,
// stages.Summer and stages.Describer it needs, in its own file of package
// stages, plus one line in stages.Default. Nothing in this package or in
// package output changes: the segments table takes its columns, the
// publish step its tables, the shard records its sums, the fit its model
// and model.json its section (under "stages"). pipeline/stage_test.go's
// TestAddedStage is a complete stage in a test.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/pipeline/audience"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/hive"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/privacy"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/stages"
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
	// holder's. A failed run calls it again before deleting what it
	// wrote, and deletes nothing if it fails: the date's new holder may
	// publish the same keys.
	BeforeCommit func(ctx context.Context) error
	// Wait is how long the steps of a sharded run wait for the step before
	// them: a shard for the fitted model, the finishing step for the
	// shards. Zero: not at all.
	Wait time.Duration
	// Force makes a shard score even when the date is already published
	// with its attempt (Result.UpToDate otherwise).
	Force bool
	// Stages are the model stages the run walks; nil: stages.Default().
	Stages stages.List
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
	Segments   []stages.SummaryRow
	Manifest   publish.Manifest
	Stages     []StageTiming
	Inputs     []extract.Input // the fingerprints the attempt id hashes
	// UpToDate: a shard found the date already published with its
	// attempt, and wrote nothing.
	UpToDate bool
	// Drift is the drift stage's comparison with the previous run (also
	// of a run its breaches failed); nil without a previous run.
	Drift *stages.DriftSection
}

// PeakRSSMiB is the run's peak resident memory in MiB, the largest of its
// stages' (each stage resets the process's high-water mark, so the kernel's
// figure at the end is the last stage's alone); 0 when the system does not
// say.
func (r *Result) PeakRSSMiB() float64 {
	var peak float64
	for _, s := range r.Stages {
		peak = max(peak, s.PeakRSSMiB)
	}
	return peak
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
// Bytes, when set, says the gate failed on the bytes of the quarantined
// rows (Bad of Rows are then bytes), not on their number.
type QualityError struct {
	Table     string
	Bad, Rows int64
	Limit     float64
	// Bytes: Bad and Rows count bytes, not rows.
	Bytes bool
	// Stale, when set, is what failed instead: the inputs' age.
	Stale *StaleError
	// Hint says what may fix it.
	Hint string
}

// IsStale reports whether the gate failed on the inputs' age (the daemon's
// "stale" alert).
func (e *QualityError) IsStale() bool { return e.Stale != nil }

func (e *QualityError) Error() string {
	if e.Stale != nil {
		return e.Stale.Error()
	}
	share := 100 * float64(e.Bad) / float64(max(e.Rows, 1))
	msg := fmt.Sprintf("data-quality gate: %d of %d %s rows (%.2f%%) are bad, more than the allowed %.2f%%",
		e.Bad, e.Rows, e.Table, share, 100*e.Limit)
	if e.Bytes {
		msg = fmt.Sprintf("data-quality gate: the quarantined %s rows hold %d of the %d bytes read (%.2f%%), more than the allowed %.2f%%",
			e.Table, e.Bad, e.Rows, share, 100*e.Limit)
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// withoutMoneyClusters is cfg for a run whose orders have no amount: the
// default cluster features without the money ones (monetary_value,
// avg_order_value), which are null. Features a configuration lists are
// its own: clustering on a money feature then fails as on any feature
// without values.
func withoutMoneyClusters(cfg *config.Config) *config.Config {
	if len(cfg.Cluster.Features) > 0 || !cfg.Cluster.On() {
		return cfg
	}
	c := *cfg
	c.Cluster.Features = nil
	for _, f := range cfg.Cluster.FeatureList() {
		if f.Name != "monetary_value" && f.Name != "avg_order_value" {
			c.Cluster.Features = append(c.Cluster.Features, f)
		}
	}
	return &c
}

// ConfigError says the configuration or the input schema is wrong.
type ConfigError = stages.ConfigError

// ModelError says a model cannot be fitted on the run's data and the
// configuration asks the run to fail then (see stages.ModelError).
type ModelError = stages.ModelError

// run is one process's part in a run: its configuration, storage and
// the stages it has timed.
type run struct {
	cfg     *config.Config
	opt     Options
	asOf    string
	log     zerolog.Logger
	res     *Result
	in, out objstore.Bucket
	pseud   *privacy.Pseudonymizer
	// stages is the list the run walks, order the stages cfg turns on in
	// the order they run.
	stages stages.List
	order  []stages.Stage
	// noGate: a shard's bad rows are not the run's (the rows without a
	// customer id are all shard 0's); the finishing step gates the sum.
	noGate bool
}

func newRun(ctx context.Context, cfg *config.Config, opt Options) (*run, error) {
	asOf := opt.AsOf.Format(DateLayout)
	r := &run{cfg: cfg, opt: opt, asOf: asOf,
		log: opt.Logger.With().Str("run_id", opt.RunID).Str("as_of", asOf).Logger(),
		res: &Result{RunID: opt.RunID, AsOf: asOf, ConfigHash: cfg.Hash()}}
	// A filter that does not fit the published columns is found before
	// any data is read (below, once the stages are known).
	r.stages = opt.Stages
	if r.stages == nil {
		r.stages = stages.Default()
	}
	var err error
	if r.order, err = r.stages.Order(cfg); err != nil {
		return r, err
	}
	if err := output.CheckAudiences(cfg, r.stages); err != nil {
		return r, err
	}
	if r.pseud, err = pseudonymizer(cfg); err != nil {
		return r, err
	}
	r.in, r.out = opt.Input, opt.Output
	if r.in == nil {
		if r.in, err = storage.Open(ctx, cfg.Input.Location, StorageOptions(cfg)); err != nil {
			return r, err
		}
	}
	if r.out == nil {
		if r.out, err = storage.Create(ctx, cfg.Output.Location, StorageOptions(cfg)); err != nil {
			return r, err
		}
	}
	return r, nil
}

func (r *run) stage(name string, f func(log zerolog.Logger) error) error {
	l := r.log.With().Str("stage", name).Logger()
	start := time.Now()
	releaseMemory()
	resetPeakRSS()
	l.Info().Msg("stage started")
	// The stage's samples in a CPU profile (strata run --cpuprofile) carry
	// its name, and so do those of the goroutines it starts: `go tool
	// pprof -tagfocus stage=publish` is the stage alone.
	cpu0 := processCPU()
	var err error
	pprof.Do(context.Background(), pprof.Labels("stage", name), func(context.Context) { err = f(l) })
	d := time.Since(start)
	cpu := stageCPU(cpu0, processCPU())
	peak := peakRSSMiB()
	r.res.Stages = append(r.res.Stages, StageTiming{Stage: name, Duration: d, PeakRSSMiB: peak})
	if err != nil {
		l.Error().Err(err).Float64("duration_seconds", d.Seconds()).Float64("peak_rss_mib", peak).Msg("stage failed")
		return err
	}
	l.Info().Float64("duration_seconds", d.Seconds()).Float64("cpu_seconds", cpu).Float64("peak_rss_mib", peak).
		Float64("run_peak_rss_mib", r.res.PeakRSSMiB()).Msg("stage finished")
	return nil
}

// stageCPU is the processor seconds between two processCPU readings, -1
// when either is unknown. On a machine shared with other work a stage's
// wall time swings with the others' load, its processor time much less,
// so the stage log carries both. It is the process's: with several runs in
// one process (a backfill with --parallel) it counts them all.
func stageCPU(before, after time.Duration) float64 {
	if before < 0 || after < 0 {
		return -1
	}
	return (after - before).Seconds()
}

// compute reads the customers keep selects (nil: all), computes their
// features and scores them with fit; with a nil fit it first fits the
// models on these customers, and returns what it fitted. Stage names get
// prefix (the fitting pass of a sampled run is "fit_extract", …).
func (r *run) compute(ctx context.Context, keep *extract.Keep, fit *Fitted, prefix string) (*output.Customers, *Fitted, error) {
	cfg, res := r.cfg, r.res
	spec, window, err := runSpec(ctx, cfg, r.in, r.opt.AsOf, r.pseud)
	if err != nil {
		return nil, nil, err
	}
	// The stages' own passes over the inputs read every customer.
	sr := &stages.Run{Config: cfg, AsOf: r.asOf, Out: r.out, Spec: spec}
	if r.pseud != nil {
		sr.PublishedID = r.pseud.ID
	}
	spec.Keep = keep
	// The contact columns are read only when the audiences are written,
	// at the end: a missing one fails the run here, before the work.
	if err := output.CheckContacts(ctx, cfg, spec); err != nil {
		return nil, nil, err
	}
	fo := featureOptions(cfg)
	if fit != nil {
		fo.Vocabulary = fit.Vocabulary
	}
	if fit == nil && keep == nil {
		// This pass fits on every customer: the stages that read orders
		// of their own read them here.
		if fo.OrderTap, err = r.taps(ctx, sr); err != nil {
			return nil, nil, err
		}
	}
	var ds *extract.Dataset
	var agg *features.Aggregates
	if err := r.stage(prefix+"extract", func(l zerolog.Logger) error {
		agg, err = features.Extract(ctx, spec, fo)
		if err != nil {
			var se *tables.SchemaError
			var ce *extract.CurrencyError
			if errors.As(err, &se) || errors.As(err, &ce) {
				return &ConfigError{Err: err}
			}
			return err
		}
		ds = agg.Dataset
		res.Customers, res.Orders, res.Quality = ds.IDs.Len(), ds.Orders, ds.Quality
		l.Info().Int("customers", ds.IDs.Len()).Int("orders", ds.Orders).
			Interface("rows_read", ds.Quality.RowsRead).Interface("bad", ds.Quality.Bad).
			Interface("excluded", ds.Quality.Excluded).Interface("duplicates", ds.Quality.Duplicates).
			Int64("pruned_objects", window.Pruned()).Msg("extracted")
		warnMemory(l, ds.IDs.Len())
		if r.noGate {
			return nil
		}
		if keep == nil {
			// A sample's or a part's newest order is not the data's.
			if err := checkStale(cfg, ds); err != nil {
				return err
			}
		}
		return checkGate(cfg, ds)
	}); err != nil {
		return nil, nil, err
	}

	hashCfg := cfg
	if ds.NoAmount {
		cfg = withoutMoneyClusters(cfg)
	}
	sr.Config, sr.Data, sr.IDs = cfg, ds, publishedIDs(cfg, r.pseud, ds.IDs)
	st := &output.Customers{Run: sr, Stages: r.stages, Spec: spec, Version: r.opt.Version}
	learn := fit == nil
	if err := r.stage(prefix+"features", func(l zerolog.Logger) error {
		set, err := agg.Compute(ctx)
		if err != nil {
			return err
		}
		st.Behaviour, st.Features = set.Behaviour, set.Table
		if learn {
			fit = &Fitted{fittedBase: fittedBase{AsOf: r.asOf, ConfigHash: hashCfg.Hash(), SampleFraction: cfg.Fit.Fraction(),
				Customers: ds.IDs.Len(), Vocabulary: set.Vocabulary, NoAmount: ds.NoAmount}, Models: stages.Models{Order: r.order}}
			for i := range set.Table.Cols {
				fit.Features = append(fit.Features, set.Table.Cols[i].Feature)
			}
		}
		l.Info().Int("features", len(st.Features.Cols)).Msg("features computed")
		if ds.NoAmount {
			l.Warn().Msg(stages.NoAmountNote)
		}
		if err := stages.CheckClusterFeatures(cfg, st.Features); err != nil {
			return &ConfigError{Err: err}
		}
		// What no later stage reads goes now, not at the end of the run:
		// the trailing windows, gaps and the rest are most of the table
		// when the features are not published.
		st.Features.Keep(func(c *features.Column) bool { return readLater(cfg, c) })
		agg = nil // the engine's records, a few hundred bytes a customer
		// The signup instants and the customers table's roll call are read
		// by the features alone (tenure): 9 bytes a customer through every
		// later stage otherwise.
		ds.Signup, ds.Known = nil, nil
		return nil
	}); err != nil {
		return nil, nil, err
	}

	for _, sp := range schedule(r.order, cfg, learn) {
		s, name := sp.stage, sp.stage.Info().Name
		if sp.finish {
			if err := r.stage(prefix+s.(stages.Early).FinishName(), func(l zerolog.Logger) error {
				st.Log = l
				return s.(stages.Early).Finish(ctx, st.Run, fit.Models.Get(name))
			}); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err := r.stage(prefix+name, func(l zerolog.Logger) error {
			st.Log = l
			if learn {
				m, err := s.Fit(ctx, st.Run)
				if err != nil {
					return err
				}
				fit.Models.Set(name, m)
			}
			res, err := s.Apply(ctx, st.Run, fit.Models.Get(name))
			if err != nil {
				return err
			}
			st.SetResult(name, res)
			if rl, ok := s.(stages.Releaser); ok {
				rl.Release(st.Run)
			}
			return nil
		}); err != nil {
			return nil, nil, err
		}
	}
	return st, fit, nil
}

// step is one step of a pass's model stages: a stage's Fit (when the pass
// learns) and Apply, or an early stage's Finish.
type step struct {
	stage  stages.Stage
	finish bool
}

// schedule is the order a pass runs the stages of order in: order's,
// except that a stage that is stages.Early for cfg runs before the first
// of the stages it reads, and, when the pass learns, finishes in its own
// place. order is the stages' run order (stages.List.Order), which also
// orders their models and descriptions; the schedule changes when the
// work happens, not what it reads: the stages that read an early stage
// come after its place in order, so after its Finish.
func schedule(order []stages.Stage, cfg *config.Config, learn bool) []step {
	var steps []step
	for _, s := range order {
		e, ok := s.(stages.Early)
		if !ok || !e.Early(cfg) {
			steps = append(steps, step{stage: s})
			continue
		}
		at := len(steps)
		for i, p := range steps {
			if !p.finish && slices.Contains(s.Info().Reads, p.stage.Info().Name) {
				at = i
				break
			}
		}
		steps = slices.Insert(steps, at, step{stage: s})
		if learn {
			steps = append(steps, step{stage: s, finish: true})
		}
	}
	return steps
}

// taps asks the stages of the run that read orders of their own for the
// functions to give the extraction's order blocks to (stages.Tapper), and
// returns them as one (nil when none).
func (r *run) taps(ctx context.Context, sr *stages.Run) (func(*extract.OrderBlock), error) {
	var taps []func(*extract.OrderBlock)
	for _, s := range r.order {
		if t, ok := s.(stages.Tapper); ok {
			f, err := t.Tap(ctx, sr)
			if err != nil {
				return nil, err
			}
			if f != nil {
				taps = append(taps, f)
			}
		}
	}
	switch len(taps) {
	case 0:
		return nil, nil
	case 1:
		return taps[0], nil
	}
	return func(b *extract.OrderBlock) {
		for _, f := range taps {
			f(b)
		}
	}, nil
}

// attempt is the attempt id of st's run, with the inputs it hashes.
func (r *run) attempt(st *output.Customers) (string, []extract.Input) {
	inputs := st.Data.Inputs
	if len(st.Inputs) > 0 {
		// What the stages read besides (the previous run's clusters shape
		// this run's ids and migrations, so a re-publication of it is a
		// new attempt here).
		inputs = append(append([]extract.Input(nil), inputs...), st.Inputs...)
	}
	if r.pseud != nil {
		inputs = append(append([]extract.Input(nil), inputs...), keyInput(r.pseud))
	}
	return attemptID(r.opt.Version, r.res.ConfigHash, r.asOf, inputs), inputs
}

// fitted returns the models of a run: fitted on a sample of its customers
// in a pass of their own when the config asks for one (nil otherwise: the
// run's pass fits on everyone).
func (r *run) fitted(ctx context.Context) (*Fitted, error) {
	keep := fitSample(r.cfg)
	if keep == nil {
		return nil, nil
	}
	_, fit, err := r.compute(ctx, keep, nil, "fit_")
	return fit, err
}

// fitSample selects the customers the models are fitted on: nil for all
// of them, or cfg's seeded sample.
func fitSample(cfg *config.Config) *extract.Keep {
	if f := cfg.Fit.Fraction(); f < 1 {
		return extract.Sample(f, cfg.Seed)
	}
	return nil
}

// Run performs one run.
func Run(ctx context.Context, cfg *config.Config, opt Options) (*Result, error) {
	r, err := newRun(ctx, cfg, opt)
	if err != nil {
		return r.res, err
	}
	fit, err := r.fitted(ctx)
	if err != nil {
		return r.res, err
	}
	st, fit, err := r.compute(ctx, nil, fit, "")
	if err != nil {
		return r.res, err
	}
	res := r.res
	res.Attempt, res.Inputs = r.attempt(st)
	fit.Attempt = res.Attempt
	err = r.stage("publish", func(l zerolog.Logger) error {
		pub := publish.New(r.out, r.asOf, res.Attempt)
		err := func() error {
			// The report's spreads, taken while the customer tables are
			// written (see output.WriteCustomerTables).
			spreads := make(chan stages.SegmentSpreads, 1)
			go func() { spreads <- stages.ValuesOf(st.Run).Spreads() }()
			cp, err := output.WriteCustomerTables(ctx, pub, st, 0)
			if err != nil {
				return err
			}
			cp.Inputs = res.Inputs
			res.Segments, res.Drift, err = output.WriteRunTables(ctx, l, pub, r.outputRun(fit), cp, <-spreads)
			return err
		}()
		return r.commit(ctx, l, pub, err)
	})
	return res, err
}

// commit commits pub's run unless err (or the BeforeCommit check) says
// not to, in which case it removes what pub wrote if it may.
func (r *run) commit(ctx context.Context, l zerolog.Logger, pub *publish.Publisher, err error) error {
	if err == nil && r.opt.BeforeCommit != nil {
		err = r.opt.BeforeCommit(ctx)
	}
	if err != nil {
		r.abort(ctx, l, pub)
		return err
	}
	m, err := pub.Commit(ctx, publish.Manifest{RunID: r.opt.RunID, ConfigHash: r.res.ConfigHash})
	var ce *publish.CleanupError
	switch {
	case errors.As(err, &ce):
		l.Warn().Err(err).Msg("run committed; the next run of the date finishes its clean-up")
		err = nil
	case errors.Is(err, publish.ErrCommitUncertain):
		// The manifest may still land and name everything pub wrote.
	case err != nil:
		r.abort(ctx, l, pub) // failed before the commit point
	}
	if err != nil {
		return err
	}
	r.res.Manifest = *m
	return nil
}

// abort removes what pub wrote, on a context of its own (the run's may be
// the cancelled one that stopped it), unless the run may no longer hold
// its date: then another process may be writing and committing the same
// keys, and the next run of the date removes the leftovers instead.
func (r *run) abort(ctx context.Context, l zerolog.Logger, pub *publish.Publisher) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publish.SettleTimeout)
	defer cancel()
	if r.opt.BeforeCommit != nil {
		// BeforeCommit renews the date's lease: it fails once the lease
		// is another process's.
		if err := r.opt.BeforeCommit(actx); err != nil {
			l.Warn().Err(err).Msg("not removing this attempt's objects: the date may have another holder; the next run of the date will")
			return
		}
	}
	if err := pub.Abort(actx); err != nil {
		l.Warn().Err(err).Msg("could not remove this attempt's objects; the next run of the date will")
	}
}

// StorageOptions are the object-store settings of cfg.
func StorageOptions(cfg *config.Config) storage.Options {
	s := cfg.Storage.S3
	return storage.Options{S3: storage.S3Options{
		Endpoint: s.Endpoint, Region: s.Region, PathStyle: s.PathStyle, MaxAttempts: s.MaxAttempts,
		MaxBackoff: s.Backoff(),
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
	spec := extract.Spec{AsOf: asOf, Location: cfg.Location(), Orders: tbl(&cfg.Input.Orders), Rules: orderRules(cfg)}
	for _, m := range cfg.Input.Orders.Measures {
		spec.Orders.Own = append(spec.Orders.Own, extract.Own{Name: m.FeatureName(), Column: m.Column})
	}
	if fx := cfg.Input.FX; fx != nil {
		spec.FX = &extract.FX{Table: tbl(&config.Table{Path: fx.Path, Format: fx.Format, Columns: fx.Columns, CSV: fx.CSV}),
			Reporting: fx.ReportingCurrency}
	}
	if cfg.Input.Customers != nil {
		c := tbl(cfg.Input.Customers)
		for _, a := range cfg.Input.Customers.Attributes {
			c.Own = append(c.Own, extract.Own{Name: a.FeatureName(), Column: a.Column, Categorical: a.Type == "categorical"})
		}
		spec.Customers = &c
	}
	if cfg.Input.Events != nil {
		e := tbl(cfg.Input.Events)
		spec.Events = &e
	}
	return spec
}

// featureOptions are the feature engine's options for cfg: the CLV stage
// needs each customer's repeat spend, and the holdout check the purchase
// days of the calibration period.
func featureOptions(cfg *config.Config) features.Options {
	o := cfg.Features.Options()
	o.Workers = cfg.Workers
	if t := cfg.Input.Customers; t != nil {
		for _, a := range t.Attributes {
			o.Own = append(o.Own, features.OwnAttribute{Name: a.FeatureName(), Column: a.Column, Categorical: a.Type == "categorical"})
		}
	}
	for _, m := range cfg.Input.Orders.Measures {
		o.Measures = append(o.Measures, features.Measure{Name: m.FeatureName(), Column: m.Column})
	}
	if cfg.CLV.On() {
		o.Repeat = true
		o.CalibrationDays = cfg.CLV.Holdout()
	}
	return o
}

// orderRules are the rules cfg reads the orders with. The filters were
// checked when the configuration was loaded.
func orderRules(cfg *config.Config) *extract.Rules {
	o := &cfg.Input.Orders
	r := &extract.Rules{Lines: o.LineGrain(), GuestsBad: cfg.Quality.GuestsBad(), ZeroPurchases: o.ZeroAmount == "purchase",
		IDs: extract.IDNorm{Trim: cfg.Input.IDs.TrimOn(), IntegerFloats: cfg.Input.IDs.IntegerFloatsOn()}}
	schema := extract.RuleSchema(o.Columns)
	if o.Returns != nil {
		r.Returns, _ = audience.Compile(o.Returns.When, schema)
	}
	for _, e := range o.Exclude {
		f, _ := audience.Compile(e.When, schema)
		r.Exclude = append(r.Exclude, extract.NamedFilter{Name: e.Name, Filter: f})
	}
	return r
}

// StaleError: the newest accepted order is older than
// quality.max_staleness_days before the as-of date. A quality failure.
type StaleError struct {
	AsOf, Newest time.Time
	Limit        int
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("stale inputs: the newest accepted order is of %s, %d days before the as-of date %s; quality.max_staleness_days allows %d",
		e.Newest.Format(DateLayout), int(e.AsOf.Sub(e.Newest).Hours()/24), e.AsOf.Format(DateLayout), e.Limit)
}

// checkStale fails a run whose inputs end too long before its as-of day.
func checkStale(cfg *config.Config, ds *extract.Dataset) error {
	limit := cfg.Quality.StalenessDays()
	if limit < 0 || ds.Location == nil || ds.Orders == 0 || ds.LastOrder == extract.NoTime {
		return nil
	}
	newest := time.UnixMicro(ds.LastOrder).In(ds.Location)
	y, m, d := newest.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, ds.Location)
	if ds.AsOf.Sub(day) > time.Duration(limit)*24*time.Hour+time.Hour { // an hour for a DST day
		return &QualityError{Table: "orders", Stale: &StaleError{AsOf: ds.AsOf, Newest: day, Limit: limit}}
	}
	return nil
}

func checkGate(cfg *config.Config, ds *extract.Dataset) error {
	limit := cfg.Quality.Fraction()
	for _, table := range []string{"orders", "customers"} {
		rows := ds.Quality.RowsRead[table]
		bad := ds.Quality.BadRows(table)
		if rows > 0 && float64(bad) > limit*float64(rows) {
			qe := &QualityError{Table: table, Bad: bad, Rows: rows, Limit: limit}
			if n := ds.Quality.Bad[table][extract.ReasonConflictingOrder]; n > 0 {
				qe.Hint = fmt.Sprintf("%d rows (%s) share an order_id with a different row: if the rows are order lines, set input.orders.grain: line",
					n, extract.ReasonConflictingOrder)
			}
			return qe
		}
		// One quarantined row can be most of a file — a line of 200 MB, a
		// stray quote's run of lines — so the bytes of the bad rows are
		// held to the same limit, where the input gives rows a size.
		bytes, badBytes := ds.Quality.BytesRead[table], ds.Quality.BadBytes[table]
		if bytes > 0 && float64(badBytes) > limit*float64(bytes) {
			return &QualityError{Table: table, Bad: badBytes, Rows: bytes, Limit: limit, Bytes: true}
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
	if err := output.CheckContacts(ctx, cfg, spec); err != nil {
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

// releaseMemory hands the memory the stages before left free back to the
// system: Go keeps freed pages for reuse, and a stage that needs less than
// the one before would otherwise hold, and report, the larger one's peak.
// What the next stage allocates is faulted in anew, at a fraction of a
// millisecond a MiB. Below releaseAbove of heap it is not worth its
// collection: a run of a few thousand customers (the tests, a small shop
// under the daemon) took a third longer with one per stage.
func releaseMemory() {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 && s[1].Value.Kind() == metrics.KindUint64 &&
		s[0].Value.Uint64()+s[1].Value.Uint64() >= releaseAbove {
		debug.FreeOSMemory()
	}
}

// releaseAbove is the heap, live and dead, from which releaseMemory
// collects.
const releaseAbove = 64 << 20

// readLater reports whether a stage after the features one reads column
// c: every column when the table is published; otherwise the features the
// clusters are fitted on and the category and channel shares (the segment
// summaries' top categories and best channel, the recommendations).
func readLater(cfg *config.Config, c *features.Column) bool {
	if cfg.Features.Publish {
		return true
	}
	if c.Kind == features.Share && (c.Group == "category" || c.Group == "channel") {
		return true
	}
	if c.Family == features.Own { // the audiences' own columns
		return true
	}
	if cfg.Cluster.On() {
		for _, f := range cfg.Cluster.FeatureList() {
			if f.Name == c.Name {
				return true
			}
		}
	}
	return false
}
