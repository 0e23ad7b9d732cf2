package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/jobs/internal/shoptest"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
)

// noChurnShop replaces the fixture's input with an orders table in which
// nobody ever leaves (lognormal purchase propensities, orders uniform over
// two years), every order of amount(i), and a configuration of only those
// orders.
func noChurnShop(t *testing.T, f *fixture, amount func(rng *rand.Rand) float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 2025))
	const customers, orders = 800, 8000
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
		fmt.Fprintf(&b, "c%04d,%s,%.2f\n", c, ts.Format(time.RFC3339), amount(rng))
	}
	f.in = &faulty{Bucket: objstore.NewMem()}
	if err := f.in.Upload(context.Background(), "orders/orders.csv", strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	f.cfg.Input.Orders = config.Table{Path: "orders", Format: "csv",
		Columns: map[string]string{"customer_id": "customer_id", "order_ts": "order_ts", "amount": "amount"}}
	f.cfg.Input.Customers, f.cfg.Input.Events = nil, nil
	off := false
	f.cfg.Cluster.Enabled = &off
	f.cfg.Recommendations.Enabled = &off
	f.cfg.Audiences = nil
}

// TestUnfittableModelNotRetried: a model that cannot be fitted on the
// data is no transient failure. Where the run can publish without it (a
// Gamma-Gamma fit on spend that never varies), the first try succeeds with
// the model's columns null and the reason in model.json; where the
// configuration asks to fail (clv.no_dropout: fail on data nobody leaves),
// the run fails once, with a *pipeline.ModelError, and is not retried.
func TestUnfittableModelNotRetried(t *testing.T) {
	ctx := context.Background()
	const asOf = "2024-12-31" // the orders' last day
	t.Run("published without it", func(t *testing.T) {
		f := newFixture(t)
		noChurnShop(t, f, func(*rand.Rand) float64 { return 25 })
		f.runner = f.newRunner(t, nil)
		out, err := f.runner.Run(ctx, Request{AsOf: shoptest.Date(t, asOf), Trigger: ledger.Schedule,
			Retries: 3, Backoff: time.Millisecond})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		recs, err := f.runner.Ledger().List(ctx, ledger.Query{AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Status != ledger.Succeeded || out.Record.Try != 1 {
			t.Fatalf("%d ledger records, want one success", len(recs))
		}
		data, err := objstore.ReadAll(ctx, f.out, "models/dt="+asOf+"/model.json")
		if err != nil {
			t.Fatal(err)
		}
		var m output.Model
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.CLV == nil || len(m.CLV.Unfitted) != 1 || m.CLV.Unfitted[0].Model != "spend" || m.CLV.Unfitted[0].Reason == "" {
			t.Fatalf("model.json clv: %+v", m.CLV)
		}
	})
	t.Run("asked to fail", func(t *testing.T) {
		f := newFixture(t)
		noChurnShop(t, f, func(rng *rand.Rand) float64 { return math.Round(100*math.Exp(3.5+0.8*rng.NormFloat64())) / 100 })
		f.cfg.CLV.NoDropout = "fail"
		f.runner = f.newRunner(t, nil)
		_, err := f.runner.Run(ctx, Request{AsOf: shoptest.Date(t, asOf), Trigger: ledger.Schedule,
			Retries: 3, Backoff: time.Millisecond})
		var me *pipeline.ModelError
		if !errors.As(err, &me) || me.Model != "purchase" || Retryable(err) || ExitCode(err) != ExitFailure {
			t.Fatalf("error %v (%T), want a purchase *pipeline.ModelError, not transient, exit 1", err, err)
		}
		recs, err := f.runner.Ledger().List(ctx, ledger.Query{AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Status != ledger.Failed {
			t.Fatalf("%d ledger records, want one failure (no retry)", len(recs))
		}
	})
}

// TestRetryableModelError: only runtime failures that are not models
// unfittable on the data are retried.
func TestRetryableModelError(t *testing.T) {
	me := &pipeline.ModelError{Model: "spend", Name: "gamma-gamma", Err: errors.New("not identified")}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("503 SlowDown"), true},
		{me, false},
		{fmt.Errorf("stage clv: %w", me), false},
		{&pipeline.ConfigError{Err: errors.New("bad")}, false},
		{&pipeline.QualityError{Table: "orders"}, false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
