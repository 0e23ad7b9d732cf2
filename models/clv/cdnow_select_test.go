package clv

import (
	"context"
	"fmt"
	"testing"
)

// On the CDNOW sample (calibration to 1997-09-30, holdout to 1998-06-30,
// 39 weeks): every model fits, the selection ranks them, and the 90 %
// predictive count intervals of the chosen model cover the real holdout
// counts of at least 85 % of customers.
func TestSelectAndIntervalsOnCDNOW(t *testing.T) {
	ctx := context.Background()
	tr := loadCDNOWSample(t)
	s := sampleSummary(t)
	hold, err := HoldoutCounts(tr.cust, tr.day, tr.n, cdnowCalEnd, epochDay("1998-06-30"))
	if err != nil {
		t.Fatal(err)
	}
	x, tx, T, _ := present(s)
	var h []float64
	for i := range s.X {
		if s.Present[i] {
			h = append(h, hold[i])
		}
	}
	if len(h) != len(x) {
		t.Fatalf("%d holdout counts for %d customers", len(h), len(x))
	}
	tau := 39.0
	sel, err := SelectPurchaseModel(ctx, x, tx, T, h, tau, SelectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sel.Ranked() {
		fmt.Printf("CDNOW holdout: %-7s log-lik %.2f  MAE %.4f  (calibration log-lik %.2f)\n", c.Name, c.HoldoutLogLik, c.HoldoutMAE, c.LogLik)
	}
	fmt.Println("CDNOW choice:", sel.Reason)
	if sel.Ranked()[0].Name != sel.Name {
		t.Errorf("chose %s, best ranked %s", sel.Name, sel.Ranked()[0].Name)
	}
	u, err := PurchaseUncertainty(sel.Model, x, tx, T, 0)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := u.Intervals(0.9)
	fmt.Printf("CDNOW %s parameters %v: 90%% intervals low %.4g high %.4g\n", sel.Name, u.Names, lo, hi)
	iv, err := PurchaseIntervals(ctx, u, x, tx, T, tau, IntervalOptions{Draws: 50})
	if err != nil {
		t.Fatal(err)
	}
	var c float64
	for i := range x {
		if iv.CountLow[i] <= h[i] && h[i] <= iv.CountHigh[i] {
			c++
		}
	}
	rate := c / float64(len(x))
	fmt.Printf("CDNOW: 90%% predictive count intervals of %s cover %.3f of %d customers' holdout counts\n", sel.Name, rate, len(x))
	if rate < 0.85 {
		t.Errorf("predictive coverage %.3f on CDNOW, want ≥ 0.85", rate)
	}
}
