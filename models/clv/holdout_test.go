package clv

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/strata-oss/strata/internal/racetest"
)

// reps returns the replications of a coverage study: STRATA_CLV_REPS if
// set above def (STRATA_CLV_REPS=200 go test -run ...), else def.
func reps(def int) int {
	if v, err := strconv.Atoi(os.Getenv("STRATA_CLV_REPS")); err == nil && v > def {
		return v
	}
	return def
}

// The conditional distribution of future counts is a distribution whose
// mean is the model's conditional expectation.
func TestProbFuturePurchasesMatchesExpectation(t *testing.T) {
	models := []PurchaseModel{
		BGNBD{R: 0.24, Alpha: 4.4, A: 0.79, B: 2.4},
		MBGNBD{R: 0.5, Alpha: 6, A: 1.7, B: 3.1},
		ParetoNBD{R: 0.55, Alpha: 10.6, S: 0.61, Beta: 11.7},
		NBD{R: 0.4, Alpha: 5},
	}
	for _, m := range models {
		for _, c := range [][3]float64{{0, 0, 30}, {2, 20, 38}, {7, 35, 39}, {1, 3, 60}} {
			x, tx, T := c[0], c[1], c[2]
			var sum, mean float64
			for k := 0; k < 400; k++ {
				p := ProbFuturePurchases(m, k, 39, x, tx, T)
				sum += p
				mean += float64(k) * p
			}
			want := m.ExpectedPurchases(39, x, tx, T)
			if math.Abs(sum-1) > 1e-8 || math.Abs(mean-want) > 1e-6*math.Max(1, want) {
				t.Errorf("%s at %v: Σp = %.12g, mean %.10g, want 1 and %.10g", m.Name(), c, sum, mean, want)
			}
		}
	}
}

// Monte Carlo check of the conditional distribution: customers simulated
// with the same calibration summary (x = 0 after T) have holdout counts
// distributed as ProbFuturePurchases says.
func TestProbFuturePurchasesMonteCarlo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, m := range []PurchaseModel{MBGNBD{R: 0.5, Alpha: 6, A: 1.7, B: 3.1}, ParetoNBD{R: 0.55, Alpha: 10.6, S: 0.61, Beta: 11.7}} {
		s := simulateShop(rng, 200000, m, 20, 20, 30)
		var n, c0, c1 float64
		for i := range s.x {
			if s.x[i] == 0 {
				n++
				switch s.hold[i] {
				case 0:
					c0++
				case 1:
					c1++
				}
			}
		}
		for k, got := range []float64{c0 / n, c1 / n} {
			want := ProbFuturePurchases(m, k, 30, 0, 0, 20)
			if se := math.Sqrt(want * (1 - want) / n); math.Abs(got-want) > 4*se {
				t.Errorf("%s: P(Y=%d | x=0) simulated %.4f, model %.4f (se %.4f)", m.Name(), k, got, want, se)
			}
		}
	}
}

// Shops drawn from MBG/NBD and Pareto/NBD with known parameters: the
// selection picks the true family in at least 3 of 4 shops (measured: 20
// of 20 for both with STRATA_CLV_REPS=20), and the chosen candidate's
// score is the best score, for both metrics. A harder Pareto/NBD (slow
// buyers, weak drop-out: MBG/NBD mimics it) is reported, not asserted:
// 17 of 20 shops measured; the others go to MBG/NBD by a few
// log-likelihood units.
func TestSelectPurchaseModel(t *testing.T) {
	racetest.Skip(t, "a study over generated shops, with no goroutines of its own beyond the fits")
	ctx := context.Background()
	truths := []PurchaseModel{
		MBGNBD{R: 0.6, Alpha: 8, A: 1.2, B: 2.5},
		ParetoNBD{R: 1.2, Alpha: 6, S: 1.5, Beta: 40},
		ParetoNBD{R: 0.6, Alpha: 8, S: 0.8, Beta: 20}, // hard; reported only
	}
	n := reps(6)
	for ti, truth := range truths {
		wins, scored := 0, 0
		for rep := range n {
			rng := rand.New(rand.NewPCG(uint64(rep), 11))
			s := simulateShop(rng, 3000, truth, 26, 78, 52)
			metric := HoldoutLogLik
			if rep%3 == 2 {
				metric = HoldoutMAE
			}
			sel, err := SelectPurchaseModel(ctx, s.x, s.tx, s.T, s.hold, s.Tau, SelectOptions{Metric: metric})
			if err != nil {
				t.Fatal(err)
			}
			if metric == HoldoutMAE {
				// MAE is scored for the check of the choice rule, not
				// counted in the family rate.
				for _, c := range sel.Candidates {
					if c.Model != nil && c.Score < sel.Candidates[indexOf(sel.Candidates, sel.Name)].Score {
						t.Errorf("MAE: %s scores %v below the chosen %s", c.Name, c.Score, sel.Name)
					}
				}
				continue
			}
			best := sel.Ranked()[0]
			if best.Score != sel.Candidates[indexOf(sel.Candidates, sel.Name)].Score {
				t.Errorf("chosen %s scores %v, best %s %v", sel.Name, sel.Candidates[indexOf(sel.Candidates, sel.Name)].Score, best.Name, best.Score)
			}
			scored++
			if sel.Name == truth.Name() {
				wins++
			}
			t.Logf("%s rep %d: %s", truth.Name(), rep, sel.Reason)
		}
		fmt.Printf("model choice: truth %s %v chosen in %d of %d shops (log-likelihood)\n", truth.Name(), truth, wins, scored)
		if ti < 2 && 4*wins < 3*scored {
			t.Errorf("truth %s chosen in %d of %d shops, want at least 3/4", truth.Name(), wins, scored)
		}
	}
}

func indexOf(cs []Candidate, name string) int {
	for i, c := range cs {
		if c.Name == name {
			return i
		}
	}
	return -1
}
