package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/internal/duckdbtest"
)

// writeNoChurnOrders writes an orders CSV in the story of the shared
// benchmark generator (shared/bench/gen_transactions.py): customers with a
// lognormal purchase propensity, orders spread uniformly over two years,
// nobody ever leaving.
func writeNoChurnOrders(t *testing.T, dir string, customers, orders int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 2025))
	cdf := make([]float64, customers)
	var sum float64
	for i := range cdf {
		sum += math.Exp(rng.NormFloat64())
		cdf[i] = sum
	}
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString("customer_id,order_ts,amount\n")
	for range orders {
		u := rng.Float64() * sum
		c := 0
		for cdf[c] < u {
			c++
		}
		ts := start.Add(time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour))))
		fmt.Fprintf(&b, "c%04d,%s,%.2f\n", c, ts.Format(time.RFC3339), math.Round(100*math.Exp(3.5+0.8*rng.NormFloat64()))/100)
	}
	if err := os.MkdirAll(filepath.Join(dir, "orders"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "orders", "orders.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// On data in which nobody drops out, BG/NBD has no estimate; with the
// default clv.no_dropout the run fits the NBD instead, publishes p_alive = 1
// and the NBD's expectations, and says so in model.json. The published
// expected_purchases are checked against (r+x)/(α+T)·t computed by DuckDB
// from the input CSV; with clv.no_dropout: fail the run fails and says why.
func TestCLVNoDropoutFallsBackToNBD(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeNoChurnOrders(t, in, 800, 8000)
	const asOf = "2024-12-31"
	config := func(out, extra string) string {
		return writeConfig(t, dir, `version: 1
input:
  location: `+in+`
  orders: {path: orders, format: csv}
output:
  location: `+filepath.Join(dir, out)+`
cluster: {enabled: false}
clv:
  model: bgnbd
`+extra)
	}
	code, stdout, stderr := strata(t, "run", "--config", config("out", ""), "--as-of", asOf, "--log-level", "error")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	out := filepath.Join(dir, "out")
	data, err := os.ReadFile(filepath.Join(out, "models", "dt="+asOf, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		CLV struct {
			PurchaseModel  string             `json:"purchase_model"`
			RequestedModel string             `json:"requested_model"`
			Reason         string             `json:"reason"`
			Params         map[string]float64 `json:"params"`
			TimeUnitDays   float64            `json:"time_unit_days"`
			HorizonMonths  int                `json:"horizon_months"`
			Customers      int                `json:"customers"`
			RequestedFit   struct {
				StoppedAt map[string]float64 `json:"stopped_at"`
				Gain      float64            `json:"log_likelihood_gain_over_nbd"`
			} `json:"requested_fit"`
			Holdout struct {
				Model     string  `json:"model"`
				Predicted float64 `json:"predicted"`
				Actual    float64 `json:"actual"`
				Error     string  `json:"error"`
			} `json:"holdout"`
		} `json:"clv"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	c := m.CLV
	if c.PurchaseModel != "nbd" || c.RequestedModel != "bgnbd" || len(c.Params) != 2 ||
		!strings.HasPrefix(c.Reason, "no evidence of dropout: the bgnbd likelihood") || !(c.RequestedFit.StoppedAt["b"] > 1e3) || c.RequestedFit.Gain > 1.92 {
		t.Errorf("clv section: %s", data)
	}
	// The holdout refits the NBD on the calibration period and predicts
	// the held-out repeat purchases within 10 %: the data are Poisson.
	if c.Holdout.Model != "nbd" || c.Holdout.Error != "" || !(math.Abs(c.Holdout.Predicted-c.Holdout.Actual) < 0.1*c.Holdout.Actual) {
		t.Errorf("holdout: %+v", c.Holdout)
	}

	// x = purchase days - 1 and T = days from the first to the as-of day,
	// straight from the CSV.
	seg := fmt.Sprintf("read_parquet('%s/segments/dt=%s/part-*.parquet')", out, asOf)
	horizon := float64(c.HorizonMonths) * 365.2425 / 12 / c.TimeUnitDays
	rows := duckdbtest.Query(t, fmt.Sprintf(`SET TimeZone='UTC';
WITH s AS (
  SELECT customer_id, count(DISTINCT CAST(order_ts AS DATE)) - 1 AS x,
    (DATE '%[2]s' - min(CAST(order_ts AS DATE))) / %[3]g AS T
  FROM read_csv('%[1]s/orders/orders.csv', header = true, columns = {'customer_id': 'VARCHAR', 'order_ts': 'TIMESTAMPTZ', 'amount': 'DOUBLE'})
  GROUP BY customer_id
)
SELECT CAST(count(*) AS DOUBLE) AS buyers, CAST(count(p.customer_id) AS DOUBLE) AS scored,
  CAST(count(p.clv) AS DOUBLE) AS with_clv, min(p.p_alive) AS min_p, max(p.p_alive) AS max_p,
  max(abs(p.expected_purchases / ((%[5]g + s.x) / (%[6]g + s.T) * %[7]g) - 1)) AS max_rel_err
FROM s LEFT JOIN %[4]s p USING (customer_id)`, in, asOf, c.TimeUnitDays, seg, c.Params["r"], c.Params["alpha"], horizon))
	r := rows[0]
	n, _ := r["buyers"].(float64)
	if n < 500 || r["scored"] != r["buyers"] || r["with_clv"] != r["buyers"] || r["min_p"] != 1.0 || r["max_p"] != 1.0 {
		t.Errorf("segments: %v", r)
	}
	if e, _ := r["max_rel_err"].(float64); !(e < 1e-9) {
		t.Errorf("expected_purchases differ from (r+x)/(α+T)·t by up to %v relative", r["max_rel_err"])
	}
	if n != float64(c.Customers) {
		t.Errorf("model.json scored %d customers, the CSV has %v buyers", c.Customers, n)
	}

	// Asked to fail, the run fails and says what nbd would have done.
	code, stdout, stderr = strata(t, "run", "--config", config("out-fail", "  no_dropout: fail\n"), "--as-of", asOf, "--log-level", "error")
	if code == 0 || !strings.Contains(stderr, "no evidence of dropout") || !strings.Contains(stderr, "clv.no_dropout is fail") {
		t.Errorf("no_dropout: fail: exit %d\n%s%s", code, stdout, stderr)
	}
}
