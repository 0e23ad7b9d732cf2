package pipeline

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/strata-oss/strata/internal/racetest"
	"github.com/strata-oss/strata/models/clv"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/stages"
)

// TestAutoModelChoice: with clv.model auto (the default) model.json's clv
// section scores every candidate on the holdout, and the published model
// is the best one's, or — when the best cannot be refitted on the whole
// history — the next best that can; never worse than the worst candidate.
// A named model is fitted as named, with no selection.
func TestAutoModelChoice(t *testing.T) {
	racetest.Skip(t, "a study of the model choice; the fits' worker pools are race-checked in models/clv")
	in := shop(t, 1500)
	refuse := func(name string) stages.CLV {
		s := stages.NewCLV()
		s.FitPurchase = func(ctx context.Context, model string, x, tx, T []float64, o clv.FitOptions) (clv.PurchaseModel, clv.FitResult, error) {
			if model == name {
				return nil, clv.FitResult{}, errors.New("refused by the test")
			}
			return clv.FitPurchaseModel(ctx, model, x, tx, T, o)
		}
		return s
	}
	for _, tc := range []struct {
		name, extra string
		metric      string
		// refuseBest: the best candidate's refit fails.
		refuseBest bool
		forced     string
	}{
		{name: "log-likelihood", metric: "log_likelihood"},
		{name: "mae", extra: "  select_by: mae\n", metric: "mae"},
		{name: "best refit fails", metric: "log_likelihood", refuseBest: true},
		{name: "named model", extra: "  model: pnbd\n", forced: "pnbd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := demoModels(t, "")
			cfg.CLV.Model = "auto"
			noBounds := 0 // the choice is the test, not the bounds (3-4× the run's time)
			cfg.CLV.IntervalDraws = &noBounds
			if tc.forced != "" {
				cfg.CLV.Model = tc.forced
			}
			if tc.metric == "mae" {
				cfg.CLV.SelectBy = "mae"
			}
			var list []stages.Stage
			if tc.refuseBest {
				// Find the winner first, then refuse its refit.
				out := objstore.NewMem()
				runOn(t, cfg, in, out, "2025-06-30")
				best := modelOf(t, out, "2025-06-30").CLV.Selection.Chosen
				list = stages.Default()
				for i, s := range list {
					if s.Info().Name == "clv" {
						list[i] = refuse(best)
					}
				}
			}
			out := objstore.NewMem()
			runOn(t, cfg, in, out, "2025-06-30", list...)
			m := modelOf(t, out, "2025-06-30").CLV
			if tc.forced != "" {
				if m.Selection != nil || m.PurchaseModel != tc.forced {
					t.Fatalf("clv.model %s: published %s, selection %+v", tc.forced, m.PurchaseModel, m.Selection)
				}
				return
			}
			sel := m.Selection
			if sel == nil || sel.Metric != tc.metric || len(sel.Candidates) != 3 {
				t.Fatalf("selection %+v", sel)
			}
			if sel.Chosen != m.PurchaseModel {
				t.Errorf("chosen %s, published %s", sel.Chosen, m.PurchaseModel)
			}
			better := func(a, b float64) bool {
				if tc.metric == "mae" {
					return a < b
				}
				return a > b
			}
			var chosen, best, worst *stages.CandidateScore
			marked := 0
			for i := range sel.Candidates {
				c := &sel.Candidates[i]
				if c.Error != "" {
					continue
				}
				// The score is the metric's value, restated from the two
				// scores every candidate records.
				want := c.HoldoutLogLik
				if tc.metric == "mae" {
					want = c.HoldoutMAE
				}
				if c.Score != want {
					t.Errorf("%s: score %v, its %s is %v", c.Name, c.Score, tc.metric, want)
				}
				if best == nil || better(c.Score, best.Score) {
					best = c
				}
				if worst == nil || better(worst.Score, c.Score) {
					worst = c
				}
				if c.Chosen {
					chosen = c
					marked++
				}
			}
			if marked != 1 || chosen.Model != m.PurchaseModel {
				t.Fatalf("%d candidates marked chosen (%+v), published %s", marked, chosen, m.PurchaseModel)
			}
			if better(worst.Score, chosen.Score) {
				t.Errorf("chosen %s scores %v, worse than the worst candidate %s (%v)", chosen.Name, chosen.Score, worst.Name, worst.Score)
			}
			if tc.refuseBest {
				if chosen.Model == best.Model {
					t.Errorf("the best (%s) could not be refitted, yet %s was published", best.Model, chosen.Model)
				}
				return
			}
			if chosen.Score != best.Score || math.IsNaN(chosen.Score) {
				t.Errorf("chosen %s scores %v, the best %s %v; reason %q", chosen.Name, chosen.Score, best.Name, best.Score, sel.Reason)
			}
		})
	}
}
