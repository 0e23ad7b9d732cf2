package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/configs"
	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/leaktest"
	"github.com/strata-oss/strata/internal/racetest"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
)

// outputObjects reads every file under dir (the published tables, the
// manifest, model.json, the report and the run ledger under _strata/).
func outputObjects(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	objs := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		objs[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// pick returns up to n customer ids from a DuckDB query with one column.
func pick(t *testing.T, sql string) []string {
	t.Helper()
	var ids []string
	for _, r := range duckdbtest.Query(t, sql) {
		ids = append(ids, fmt.Sprint(r["customer_id"]))
	}
	if len(ids) == 0 {
		t.Fatalf("no customers from %s", sql)
	}
	return ids
}

// TestSuppressedCustomersAppearNowhere runs the demo, picks customers who
// bought, who have quarantined rows and who are in an audience, puts them
// on a suppression list and runs the date again through the Runner: it
// succeeds, none of their ids is in any byte of any published object, the
// report, model.json or the ledger, and the counts are the first run's
// less theirs.
func TestSuppressedCustomersAppearNowhere(t *testing.T) {
	racetest.Skip(t, "a scan of every published byte")
	dir := t.TempDir()
	first := runDemo(t, dir, 3000)
	in, out := filepath.Join(dir, "input"), filepath.Join(dir, "output")
	asOf := first.Run.AsOf
	part := func(table string) string {
		return fmt.Sprintf("read_parquet('%s/%s/dt=%s/part-*.parquet', hive_partitioning=false)", out, table, asOf)
	}
	buyers := pick(t, fmt.Sprintf("SELECT customer_id FROM %s WHERE frequency > 3 ORDER BY customer_id LIMIT 2", part("segments")))
	quarantined := pick(t, fmt.Sprintf(`SELECT DISTINCT customer_id FROM %s WHERE customer_id <> '' AND reason = 'duplicate_order_id'
UNION SELECT * FROM (SELECT DISTINCT customer_id FROM %s WHERE customer_id <> '' AND reason <> 'duplicate_order_id' ORDER BY 1 LIMIT 2)
ORDER BY 1 LIMIT 3`, part("quarantine"), part("quarantine")))
	audience := pick(t, fmt.Sprintf("SELECT customer_id FROM %s ORDER BY customer_id DESC LIMIT 2", part("audiences/name=win-back")))
	suppressed := slices.Compact(slices.Sorted(slices.Values(slices.Concat(buyers, quarantined, audience))))
	if len(suppressed) < 5 {
		t.Fatalf("suppressing %v: too few to test", suppressed)
	}
	// Each id is somewhere before: the scan below can see them.
	before, err := leaktest.Find(outputObjects(t, out), suppressed...)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range suppressed {
		if !slices.ContainsFunc(before, func(f string) bool { return strings.HasSuffix(f, ": "+id) }) {
			t.Fatalf("%s is in no output of the first run: %v", id, before)
		}
	}
	inSegments := len(duckdbtest.Query(t, fmt.Sprintf("SELECT 1 FROM %s WHERE customer_id IN ('%s')", part("segments"), strings.Join(suppressed, "', '"))))
	quarantinedRows := duckdbtest.Query(t, fmt.Sprintf("SELECT count(*) AS n FROM %s WHERE customer_id IN ('%s')", part("quarantine"), strings.Join(suppressed, "', '")))

	// The list, as an operator would keep it: a CSV under the input.
	list := "customer_id\n" + strings.Join(suppressed, "\n") + "\n"
	if err := os.MkdirAll(filepath.Join(in, "privacy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "privacy", "erasure.csv"), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := strings.ReplaceAll(string(configs.Demo), "${STRATA_DEMO_DIR:-./strata-demo}", dir) +
		"privacy:\n  suppression: {path: privacy, format: csv, column: customer_id}\n"
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(context.Background(), cfg, RunnerOptions{Version: "test", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	o, err := r.Run(context.Background(), Request{AsOf: DemoAsOf, Trigger: ledger.CLI})
	if err != nil {
		t.Fatalf("run with the list: %v", err)
	}
	res := o.Result
	if o.Record.Status != ledger.Succeeded || res == nil {
		t.Fatalf("run %s", o.Record.Status)
	}

	found, err := leaktest.Find(outputObjects(t, out), suppressed...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("suppressed id in %s", f)
	}

	q := res.Quality
	for _, table := range []string{"customers", "orders", "events"} {
		if q.Excluded[table]["suppressed"] == 0 {
			t.Errorf("no %s rows counted as suppressed: %v", table, q.Excluded)
		}
	}
	if res.Customers != first.Run.Customers-inSegments {
		t.Errorf("%d customers, want the first run's %d less the %d suppressed", res.Customers, first.Run.Customers, inSegments)
	}
	var rfmTotal int64
	for _, s := range res.Segments {
		if s.SegmentType == "rfm" {
			rfmTotal += s.Customers
		}
	}
	if rfmTotal != int64(res.Customers) {
		t.Errorf("segment summary counts %d customers, the run %d", rfmTotal, res.Customers)
	}
	rows := duckdbtest.Query(t, fmt.Sprintf(`SELECT (SELECT count(*) FROM %s) AS segments, (SELECT sum(customers) FROM %s WHERE segment_type = 'rfm') AS summary,
  (SELECT count(*) FROM %s) AS quarantine`, part("segments"), part("segment_summary"), part("quarantine")))
	if num(t, rows[0]["segments"]) != float64(res.Customers) || num(t, rows[0]["summary"]) != float64(res.Customers) {
		t.Errorf("published counts %v, want %d customers", rows[0], res.Customers)
	}
	// Their quarantined rows are gone, not moved: suppressed, not bad.
	if got, want := num(t, rows[0]["quarantine"]), float64(first.Run.Manifest.Tables["quarantine"].Rows)-num(t, quarantinedRows[0]["n"]); got != want {
		t.Errorf("%v quarantined rows, want %v", got, want)
	}
	if !slices.ContainsFunc(res.Inputs, func(i extract.Input) bool { return i.Table == "suppression" && i.Key == "privacy/erasure.csv" }) {
		t.Errorf("the list is not among the run's inputs: %v", res.Inputs)
	}
}
