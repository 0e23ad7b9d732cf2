package pipeline

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/stages"
	"github.com/strata-oss/strata/pipeline/tables"
)

// frequent is a stage added in a test, to show what adding one takes: this
// type and a line in the run's list. It learns the buyers' median
// frequency, flags the customers above it, counts them across shards and
// says so in model.json.
type frequent struct{}

type frequentPart struct{ Flagged int64 }

func (p *frequentPart) Merge(o stages.Part) error { p.Flagged += o.(*frequentPart).Flagged; return nil }

func (frequent) Info() stages.Info      { return stages.Info{Name: "frequent", Reads: []string{"rfm"}} }
func (frequent) On(*config.Config) bool { return true }
func (frequent) NewPart() stages.Part   { return &frequentPart{} }
func (frequent) Decode(data []byte) (any, error) {
	var m float64
	err := json.Unmarshal(data, &m)
	return m, err
}

func (frequent) Fit(_ context.Context, r *stages.Run) (any, error) {
	var f []int
	for c, n := range r.Behaviour.Frequency {
		if r.Behaviour.HasOrders[c] {
			f = append(f, int(n))
		}
	}
	sort.Ints(f)
	return float64(f[len(f)/2]), nil
}

func (frequent) Apply(_ context.Context, r *stages.Run, m any) (any, error) {
	if r.Result("rfm") == nil {
		return nil, stagesError("rfm did not run before frequent")
	}
	flags := make([]bool, r.Behaviour.N)
	for c, n := range r.Behaviour.Frequency {
		flags[c] = float64(n) > m.(float64)
	}
	return flags, nil
}

func (frequent) Columns(_ *stages.Run, res any, _ int32) []tables.OutColumn {
	flags, _ := res.([]bool)
	v := make([]int32, len(flags))
	for i, f := range flags {
		if f {
			v[i] = 1
		}
	}
	return []tables.OutColumn{{Name: "frequent", Type: tables.OutInt32, I32: v}}
}

func (frequent) Sum(_ *stages.Run, res any) stages.Part {
	p := &frequentPart{}
	for _, f := range res.([]bool) {
		if f {
			p.Flagged++
		}
	}
	return p
}

func (frequent) Describe(d *stages.Description, m any) {
	d.Section("frequent", map[string]any{"median_frequency": m, "flagged": d.Parts["frequent"].(*frequentPart).Flagged})
}

type stagesError string

func (e stagesError) Error() string { return string(e) }

// TestAddedStage: a stage added to the list publishes its column, its fitted
// model and its model.json section, in a single-process run and in a
// sharded one (fit, two shards, finish) alike, and an audience may filter
// on its column.
func TestAddedStage(t *testing.T) {
	in := shop(t, 600)
	cfg := demoConfig(t, "")
	cfg.Audiences = append(cfg.Audiences, config.Audience{Name: "frequent", Filter: "frequent = 1"})
	list := append(stages.Default(), frequent{})
	const day = "2025-06-30"
	asOf, _ := time.Parse(DateLayout, day)
	opt := func(out objstore.Bucket) Options {
		return Options{AsOf: asOf, Version: "test", RunID: "r", Logger: zerolog.Nop(), Input: in, Output: out, Stages: list}
	}
	ctx := context.Background()

	single := objstore.NewMem()
	if _, err := Run(ctx, cfg, opt(single)); err != nil {
		t.Fatal(err)
	}
	sharded := objstore.NewMem()
	if _, err := Fit(ctx, cfg, opt(sharded)); err != nil {
		t.Fatalf("fit: %v", err)
	}
	for i := range 2 {
		if _, err := Score(ctx, cfg, opt(sharded), Shard{Index: i, Count: 2}); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	res, err := Finish(ctx, cfg, opt(sharded), 2)
	if err != nil {
		t.Fatalf("finish: %v", err)
	}

	var sections []map[string]any
	for name, out := range map[string]objstore.Bucket{"single": single, "sharded": sharded} {
		m := modelOf(t, out, day)
		sec, ok := m.Stages["frequent"].(map[string]any)
		if !ok {
			t.Fatalf("%s: model.json has no frequent section: %v", name, m.Stages)
		}
		sections = append(sections, sec)
		if !slices.Contains(m.Tables["segments"], "frequent") {
			t.Errorf("%s: segments columns %v", name, m.Tables["segments"])
		}
		man := res.Manifest
		if name == "single" {
			mp, err := publish.ReadManifest(ctx, out, day)
			if err != nil {
				t.Fatal(err)
			}
			man = *mp
		}
		cols := columns(t, out, &man, "segments", "frequent", "frequency", "purchase_days")
		median := sec["median_frequency"].(float64)
		var flagged, above int
		for i := range cols[0] {
			f, _ := strconv.Atoi(cols[1][i])
			if cols[0][i] == "1" {
				flagged++
			}
			if float64(f) > median {
				above++
			}
		}
		if flagged == 0 || flagged != above || float64(flagged) != sec["flagged"].(float64) {
			t.Errorf("%s: %d flagged in the column, %d above the median %v, model.json says %v", name, flagged, above, median, sec["flagged"])
		}
		var audience int
		for _, a := range m.Audiences {
			if a.Name == "frequent" {
				audience = a.Customers
			}
		}
		if audience != flagged {
			t.Errorf("%s: the audience on the stage's column has %d customers, want %d", name, audience, flagged)
		}
	}
	if sections[0]["median_frequency"] != sections[1]["median_frequency"] || sections[0]["flagged"] != sections[1]["flagged"] {
		t.Errorf("single-process %v and sharded %v runs differ", sections[0], sections[1])
	}
}

// TestStageOrder: the stages run after what they read, whatever the list's
// order; a read of an unknown stage and a cycle are errors.
func TestStageOrder(t *testing.T) {
	cfg := demoConfig(t, "")
	order, err := stages.Default().Order(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range order {
		names = append(names, s.Info().Name)
	}
	if want := []string{"rfm", "clv", "cluster", "recommend", "rfm_migration", "drift", "brief"}; !slices.Equal(names, want) {
		t.Errorf("run order %v, want %v (the clusters read the CLV outputs; the brief reads every summary)", names, want)
	}
	if _, err := (stages.List{frequent{}}).Order(cfg); err == nil {
		t.Error("a stage reading a stage not in the list was accepted")
	}
	cyc := stages.List{reader{"a", "b"}, reader{"b", "a"}}
	if _, err := cyc.Order(cfg); err == nil {
		t.Error("a cycle was accepted")
	}
}

// reader is a stage that only reads another.
type reader struct{ name, reads string }

func (r reader) Info() stages.Info                                  { return stages.Info{Name: r.name, Reads: []string{r.reads}} }
func (reader) On(*config.Config) bool                               { return true }
func (reader) Fit(context.Context, *stages.Run) (any, error)        { return nil, nil }
func (reader) Apply(context.Context, *stages.Run, any) (any, error) { return nil, nil }
func (reader) Decode([]byte) (any, error)                           { return nil, nil }
