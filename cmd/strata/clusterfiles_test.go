package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/racetest"
)

// writePoints writes a CSV of n rows around four planted centres in
// (spend, visits, recency_days), with an id column and, every 50th row, a
// missing spend: rows the fit must skip and label null.
func writePoints(t *testing.T, file string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 5))
	centres := [][3]float64{{20, 1, 300}, {200, 12, 20}, {60, 4, 40}, {600, 3, 200}}
	var b strings.Builder
	b.WriteString("customer,spend,visits,recency_days\n")
	for i := range n {
		c := centres[rng.IntN(len(centres))]
		spend := fmt.Sprintf("%.3f", c[0]*(1+0.1*rng.NormFloat64()))
		if i%50 == 7 {
			spend = ""
		}
		fmt.Fprintf(&b, "u%05d,%s,%.3f,%.3f\n", i, spend, c[1]*(1+0.1*rng.NormFloat64()), c[2]*(1+0.1*rng.NormFloat64()))
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// nearestFromModel is SQL giving the number of rows of labels whose
// cluster differs from the nearest centroid of the model file, recomputed
// from the raw CSV with the file's scaler (log1p+zscore), and the number
// of rows whose cluster is null although every feature is present.
func nearestFromModel(t *testing.T, modelFile, csv, labels string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features []string `json:"features"`
		Scaler   struct {
			Modes []string  `json:"modes"`
			Mean  []float64 `json:"mean"`
			Std   []float64 `json:"std"`
		} `json:"scaler"`
		Centroids [][]float64 `json:"centroids"`
		Names     []string    `json:"names"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	sc := m.Scaler
	var dists []string
	for j, c := range m.Centroids {
		var terms []string
		for i, f := range m.Features {
			if m.Scaler.Modes[i] != "log1p+zscore" {
				t.Fatalf("scaling %q", m.Scaler.Modes[i])
			}
			terms = append(terms, fmt.Sprintf("pow((ln(1 + %s) - %.17g) / %.17g - %.17g, 2)", f, sc.Mean[i], sc.Std[i], c[i]))
		}
		dists = append(dists, fmt.Sprintf("SELECT rn, %d AS id, %s AS d FROM x WHERE %s", j, strings.Join(terms, " + "), notNull(m.Features)))
	}
	names := make([]string, len(m.Names))
	for j, n := range m.Names {
		names[j] = fmt.Sprintf("(%d, '%s')", j, strings.ReplaceAll(n, "'", "''"))
	}
	return duckdbtest.Query(t, fmt.Sprintf(`
WITH x AS (SELECT row_number() OVER () - 1 AS rn, * FROM read_csv('%[1]s', header=true)),
d AS (%[2]s),
best AS (SELECT rn, arg_min(id, d) AS id FROM d GROUP BY rn),
l AS (SELECT * FROM %[3]s),
n(id, name) AS (VALUES %[5]s)
SELECT
  (SELECT count(*) FROM x) AS input_rows,
  (SELECT count(*) FROM l) AS label_rows,
  (SELECT count(*) FROM l JOIN x ON l.row_number = x.rn WHERE l.customer <> x.customer) AS id_wrong,
  (SELECT count(*) FROM best b JOIN l ON l.row_number = b.rn WHERE l.cluster IS DISTINCT FROM b.id) AS wrong,
  (SELECT count(*) FROM l LEFT JOIN best b ON l.row_number = b.rn WHERE (l.cluster IS NULL) <> (b.rn IS NULL)) AS null_wrong,
  (SELECT count(*) FROM l LEFT JOIN n ON l.cluster = n.id WHERE l.cluster_name IS DISTINCT FROM n.name) AS name_wrong,
  (SELECT count(DISTINCT name) FROM n) AS distinct_names,
  %[4]d AS k`, csv, strings.Join(dists, "\nUNION ALL "), labels, len(m.Centroids), strings.Join(names, ", ")))[0]
}

func notNull(cols []string) string {
	var s []string
	for _, c := range cols {
		s = append(s, c+" IS NOT NULL")
	}
	return strings.Join(s, " AND ")
}

// TestClusterLabelsAndModel: `strata cluster --labels --centroids` writes
// one label per input row (null where a feature is missing) equal to the
// nearest centroid of the written model recomputed in SQL from the raw
// CSV; names are unique; `strata cluster --model` applies the saved model
// to new rows with the same check.
func TestClusterLabelsAndModel(t *testing.T) {
	racetest.Skip(t, "a DuckDB cross-check of the written labels")
	dir := t.TempDir()
	train, fresh := filepath.Join(dir, "train.csv"), filepath.Join(dir, "new.csv")
	writePoints(t, train, 2000, 1)
	writePoints(t, fresh, 700, 2)
	model, labels := filepath.Join(dir, "model.json"), filepath.Join(dir, "labels.parquet")
	code, _, stderr := strata(t, "cluster", "--input", train, "--columns", "spend,visits,recency_days", "--scale", "log1p+zscore",
		"--k-range", "2:7", "--labels", labels, "--centroids", model, "--id-col", "customer", "--log-level", "error")
	if code != 0 {
		t.Fatalf("fit: exit %d: %s", code, stderr)
	}
	check := func(what, csv, labels string) {
		r := nearestFromModel(t, model, csv, labels)
		if numOf(t, r["input_rows"]) != numOf(t, r["label_rows"]) {
			t.Errorf("%s: %v input rows, %v labels", what, r["input_rows"], r["label_rows"])
		}
		for _, k := range []string{"id_wrong", "wrong", "null_wrong", "name_wrong"} {
			if numOf(t, r[k]) != 0 {
				t.Errorf("%s: %s = %v", what, k, r[k])
			}
		}
		if numOf(t, r["distinct_names"]) != numOf(t, r["k"]) {
			t.Errorf("%s: %v distinct names for k = %v", what, r["distinct_names"], r["k"])
		}
		if numOf(t, r["k"]) != 4 {
			t.Errorf("%s: k = %v, want the 4 planted groups", what, r["k"])
		}
	}
	check("fit", train, fmt.Sprintf("read_parquet('%s')", labels))
	applied := filepath.Join(dir, "applied.csv")
	code, _, stderr = strata(t, "cluster", "--model", model, "--input", fresh, "--labels", applied, "--id-col", "customer", "--log-level", "error")
	if code != 0 {
		t.Fatalf("apply: exit %d: %s", code, stderr)
	}
	check("apply", fresh, fmt.Sprintf("read_csv('%s', header=true)", applied))
	for _, bad := range [][]string{
		{"cluster", "--model", model, "--input", fresh},
		{"cluster", "--input", train, "--labels", filepath.Join(dir, "l.txt")},
		{"cluster", "--input", train, "--k-rule", "elbow"},
		{"cluster", "--model", filepath.Join(dir, "train.csv"), "--input", fresh, "--labels", applied},
	} {
		if code, _, stderr := strata(t, append(bad, "--log-level", "error")...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", bad, code, stderr)
		}
	}
}
