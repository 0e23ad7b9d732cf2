package pipeline

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/strata-oss/strata/configs"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
)

// TestOwnFeaturesInRun: the user's own attributes and measures are
// features like the built-in ones: clustered on, profiled in the summary
// and the report, filtered on by audiences, published in the features
// table when publish_personal lists them and withheld when it does not.
func TestOwnFeaturesInRun(t *testing.T) {
	in, out := shop(t, 400), objstore.NewMem()
	cfg := ownConfig(t, "privacy:\n  publish_personal: [units, job]\n"+
		"audiences:\n  - {name: bulk, filter: 'units_total > 10 and job != \"nobody\"', columns: [customer_id, units_total, job]}\n")
	cfg.Cluster.Features = append(cfg.Cluster.FeatureList(), config.ClusterFeature{Name: "units_total", Scale: "log1p+zscore"})
	res := runOn(t, cfg, in, out, "2025-06-30")
	m := modelOf(t, out, "2025-06-30")
	feats := m.Tables["features"]
	var jobs int
	for _, c := range feats {
		if strings.HasPrefix(c, "job_") {
			jobs++
		}
	}
	if !slices.Contains(feats, "units_total") || !slices.Contains(feats, "units_share") || jobs < 3 || slices.Contains(feats, "wealth") {
		t.Errorf("features columns %v", feats)
	}
	if m.Privacy == nil || !slices.Contains(m.Privacy.Withheld, "wealth") {
		t.Errorf("privacy %+v: wealth should be withheld", m.Privacy)
	}
	if m.Cluster == nil || !slices.Contains(m.Cluster.Features, "units_total") {
		t.Fatalf("cluster %+v", m.Cluster)
	}
	sum := columns(t, out, &res.Manifest, "segment_summary", "mean_units_total")[0]
	if len(sum) == 0 || slices.Contains(sum, "null") && len(slices.Compact(slices.Clone(sum))) == 1 {
		t.Errorf("segment_summary mean_units_total %v", sum)
	}
	var bulk *output.AudienceResult
	for i := range m.Audiences {
		if m.Audiences[i].Name == "bulk" {
			bulk = &m.Audiences[i]
		}
	}
	if bulk == nil || bulk.Customers == 0 || bulk.Customers >= res.Customers {
		t.Errorf("audience bulk %+v of %d customers", bulk, res.Customers)
	}
	html, err := objstore.ReadAll(context.Background(), out, "reports/dt=2025-06-30/report.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "units_total") {
		t.Error("the report does not profile units_total")
	}

	// Not listed in publish_personal, an audience may not select by them.
	_, err = config.Parse(ownYAML("audiences:\n  - {name: bulk, filter: 'units_total > 10'}\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "units_total") || !strings.Contains(err.Error(), "personal") {
		t.Errorf("config: %v, want units_total named personal", err)
	}
}

// ownYAML is the demo configuration with own attributes and measures, and
// extra YAML after it (privacy, audiences: replacing the demo's).
func ownYAML(extra string) []byte {
	y := string(configs.Demo)
	y = strings.Replace(y, "  orders:\n", "  orders:\n    measures: [{column: quantity, name: units}]\n", 1)
	y = strings.Replace(y, "  customers:\n", "  customers:\n    attributes:\n      - {column: occupation, type: categorical, name: job}\n"+
		"      - {column: annual_income, type: numeric, name: wealth}\n", 1)
	if i := strings.Index(y, "\naudiences:"); i >= 0 && strings.Contains(extra, "audiences:") {
		y = y[:i+1] // the demo's audiences are last
	}
	return []byte(y + extra)
}

func noEnv(k string) (string, bool) {
	if k == config.DefaultKeyEnv {
		return testPseudonymKey, true
	}
	return "", false
}

func ownConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(ownYAML(extra), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster.KRange = []int{3, 4}
	return cfg
}
