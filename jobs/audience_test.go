package jobs

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/racetest"
)

// TestDemoAudiencesAgainstDuckDB reads every audience the demo publishes,
// as Parquet and as CSV, with DuckDB and compares it with its definition
// written as SQL over the segments table: same customers, same values.
func TestDemoAudiencesAgainstDuckDB(t *testing.T) {
	racetest.Skip(t, "a DuckDB cross-check of the published numbers")
	dir, res := sharedDemo(t)
	out := filepath.Join(dir, "output")
	asOf := res.Run.AsOf
	m := readModel(t, out, asOf)
	seg := fmt.Sprintf("read_parquet('%s/segments/dt=%s/part-*.parquet')", out, asOf)
	cases := []struct {
		name, where, cols string
	}{
		{"win-back", `rfm_segment IN ('At Risk', 'Can''t Lose Them') AND clv > 50`, "customer_id, rfm_segment, clv, p_alive, monetary_value, last_order_at"},
		{"vip", `rfm_segment = 'Champions' AND p_alive >= 0.9`, "customer_id, rfm_segment, p_alive"},
	}
	if len(m.Audiences) != len(cases) {
		t.Fatalf("model.json lists %d audiences, want %d", len(m.Audiences), len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			part := func(ext string) string {
				return fmt.Sprintf("%s/audiences/name=%s/dt=%s/part-*.%s", out, tc.name, asOf, ext)
			}
			r := duckdbtest.Query(t, fmt.Sprintf(`WITH want AS (SELECT %[1]s FROM %[2]s WHERE %[3]s),
pq AS (SELECT %[1]s FROM read_parquet('%[4]s')),
cs AS (SELECT %[1]s FROM read_csv('%[5]s', header=true, auto_detect=true))
SELECT (SELECT count(*) FROM want) AS want,
  (SELECT count(*) FROM pq) AS parquet, (SELECT count(*) FROM cs) AS csv,
  (SELECT count(*) FROM (SELECT * FROM want EXCEPT SELECT * FROM pq)) AS missing_pq,
  (SELECT count(*) FROM (SELECT * FROM pq EXCEPT SELECT * FROM want)) AS extra_pq,
  (SELECT count(*) FROM (SELECT customer_id FROM want EXCEPT SELECT CAST(customer_id AS VARCHAR) FROM cs)) AS missing_csv,
  (SELECT max(abs(w.p_alive - c.p_alive)) FROM want w JOIN cs c ON w.customer_id = CAST(c.customer_id AS VARCHAR)) AS csv_p_alive_diff`,
				tc.cols, seg, tc.where, part("parquet"), part("csv")))[0]
			want := num(t, r["want"])
			if want == 0 {
				t.Fatalf("the %s audience is empty on the demo data; the test would prove nothing", tc.name)
			}
			if num(t, r["parquet"]) != want || num(t, r["csv"]) != want || num(t, r["missing_pq"]) != 0 || num(t, r["extra_pq"]) != 0 || num(t, r["missing_csv"]) != 0 {
				t.Errorf("audience %s: %v", tc.name, r)
			}
			if d := num(t, r["csv_p_alive_diff"]); d != 0 {
				t.Errorf("CSV p_alive differs from the table by %g (must be the shortest exact form)", d)
			}
			if m.Audiences[i].Name != tc.name || float64(m.Audiences[i].Customers) != want {
				t.Errorf("model.json audience %+v, want %s with %v customers", m.Audiences[i], tc.name, want)
			}
		})
	}
}
