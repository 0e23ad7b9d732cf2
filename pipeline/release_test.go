package pipeline

import (
	"context"
	"testing"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/stages"
)

// heldProbe is a stage of the test that runs where the cluster stage does,
// after the CLV stage, and records which of the inputs that only the
// stages before it read the run still holds.
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

// TestReleasedBeforeClustering: the signup instants and the CLV stage's own
// inputs (first purchase day, repeat spend, the holdout's calibration
// counts) are gone by the time the stage after the CLV one runs, which is
// where the cluster stage's k-means peaks; and the run, which publishes
// every stage's columns, tables and sums, still succeeds without them, so
// no later reader was missed (it would index a nil slice).
func TestReleasedBeforeClustering(t *testing.T) {
	in := shop(t, 600)
	cfg := demoConfig(t, "")
	var held []string
	list := append(stages.Default(), heldProbe{&held})
	runOn(t, cfg, in, objstore.NewMem(), "2025-06-30", list...)
	if len(held) > 0 {
		t.Errorf("after the CLV stage the run still holds %v", held)
	}
}
