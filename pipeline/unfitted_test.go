package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/strata-oss/strata/models/clv"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/stages"
)

// modelOf reads a run's model.json.
func modelOf(t *testing.T, out objstore.Bucket, asOf string) output.Model {
	t.Helper()
	data, err := objstore.ReadAll(context.Background(), out, "models/dt="+asOf+"/model.json")
	if err != nil {
		t.Fatal(err)
	}
	var m output.Model
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// nulls counts the "null" values of each column.
func nulls(cols [][]string) []int {
	out := make([]int, len(cols))
	for c, v := range cols {
		for _, x := range v {
			if x == "null" {
				out[c]++
			}
		}
	}
	return out
}

// TestUnfittableModels: a purchase or spend model whose fit fails on the
// data leaves its columns null, says why in model.json, the log and the
// report, and the run publishes everything else.
func TestUnfittableModels(t *testing.T) {
	in := shop(t, 400)
	notIdentified := fmt.Errorf("fit: %w after Newton: Hessian not positive definite: parameters not identified", clv.ErrNotConverged)
	for _, tc := range []struct {
		model     string
		null, set []string
	}{
		{"spend", []string{"expected_avg_spend", "clv", "clv_low", "clv_high", "clv_3m", "clv_6m", "clv_12m"}, []string{"p_alive", "churn_risk", "p_alive_low", "expected_purchases", "rfm_r", "rfm_m", "cluster_id"}},
		{"purchase", []string{"p_alive", "expected_purchases", "clv", "p_alive_low", "p_alive_high",
			"expected_purchases_low", "expected_purchases_high", "clv_low", "clv_high", "churn_risk",
			"expected_next_order_days", "clv_3m", "clv_6m", "clv_12m"}, []string{"expected_avg_spend", "rfm_r", "rfm_m", "cluster_id"}},
	} {
		t.Run(tc.model, func(t *testing.T) {
			// The default stages, with a CLV stage whose fit fails.
			failing := stages.NewCLV()
			if tc.model == "spend" {
				failing.FitSpend = func(context.Context, []float64, []float64, clv.FitOptions) (clv.GammaGamma, clv.FitResult, error) {
					return clv.GammaGamma{}, clv.FitResult{}, notIdentified
				}
			} else {
				failing.FitPurchase = func(context.Context, string, []float64, []float64, []float64, clv.FitOptions) (clv.PurchaseModel, clv.FitResult, error) {
					return nil, clv.FitResult{}, notIdentified
				}
			}
			list := stages.Default()
			for i, s := range list {
				if s.Info().Name == "clv" {
					list[i] = failing
				}
			}
			out := objstore.NewMem()
			res := runOn(t, demoModels(t, ""), in, out, "2025-06-30", list...)
			m := modelOf(t, out, "2025-06-30")
			if m.CLV == nil || len(m.CLV.Unfitted) != 1 {
				t.Fatalf("model.json clv %+v", m.CLV)
			}
			u := m.CLV.Unfitted[0]
			if u.Model != tc.model || !strings.Contains(u.Reason, "not identified") || !slices.Equal(u.Columns, tc.null) {
				t.Errorf("unfitted %+v", u)
			}
			names := append(append([]string{}, tc.null...), tc.set...)
			cols := columns(t, out, &res.Manifest, "segments", names...)
			n := nulls(cols)
			for i, name := range names {
				switch {
				case i < len(tc.null) && n[i] != res.Customers:
					t.Errorf("%s: %d nulls of %d", name, n[i], res.Customers)
				case i >= len(tc.null) && n[i] == res.Customers:
					t.Errorf("%s: all null", name)
				}
			}
			html, err := objstore.ReadAll(context.Background(), out, "reports/dt=2025-06-30/report.html")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(html), "Not fitted: the "+tc.model+" model") {
				t.Error("the report does not say which model was not fitted")
			}
			for _, r := range res.Segments {
				if r.AvgCLV != nil || (tc.model == "purchase" && r.AvgPAlive != nil) {
					t.Errorf("segment %s: avg clv %v, avg p_alive %v", r.Segment, r.AvgCLV, r.AvgPAlive)
				}
			}
		})
	}
}

// TestNoAmount: an orders table without amounts (a purchase panel) runs:
// R and F scores, the purchase model and p_alive are published; M, the
// money features, the spend model and clv are null, and model.json says
// why.
func TestNoAmount(t *testing.T) {
	in, out := shop(t, 400), objstore.NewMem()
	cfg := demoModels(t, "")
	delete(cfg.Input.Orders.Columns, "amount")
	res := runOn(t, cfg, in, out, "2025-06-30")
	m := modelOf(t, out, "2025-06-30")
	if m.CLV == nil || len(m.CLV.Unfitted) != 1 || m.CLV.Unfitted[0].Model != "spend" ||
		!strings.Contains(m.CLV.Unfitted[0].Reason, "no amount") {
		t.Fatalf("model.json clv %+v", m.CLV)
	}
	if !strings.Contains(m.RFM.Note, "no amount") {
		t.Errorf("model.json rfm note %q", m.RFM.Note)
	}
	null := []string{"rfm_m", "rfm_score", "monetary_value", "avg_order_value", "expected_avg_spend", "clv"}
	set := []string{"rfm_r", "rfm_f", "p_alive", "expected_purchases", "rfm_segment"}
	n := nulls(columns(t, out, &res.Manifest, "segments", append(append([]string{}, null...), set...)...))
	for i, name := range append(append([]string{}, null...), set...) {
		if i < len(null) && n[i] != res.Customers || i >= len(null) && n[i] == res.Customers {
			t.Errorf("%s: %d nulls of %d", name, n[i], res.Customers)
		}
	}
	for _, f := range m.Features {
		if f.Unit == "money" && f.Missing != "the orders have no amount" {
			t.Errorf("feature %s: missing %q", f.Name, f.Missing)
		}
	}
}
