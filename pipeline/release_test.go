package pipeline

import (
	"context"
	"slices"
	"testing"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/stages"
)

// heldProbe is a stage of the test that runs after the CLV stage, and
// records which of the inputs that only the stages before it read the run
// still holds.
type heldProbe struct{ held *[]string }

func (heldProbe) Info() stages.Info                             { return stages.Info{Name: "held_probe", Reads: []string{"clv"}} }
func (heldProbe) On(*config.Config) bool                        { return true }
func (heldProbe) Decode([]byte) (any, error)                    { return nil, nil }
func (heldProbe) Fit(context.Context, *stages.Run) (any, error) { return nil, nil }

func (p heldProbe) Apply(_ context.Context, r *stages.Run, _ any) (any, error) {
	b := r.Behaviour
	for name, held := range map[string]bool{
		"Data.Signup": r.Data.Signup != nil, "Data.Known": r.Data.Known != nil,
		"Behaviour.FirstDay": b.FirstDay != nil, "Behaviour.RepeatSpend": b.RepeatSpend != nil,
		"Behaviour.CalDays": b.CalDays != nil, "Behaviour.CalLast": b.CalLast != nil,
	} {
		if held {
			*p.held = append(*p.held, name)
		}
	}
	return nil, nil
}

// TestReleasedAfterReaders: the signup instants and the CLV stage's own
// inputs (first purchase day, repeat spend, the holdout's calibration
// counts) are gone by the time the stage after the CLV one runs; and the
// run, which publishes every stage's columns, tables and sums, still
// succeeds without them, so no later reader was missed (it would index a
// nil slice).
func TestReleasedAfterReaders(t *testing.T) {
	in := shop(t, 600)
	cfg := demoConfig(t, "")
	var held []string
	list := append(stages.Default(), heldProbe{&held})
	runOn(t, cfg, in, objstore.NewMem(), "2025-06-30", list...)
	if len(held) > 0 {
		t.Errorf("after the CLV stage the run still holds %v", held)
	}
}

// TestClusterBeforeCLV: the cluster stage's k-means runs before the CLV
// stage, so that its peak does not hold the CLV columns, and its names,
// which read P(alive), after; with the clusters on a CLV output, k-means
// runs after the CLV stage as it reads.
func TestClusterBeforeCLV(t *testing.T) {
	in := shop(t, 600)
	onCLV := []config.ClusterFeature{{Name: "p_alive", Scale: "zscore"}, {Name: "frequency", Scale: "log1p+zscore"}}
	for _, tc := range []struct {
		features []config.ClusterFeature
		want     []string
	}{
		{nil, []string{"rfm", "cluster", "clv", "cluster_names", "recommend"}},
		{onCLV, []string{"rfm", "clv", "cluster", "recommend"}},
	} {
		cfg := demoConfig(t, "")
		if tc.features != nil {
			cfg.Cluster.Features = tc.features
		}
		res := runOn(t, cfg, in, objstore.NewMem(), "2025-06-30")
		var got []string
		for _, s := range res.Stages {
			if slices.Contains(tc.want, s.Stage) {
				got = append(got, s.Stage)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("features %v: stages ran in the order %v, want %v", tc.features, got, tc.want)
		}
	}
}
