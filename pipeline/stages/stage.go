// Package stages holds the model stages of a run behind one contract, and
// the list a run walks.
//
// Every stage has the same life, the shape of scikit-learn's fit/transform
// and Spark ML's Estimator → Model:
//
//	Fit(run)          → model  learned from the population (or the fit's sample);
//	                            serialisable: a sharded run publishes it once
//	Apply(run, model) → result for every customer of this process's run
//
// and may add, through the optional interfaces below, columns to the
// segments table ([Columns]), tables of its own ([Tables]), sums over the
// customers that a sharded run merges across shards ([Summer]), and its
// sections of the summary, the report and model.json ([Describer]).
//
// A run is an ordered [List]. The list's order is the order of the
// segments table's columns. The stages run, and describe themselves in
// the summary, the report and model.json, in the list's order too, except
// that a stage runs after every stage it [Info.Reads] (the clusters read
// the CLV outputs, whose columns come after theirs). [List.Order] checks
// the reads: a stage reading one that is not in the list, or a cycle, is
// an error, not a silent empty column. An [Early] stage may do its work
// before the stages it reads and finish after them (the clusters' k-means
// before the CLV stage, their names after it); its model, columns and
// descriptions keep their place.
//
// # Adding a stage
//
// A new stage is a file of this package (or of its own package) with a
// type implementing [Stage] and the optional interfaces it needs, and one
// line in [Default]. The single-process run, `strata fit`, `strata run
// --shard` and `strata finish` all walk the same list: a stage's model is
// published with the fit under its [Info.Key], its [Summer] parts travel in
// the shard records, and its [Describer] sections are written by whichever
// process writes the run-wide tables. The test TestAddedStage (package
// pipeline) is a stage of a dozen lines that does all of that.
package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/report"
	"github.com/strata-oss/strata/pipeline/tables"
)

// ConfigError says the configuration or the input schema is wrong (exit
// code 2): a stage returns one for a setting it cannot use.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Info names a stage and what it reads.
type Info struct {
	// Name names the stage in timings, logs and errors ("rfm", "clv").
	Name string
	// Key is the model's key in a published fit (JSON); Name if empty.
	Key string
	// Reads are the stages whose results Fit or Apply read.
	Reads []string
	// Always: the model's key is written even when the model is nil.
	Always bool
}

func (i Info) key() string {
	if i.Key != "" {
		return i.Key
	}
	return i.Name
}

// Stage is one step of a run's model.
//
// Fit learns the stage's model from run's customers (the whole run, or the
// sample a sharded or sampled run fits on); it returns nil when there is
// nothing to learn. Apply scores run's customers with a model Fit returned,
// possibly in another process after a JSON round trip (see Decode), and
// returns the per-customer result, which the run keeps for the stages after
// it and for the outputs; a nil result means the stage has no output.
// Apply must give the same result for a customer whatever other customers
// the run holds, so that the union of a sharded run's shards is the
// single-process run.
type Stage interface {
	Info() Info
	// On reports whether cfg asks for the stage.
	On(cfg *config.Config) bool
	Fit(ctx context.Context, r *Run) (any, error)
	Apply(ctx context.Context, r *Run, model any) (any, error)
	// Decode reads a model Fit returned from its JSON.
	Decode(data []byte) (any, error)
}

// Columns is a stage that adds columns to the segments table (and so to
// what audiences may filter on). A nil result asks for the columns of a
// run without customers: the schema a configuration publishes.
type Columns interface {
	Columns(r *Run, result any, asOfDay int32) []tables.OutColumn
}

// Table is one per-customer table a stage publishes.
type Table struct {
	Name    string
	Columns []tables.OutColumn
}

// Tables is a stage that publishes per-customer tables of its own: each
// process writes its customers' part.
type Tables interface {
	Tables(r *Run, result any, asOfDay int32) []Table
}

// Reader is a stage that reads objects besides the run's inputs (an
// earlier run's outputs). Inputs names them before the run, for the
// attempt id a sharded run's steps share; Fit or Apply add the same to
// Run.Inputs. What a stage reads may depend on cfg (the campaigns it
// measures).
type Reader interface {
	Inputs(ctx context.Context, cfg *config.Config, out objstore.Bucket, asOf string) ([]extract.Input, error)
}

// Tapper is a stage that reads cleaned orders in the run's own extraction
// rather than in a pass of its own. Before the extraction of the pass that
// fits the models, when that pass reads every customer, the run calls
// Tap with a Run holding the configuration, the as-of date, the output
// bucket and the spec (no customers yet); the function it returns (nil:
// none) is given every order block as features.Options.OrderTap says. Fit
// then finds what it collected; in any other pass Fit reads for itself.
type Tapper interface {
	Tap(ctx context.Context, r *Run) (func(*extract.OrderBlock), error)
}

// Early is a stage that, in some configurations, needs the stages it
// reads only to finish its fitted model: its Fit and Apply read none of
// them. Info.Reads still places its columns, its model and its
// descriptions after theirs. Where Early(cfg) holds, the run calls Fit and
// Apply before the stages it reads, and Finish (timed as FinishName) once
// they have run, when it fitted the model; so the stage's peak does not
// hold what those stages keep. The cluster stage's k-means runs before the
// CLV stage's ten per-customer columns exist (73 bytes a customer, 360 MB
// at 5M customers), and names its clusters, which reads P(alive), after.
type Early interface {
	Early(cfg *config.Config) bool
	FinishName() string
	Finish(ctx context.Context, r *Run, model any) error
}

// Releaser is a stage whose Fit and Apply are the last readers of some of
// the run's per-customer inputs. The run calls Release once Apply has
// returned, and the stage drops them, so that the stages after it do not
// carry them: every 8 bytes a customer that the later stages keep is
// 40 MB of their peaks at 5M customers.
type Releaser interface {
	Release(r *Run)
}

// Part is a stage's sums over one process's customers. A sharded run's
// finishing step merges the shards' parts in shard order; each must be
// JSON-serialisable (it travels in the shard's record).
type Part interface {
	Merge(other Part) error
}

// Summer is a stage that adds up its customers for the run-wide tables.
// Sum runs after every stage has applied; it may read any stage's result.
type Summer interface {
	Sum(r *Run, result any) Part
	// NewPart is an empty part to decode a shard's into.
	NewPart() Part
}

// Describer is a stage with sections in the run-wide outputs, written from
// its fitted model and the merged parts of every stage.
type Describer interface {
	Describe(d *Description, model any)
}

// Description is what the stages say about a whole run: its summary rows,
// report, model.json sections. The process writing the run-wide tables
// fills the run's totals, lets each stage of the list describe itself in
// order, then publishes it.
type Description struct {
	Config *config.Config
	// AsOfDay is the as-of date's day number (the tables' as_of column).
	AsOfDay int32
	// NoAmount: the orders the models were fitted on had no amount.
	NoAmount bool
	// Totals over the run's customers.
	Customers, Buyers, Orders int64
	Revenue                   float64
	// Parts are the merged parts, by stage name.
	Parts map[string]Part
	// Models are the fitted models, by stage name.
	Models map[string]any
	// Spreads are the CLV and P(alive) percentiles by RFM segment, for the
	// report.
	Spreads SegmentSpreads
	// Audiences are the run's audiences with their sizes; Currency the
	// currency of every amount when the orders name one.
	Audiences []Audience
	Currency  string

	Summary []SummaryRow
	// ClusterFeatures are the features the summary's cluster rows profile.
	ClusterFeatures []string
	// Tables are run-wide tables (one part, written by the finishing
	// process), in order.
	Tables []Table
	Report *report.Data
	// The original stages' model.json sections keep their top-level keys.
	RFM             RFMModel
	CLV             *CLVModel
	Cluster         *ClusterModel
	Recommendations *RecommendModel
	// Sections are the model.json sections of the stages added since, under
	// model.json's "stages" by stage name.
	Sections map[string]any
	// Log is the publishing step's logger, for what a stage finds in the
	// whole run (a drift breach).
	Log zerolog.Logger
	// failures are what Fail recorded.
	failures []error
}

// Audience is one audience's size, in all and by RFM segment.
type Audience struct {
	Name      string
	Customers int64
	BySegment map[string]int
}

// Fail records a reason the run must not publish (a breach of a threshold
// the configuration makes fatal). The run describes every stage, then
// fails with every reason before it writes a run-wide table.
func (d *Description) Fail(err error) { d.failures = append(d.failures, err) }

// Err is the reasons Fail recorded, joined; nil when there are none.
func (d *Description) Err() error { return errors.Join(d.failures...) }

// Section adds a stage's model.json section.
func (d *Description) Section(stage string, v any) {
	if d.Sections == nil {
		d.Sections = map[string]any{}
	}
	d.Sections[stage] = v
}

// Run is what the stages of one process's run share: the configuration,
// the customers and their features, and each stage's result so far.
type Run struct {
	Config *config.Config
	AsOf   string // the as-of date, YYYY-MM-DD
	Log    zerolog.Logger
	Data   *extract.Dataset
	// IDs are the customer ids as published: Data.IDs or their pseudonyms.
	IDs       strcol.Column
	Behaviour *features.Behaviour
	// Features holds every feature the later stages read.
	Features *features.Table
	// Out is the run's output bucket, for stages that read earlier runs.
	Out objstore.Bucket
	// Inputs are what the stages read besides the extracted inputs (an
	// earlier run's model): part of the attempt id.
	Inputs []extract.Input
	// Spec is the run's extraction of its inputs for every customer
	// (Keep nil, whatever part of them Data holds), for a stage that
	// streams the cleaned orders again (extract.Stream).
	Spec extract.Spec
	// PublishedID maps an id as read to the id as published (its
	// pseudonym when the run pseudonymises); nil: the same id.
	PublishedID func(raw string) string

	results map[string]any
	scratch map[string]any
}

// SetResult records stage's result (the run does, after Apply).
func (r *Run) SetResult(stage string, v any) {
	if r.results == nil {
		r.results = map[string]any{}
	}
	r.results[stage] = v
}

// Result is stage's result in r, nil when the stage did not run or has
// none.
func (r *Run) Result(stage string) any { return r.results[stage] }

// resultOf is stage's result as a T, nil when absent.
func resultOf[T any](r *Run, stage string) *T {
	v, _ := r.results[stage].(*T)
	return v
}

// keep holds v from a stage's Fit for its Apply in the same process (a
// matrix it would otherwise build again); take returns and forgets it.
func (r *Run) keep(key string, v any) {
	if r.scratch == nil {
		r.scratch = map[string]any{}
	}
	r.scratch[key] = v
}

func (r *Run) take(key string) any {
	v := r.scratch[key]
	delete(r.scratch, key)
	return v
}

// List is the stages of a run, in the order of their columns.
type List []Stage

// Default is the run's stages: what `strata run` walks.
func Default() List {
	return List{RFM{}, Cluster{}, NewCLV(), Recommend{}, RFMMigration{}, Drift{}, Measure{}, Brief{}}
}

// Order returns the stages cfg turns on in the order they run: the list's,
// each stage moved after the stages it reads. A stage reading a stage that
// is not in the list, or is off while it is on, or a cycle, is an error.
func (l List) Order(cfg *config.Config) ([]Stage, error) {
	on := map[string]Stage{}
	known := map[string]bool{}
	for _, s := range l {
		name := s.Info().Name
		if known[name] {
			return nil, fmt.Errorf("stages: %q is listed twice", name)
		}
		known[name] = true
		if s.On(cfg) {
			on[name] = s
		}
	}
	var out []Stage
	done := map[string]bool{}
	var visit func(s Stage, path []string) error
	visit = func(s Stage, path []string) error {
		name := s.Info().Name
		if done[name] {
			return nil
		}
		if slices.Contains(path, name) {
			return fmt.Errorf("stages: %s read each other", strings.Join(append(path, name), " → "))
		}
		for _, dep := range s.Info().Reads {
			d, ok := on[dep]
			if !ok {
				if !known[dep] {
					return fmt.Errorf("stages: %s reads %q, which is not a stage of the run", name, dep)
				}
				continue // off in this configuration: the reader sees no result
			}
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		done[name] = true
		out = append(out, s)
		return nil
	}
	for _, s := range l {
		if _, ok := on[s.Info().Name]; ok {
			if err := visit(s, nil); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Models are a run's fitted models by stage name, published with the fit
// (and read back by the shards) under each stage's key, in run order.
type Models struct {
	Order  []Stage
	ByName map[string]any
}

// Get is stage's model, nil when it has none.
func (m *Models) Get(stage string) any { return m.ByName[stage] }

// Set records stage's model.
func (m *Models) Set(stage string, v any) {
	if m.ByName == nil {
		m.ByName = map[string]any{}
	}
	m.ByName[stage] = v
}

// AppendJSON appends the models as the members of a JSON object (each
// preceded by a comma), in run order.
func (m *Models) AppendJSON(b []byte) ([]byte, error) {
	for _, s := range m.Order {
		info := s.Info()
		v, ok := m.ByName[info.Name]
		if !ok || IsNil(v) && !info.Always {
			continue
		}
		data, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode the %s model: %w", info.Name, err)
		}
		key, _ := json.Marshal(info.key())
		b = append(append(append(append(b, ','), key...), ':'), data...)
	}
	return b, nil
}

// DecodeJSON reads the models of the stages of order from the members of a
// published fit.
func (m *Models) DecodeJSON(order []Stage, members map[string]json.RawMessage) error {
	m.Order = order
	for _, s := range order {
		info := s.Info()
		data, ok := members[info.key()]
		if !ok || string(data) == "null" {
			continue
		}
		v, err := s.Decode(data)
		if err != nil {
			return fmt.Errorf("decode the %s model: %w", info.Name, err)
		}
		m.Set(info.Name, v)
	}
	return nil
}

// IsNil reports whether v is nil or a nil pointer: a stage returned a
// typed nil model (nothing learned).
func IsNil(v any) bool {
	rv := reflect.ValueOf(v)
	return !rv.IsValid() || rv.Kind() == reflect.Pointer && rv.IsNil()
}

// decodeAs decodes data into a new T.
func decodeAs[T any](data []byte) (any, error) {
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	return v, nil
}
