package clv

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/strata-oss/strata/internal/racetest"
)

// Across generated shops with known parameters the 90 % parameter
// intervals (Wald on the log scale from the observed information) cover
// the truth at close to the nominal rate, and the 90 % predictive count
// intervals cover the holdout counts of at least 85 % of customers.
//
// Default: 50 shops of each family (1,000 customers for BG/NBD and MBG/NBD,
// 800 for Pareto/NBD), predictive intervals on 300 customers of the first
// 10 shops of each; STRATA_CLV_REPS=n runs n shops of each family (at
// least 50) and predictive intervals on n. Measured (90 % level):
// parameter coverage 0.930, 0.885 and 0.895; predictive 0.969, 0.969 and
// 0.972, worst shop 0.943.
//
// Pareto/NBD's parameter coverage was once reported at 0.825: that was
// 20 shops, and a shop's four errors are strongly correlated (r with α, s
// with β), so 80 intervals carry the information of about 40; over 60
// shops the standardised errors (ln θ̂ - ln θ)/se have sd 0.92-1.02 and
// mean -0.1 to -0.3 (the MLE's small-sample bias), and profile-likelihood
// intervals cover no better than these Wald intervals on the log scale
// (212 against 214 of 240). The shop whose count intervals covered 16 %
// was a different fault, fixed: see ParamUncertainty.draws. The test
// prints each parameter's coverage and z.
func TestIntervalCoverage(t *testing.T) {
	racetest.Skip(t, "a coverage study over many generated shops; TestSlicePredictionsIndependentOfWorkers race-checks the workers")
	ctx := context.Background()
	families := []struct {
		truth PurchaseModel
		n     int
		reps  int
	}{
		{BGNBD{R: 0.6, Alpha: 8, A: 0.9, B: 2.5}, 1000, reps(50)},
		{MBGNBD{R: 0.6, Alpha: 8, A: 1.2, B: 2.5}, 1000, reps(50)},
		{ParetoNBD{R: 1.2, Alpha: 6, S: 1.5, Beta: 40}, 800, reps(50)},
	}
	predShops := reps(10)
	for _, f := range families {
		var covered, total, failed int
		// Per parameter: intervals covering the truth and the standardised
		// errors z = (ln θ̂ - ln θ)/se, whose mean and sd say whether a
		// shortfall is bias or too-narrow intervals.
		per := map[string]int{}
		zs := map[string][]float64{}
		var pcov, pn float64
		var worst float64 = 1
		for rep := range f.reps {
			rng := rand.New(rand.NewPCG(uint64(rep), 23))
			s := simulateShop(rng, f.n, f.truth, 26, 78, 39)
			m, _, err := FitPurchaseModel(ctx, f.truth.Name(), s.x, s.tx, s.T, FitOptions{})
			if err != nil {
				failed++
				continue
			}
			u, err := PurchaseUncertainty(m, s.x, s.tx, s.T, 0)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := u.Intervals(0.9)
			truth := f.truth.Params()
			se := u.SE()
			for i, name := range u.Names {
				total++
				if lo[i] <= truth[name] && truth[name] <= hi[i] {
					covered++
					per[name]++
				}
				zs[name] = append(zs[name], (u.LogTheta[i]-math.Log(truth[name]))/se[i])
			}
			// Predictive intervals for the first shops, on a subsample,
			// keep the test fast.
			if rep >= predShops {
				continue
			}
			k := min(len(s.x), 300)
			iv, err := PurchaseIntervals(ctx, u, s.x[:k], s.tx[:k], s.T[:k], s.Tau, IntervalOptions{Draws: 60, Seed: uint64(rep)})
			if err != nil {
				t.Fatal(err)
			}
			var c float64
			for i := range k {
				if iv.CountLow[i] <= s.hold[i] && s.hold[i] <= iv.CountHigh[i] {
					c++
				}
				if !(iv.PAliveLow[i] <= iv.PAliveHigh[i] && iv.ExpectedLow[i] <= iv.ExpectedHigh[i] && iv.CountLow[i] <= iv.CountHigh[i]) {
					t.Fatalf("customer %d: inverted interval %+v", i, iv)
				}
			}
			pcov += c
			pn += float64(k)
			worst = math.Min(worst, c/float64(k))
		}
		rate := float64(covered) / float64(total)
		fmt.Printf("intervals %s: parameter 90%% intervals cover the truth in %d of %d (%.3f) over %d shops (%d fits failed); "+
			"predictive 90%% count intervals cover %.3f of %.0f holdout counts over %d shops (worst shop %.3f)\n",
			f.truth.Name(), covered, total, rate, f.reps-failed, failed, pcov/pn, pn, min(predShops, f.reps), worst)
		for _, name := range slices.Sorted(maps.Keys(zs)) {
			m, sd := meanSD(zs[name])
			fmt.Printf("  %s %-5s covered %d of %d; z = (ln θ̂ - ln θ)/se: mean %+.2f, sd %.2f\n", f.truth.Name(), name, per[name], len(zs[name]), m, sd)
		}
		// Binomial sd of the rate over 200 intervals is 0.021; the
		// parameters of a shop are correlated, so allow ±0.08 for the
		// large study and ±0.15 for the small ones.
		tol := 0.08
		if total < 100 {
			tol = 0.15
		}
		if math.Abs(rate-0.9) > tol {
			t.Errorf("%s: parameter coverage %.3f, want 0.90 ± %.2f", f.truth.Name(), rate, tol)
		}
		if pcov/pn < 0.85 {
			t.Errorf("%s: predictive coverage %.3f, want ≥ 0.85", f.truth.Name(), pcov/pn)
		}
		// Pareto/NBD's shop 8, whose draws once fell where P(alive) is
		// NaN, covered 16 %.
		if worst < 0.8 {
			t.Errorf("%s: a shop's predictive coverage is %.3f, want ≥ 0.8 in every shop", f.truth.Name(), worst)
		}
	}
}

func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}

// Intervals and traits over more customers than one parallel chunk are the
// same for any number of workers (and race-free: go test -race).
func TestIntervalsWorkersInvariant(t *testing.T) {
	ctx := context.Background()
	s := simulateShop(rand.New(rand.NewPCG(9, 9)), 5000, BGNBD{R: 0.6, Alpha: 8, A: 0.9, B: 2.5}, 26, 78, 39)
	m, _, err := FitBGNBD(ctx, s.x, s.tx, s.T, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := PurchaseUncertainty(m, s.x, s.tx, s.T, 2)
	if err != nil {
		t.Fatal(err)
	}
	var ivs [2]Intervals
	var trs [2]Traits
	for i, w := range []int{1, 2} {
		if ivs[i], err = PurchaseIntervals(ctx, u, s.x, s.tx, s.T, 13, IntervalOptions{Draws: 4, Workers: w}); err != nil {
			t.Fatal(err)
		}
		if trs[i], err = CustomerTraits(ctx, m, GammaGamma{P: 6, Q: 4, Gamma: 15}, s.x, s.tx, s.T, s.x, TraitOptions{PeriodLength: 4, Workers: w}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range s.x {
		a, b := ivs[0], ivs[1]
		if a.PAliveLow[i] != b.PAliveLow[i] || a.PAliveHigh[i] != b.PAliveHigh[i] || a.CountHigh[i] != b.CountHigh[i] || a.ExpectedHigh[i] != b.ExpectedHigh[i] {
			t.Fatalf("customer %d: intervals differ by workers", i)
		}
		if trs[0].NextPurchase[i] != trs[1].NextPurchase[i] || trs[0].CLV[2][i] != trs[1].CLV[2][i] {
			t.Fatalf("customer %d: traits differ by workers", i)
		}
	}
	sel, err := SelectPurchaseModel(ctx, s.x, s.tx, s.T, s.hold, s.Tau, SelectOptions{Candidates: []string{"bgnbd", "nbd"}, Fit: FitOptions{Workers: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Name != "bgnbd" {
		t.Errorf("BG/NBD shop: chose %s (%s)", sel.Name, sel.Reason)
	}
}

// Wildly uncertain Pareto/NBD parameters (sd 1.5 on the log scale) put
// some draws where the count series lose precision far out; the count
// walk still ends, at no more than the no-drop-out bound.
func TestPurchaseIntervalsExtremeDraws(t *testing.T) {
	truth := ParetoNBD{R: 1.2, Alpha: 6, S: 1.5, Beta: 40}
	u := ParamUncertainty{Names: []string{"r", "alpha", "s", "beta"}, Cov: make([]float64, 16),
		model: func(t []float64) any { return ParetoNBD{R: t[0], Alpha: t[1], S: t[2], Beta: t[3]} }}
	for i, v := range truth.vec() {
		u.LogTheta = append(u.LogTheta, math.Log(v))
		u.Cov[i*4+i] = 1.5 * 1.5
	}
	x := []float64{0, 3, 12, 40, 90}
	tx := []float64{0, 20, 50, 70, 77}
	T := []float64{30, 60, 78, 78, 78}
	start := time.Now()
	iv, err := PurchaseIntervals(context.Background(), u, x, tx, T, 39, IntervalOptions{Draws: 300, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := u.purchaseDraws(IntervalOptions{Draws: 300, Seed: 4, Level: 0.9})
	for i := range x {
		pa := make([]float64, len(ms))
		for d, m := range ms {
			pa[d] = m.PAlive(x[i], tx[i], T[i])
		}
		if cap := nbdMixtureQuantile(ms, pa, x[i], T[i], 39, 0.95); iv.CountHigh[i] > float64(cap) || iv.CountLow[i] > iv.CountHigh[i] {
			t.Errorf("customer %d: count interval [%v, %v], bound %d", i, iv.CountLow[i], iv.CountHigh[i], cap)
		}
	}
	// A walk that ran away (it once ran to k in the thousands) is caught
	// by the bound above and the test's own timeout, not by a stopwatch.
	t.Logf("count intervals %v..%v in %v", iv.CountLow, iv.CountHigh, time.Since(start))
}
