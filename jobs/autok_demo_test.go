package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/racetest"
)

// ariSQL is the Hubert–Arabie adjusted Rand index of the pairs (a, b) a
// query yields, from its contingency table:
//
//	ARI = (Σ C(n_ij,2) - E) / (½(Σ C(a_i,2) + Σ C(b_j,2)) - E),
//	E = Σ C(a_i,2) Σ C(b_j,2) / C(n,2)
func ariSQL(pairs string) string {
	return fmt.Sprintf(`WITH j AS (%s),
ct AS (SELECT a, b, count(*)::DOUBLE n FROM j GROUP BY ALL),
ra AS (SELECT sum(n) n FROM ct GROUP BY a), rb AS (SELECT sum(n) n FROM ct GROUP BY b),
s AS (SELECT (SELECT sum(n*(n-1)/2) FROM ct) idx, (SELECT sum(n*(n-1)/2) FROM ra) sa,
             (SELECT sum(n*(n-1)/2) FROM rb) sb, (SELECT sum(n) FROM ct) tot)
SELECT tot, (idx - sa*sb/(tot*(tot-1)/2)) / ((sa+sb)/2 - sa*sb/(tot*(tot-1)/2)) AS ari FROM s`, pairs)
}

// On the demo shop (20,000 customers, 6 planted archetypes), `strata
// cluster` with the BIC rule on the run's default features finds a
// partition closer to the archetypes than the silhouette's (measured: k 5,
// adjusted Rand 0.199, against k 3 and 0.105, the runs' former default),
// and so do the runs, which now choose k the same way;
// the figures are printed, and the ARI is computed by DuckDB from the
// written labels and the generator's truth table.
func TestChooseKByOnDemoArchetypes(t *testing.T) {
	racetest.Skip(t, "a study of the k rules on the demo shop")
	if testing.Short() {
		t.Skip("-short: a 20,000-customer demo and two k sweeps (about 14 s); scripts/test.sh runs it")
	}
	dir := t.TempDir()
	res := runDemo(t, dir, 20000)
	seg := fmt.Sprintf("read_parquet('%s/output/segments/dt=%s/*.parquet')", dir, res.Run.AsOf)
	truth := fmt.Sprintf("read_parquet('%s/input/truth/customers.parquet')", dir)
	feats := filepath.Join(dir, "features.csv")
	duckdbtest.Query(t, fmt.Sprintf(`COPY (SELECT customer_id, recency_days, frequency, monetary_value, avg_order_value, tenure_days
FROM %s WHERE cluster_id IS NOT NULL ORDER BY customer_id) TO '%s' (HEADER)`, seg, feats))
	run := duckdbtest.Query(t, ariSQL(fmt.Sprintf("SELECT t.archetype a, s.cluster_id b FROM %s s JOIN %s t USING (customer_id) WHERE s.cluster_id IS NOT NULL", seg, truth)))[0]
	runK := duckdbtest.Query(t, fmt.Sprintf("SELECT count(DISTINCT cluster_id) AS k FROM %s", seg))[0]["k"]
	ari := map[string]float64{}
	k := map[string]int{}
	for _, rule := range []string{"bic", "silhouette"} {
		labels := filepath.Join(dir, "labels_"+rule+".csv")
		rep, err := FitClusters(context.Background(), ClusterOptions{Input: feats, Columns: []string{"recency_days", "frequency", "monetary_value", "avg_order_value", "tenure_days"},
			KMin: 3, KMax: 8, NInit: 10, Seed: 42, Scale: "log1p+zscore", SilhouetteSample: 10_000, KRule: rule, Labels: labels, IDCol: "customer_id"})
		if err != nil {
			t.Fatal(err)
		}
		r := duckdbtest.Query(t, ariSQL(fmt.Sprintf("SELECT t.archetype a, l.cluster b FROM read_csv('%s', header=true) l JOIN %s t USING (customer_id)", labels, truth)))[0]
		if int(num(t, r["tot"])) != rep.Rows {
			t.Fatalf("%s: %v labelled buyers joined to the truth, %d clustered", rule, r["tot"], rep.Rows)
		}
		ari[rule], k[rule] = num(t, r["ari"]), rep.K
	}
	fmt.Printf("demo archetypes (6) against clusters of %v buyers: run default k=%d ARI %.3f; strata cluster BIC k=%d ARI %.3f, silhouette k=%d ARI %.3f\n",
		run["tot"], int(num(t, runK)), num(t, run["ari"]), k["bic"], ari["bic"], k["silhouette"], ari["silhouette"])
	if !(ari["bic"] > ari["silhouette"]+0.05) {
		t.Errorf("BIC's partition (k=%d, ARI %.3f) is not clearly closer to the archetypes than the silhouette's (k=%d, %.3f)",
			k["bic"], ari["bic"], k["silhouette"], ari["silhouette"])
	}
	// The run chooses k by the BIC too (it chose by the silhouette before):
	// the same k, and as much closer to the archetypes.
	if int(num(t, runK)) != k["bic"] || !(num(t, run["ari"]) > ari["silhouette"]+0.05) {
		t.Errorf("the run's partition (k=%d, ARI %.3f) is not BIC's (k=%d) or not clearly closer to the archetypes than the silhouette's (%.3f)",
			int(num(t, runK)), num(t, run["ari"]), k["bic"], ari["silhouette"])
	}
}
