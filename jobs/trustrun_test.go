package jobs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/racetest"
)

// TestDemoBoundsAndTraits reads the demo's segments table in DuckDB: every
// customer's bounds hold the point value, churn_risk is 1 − p_alive, the
// CLV over 3, 6 and 12 months grows with the horizon (and the 12 months
// are the clv of the demo's 12-month horizon), each column is null exactly
// where the point values are; and under the default model (auto) the
// one-time buyers inactive for over a year average P(alive) below 0.5,
// where BG/NBD gave every one of them 1.
func TestDemoBoundsAndTraits(t *testing.T) {
	racetest.Skip(t, "a DuckDB check of the published bounds")
	dir, res := sharedDemo(t)
	out := filepath.Join(dir, "output")
	seg := fmt.Sprintf("read_parquet('%s/segments/dt=%s/part-*.parquet')", out, res.Run.AsOf)
	rows := duckdbtest.Query(t, fmt.Sprintf(`
SELECT
  count(*) FILTER (WHERE p_alive IS NOT NULL) AS scored,
  count(*) FILTER (WHERE NOT (p_alive_low <= p_alive AND p_alive <= p_alive_high)) AS p_alive_outside,
  count(*) FILTER (WHERE NOT (expected_purchases_low <= expected_purchases AND expected_purchases <= expected_purchases_high)) AS expected_outside,
  count(*) FILTER (WHERE NOT (clv_low <= clv AND clv <= clv_high)) AS clv_outside,
  count(*) FILTER (WHERE p_alive_low < 0 OR p_alive_high > 1) AS p_alive_range,
  count(*) FILTER (WHERE p_alive_high > p_alive_low) AS p_alive_wide,
  coalesce(max(abs(churn_risk - (1 - p_alive))), 1) AS churn_diff,
  count(*) FILTER (WHERE NOT (clv_3m <= clv_6m AND clv_6m <= clv_12m)) AS horizon_order,
  coalesce(max(abs(clv_12m - clv)), 1) AS clv_12m_diff,
  count(*) FILTER (WHERE (p_alive IS NULL) <> (p_alive_low IS NULL) OR (p_alive IS NULL) <> (churn_risk IS NULL)
      OR (clv IS NULL) <> (clv_high IS NULL) OR (clv IS NULL) <> (clv_6m IS NULL)) AS null_mismatch,
  count(*) FILTER (WHERE expected_next_order_days < 0) AS next_negative,
  count(*) FILTER (WHERE purchase_days = 1 AND recency_days > 365) AS lapsed_one_time,
  avg(p_alive) FILTER (WHERE purchase_days = 1 AND recency_days > 365) AS lapsed_one_time_p_alive
FROM %s`, seg))
	r := rows[0]
	t.Logf("%d one-time buyers inactive for over a year average P(alive) %.3f", int(num(t, r["lapsed_one_time"])), num(t, r["lapsed_one_time_p_alive"]))
	if num(t, r["scored"]) < 1000 || num(t, r["p_alive_wide"]) == 0 {
		t.Fatalf("scored %v, with a non-degenerate P(alive) interval %v", r["scored"], r["p_alive_wide"])
	}
	for _, k := range []string{"p_alive_outside", "expected_outside", "clv_outside", "p_alive_range", "horizon_order", "null_mismatch", "next_negative"} {
		if num(t, r[k]) != 0 {
			t.Errorf("%s: %v customers", k, r[k])
		}
	}
	if d := num(t, r["churn_diff"]); d > 1e-12 {
		t.Errorf("churn_risk differs from 1 - p_alive by up to %v", d)
	}
	if d := num(t, r["clv_12m_diff"]); d > 1e-9 {
		t.Errorf("clv_12m differs from the 12-month clv by up to %v", d)
	}
	if num(t, r["lapsed_one_time"]) < 50 || !(num(t, r["lapsed_one_time_p_alive"]) < 0.5) {
		t.Errorf("%v one-time buyers inactive for over a year average P(alive) %v, want below 0.5",
			r["lapsed_one_time"], r["lapsed_one_time_p_alive"])
	}

	clusterNames(t, dir, seg)

	data, err := os.ReadFile(filepath.Join(out, "models", "dt="+res.Run.AsOf, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		CLV struct {
			PurchaseModel string `json:"purchase_model"`
			Selection     *struct {
				Chosen     string            `json:"chosen"`
				Candidates []json.RawMessage `json:"candidates"`
			} `json:"selection"`
			Uncertainty *struct {
				Level float64 `json:"level"`
			} `json:"uncertainty"`
		} `json:"clv"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if s := m.CLV.Selection; s == nil || s.Chosen != m.CLV.PurchaseModel || len(s.Candidates) != 3 {
		t.Errorf("model.json clv: %s with selection %+v", m.CLV.PurchaseModel, s)
	}
	if u := m.CLV.Uncertainty; u == nil || u.Level != 0.9 {
		t.Errorf("model.json clv uncertainty %+v, want the default 90%% level", u)
	}
}

// clusterNames checks the demo's cluster names against its segments table
// in DuckDB: unique, never "recent"/"active" for a cluster whose customers
// are less likely active and longer gone than the average buyer, never
// "lapsed"/"churned" for the opposite; and it reports how well the
// clusters recover the generator's archetypes (adjusted Rand index).
func clusterNames(t *testing.T, dir, seg string) {
	t.Helper()
	rows := duckdbtest.Query(t, fmt.Sprintf(`
WITH b AS (SELECT * FROM %s WHERE cluster_id IS NOT NULL),
pop AS (SELECT avg(p_alive) pa, avg(recency_days) rec FROM b)
SELECT cluster_id, any_value(cluster_name) AS name, count(DISTINCT cluster_name) AS names, count(*) AS n,
  avg(p_alive) < (SELECT pa FROM pop) AND avg(recency_days) > (SELECT rec FROM pop) AS lapsed_side,
  avg(p_alive) > (SELECT pa FROM pop) AND avg(recency_days) < (SELECT rec FROM pop) AS active_side
FROM b GROUP BY cluster_id ORDER BY cluster_id`, seg))
	seen := map[string]bool{}
	for _, r := range rows {
		name := strings.ToLower(r["name"].(string))
		if num(t, r["names"]) != 1 || seen[name] {
			t.Errorf("cluster %v: name %q not unique", r["cluster_id"], name)
		}
		seen[name] = true
		if r["lapsed_side"] == true && (strings.Contains(name, "recent") || strings.Contains(name, "active")) {
			t.Errorf("cluster %v %q: less likely active and longer gone than the average buyer", r["cluster_id"], name)
		}
		if r["active_side"] == true && (strings.Contains(name, "lapsed") || strings.Contains(name, "churned")) {
			t.Errorf("cluster %v %q: more likely active and more recent than the average buyer", r["cluster_id"], name)
		}
		t.Logf("cluster %v %q: %v customers", r["cluster_id"], r["name"], r["n"])
	}
	if len(rows) < 3 {
		t.Errorf("%d clusters", len(rows))
	}
	ari := duckdbtest.Query(t, fmt.Sprintf(`
WITH j AS (SELECT s.cluster_id c, t.archetype a FROM %s s JOIN read_parquet('%s') t USING (customer_id) WHERE s.cluster_id IS NOT NULL),
nij AS (SELECT c, a, count(*) n FROM j GROUP BY c, a),
ai AS (SELECT c, count(*) n FROM j GROUP BY c),
bj AS (SELECT a, count(*) n FROM j GROUP BY a),
s AS (SELECT (SELECT sum(n*(n-1)/2) FROM nij) idx, (SELECT sum(n*(n-1)/2) FROM ai) sa, (SELECT sum(n*(n-1)/2) FROM bj) sb,
  (SELECT count(*)*(count(*)-1)/2 FROM j) tot)
SELECT (idx - sa*sb/tot) / (0.5*(sa+sb) - sa*sb/tot) AS ari FROM s`, seg, filepath.Join(dir, "input", "truth", "customers.parquet")))
	a := num(t, ari[0]["ari"])
	t.Logf("adjusted Rand index of the clusters against the generator's archetypes: %.3f", a)
	if !(a > 0.05) {
		t.Errorf("adjusted Rand index %.3f: the clusters do not follow the archetypes", a)
	}
}
