package stages

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/strata-oss/strata/models/clv"
)

// simulatedShop draws BG/NBD-style purchase summaries (weeks): rates from
// a Gamma, a drop-out chance after each purchase, calibration periods of
// 30 to 78 weeks.
func simulatedShop(n int, seed uint64) (x, tx, T []float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range n {
		lambda := rng.ExpFloat64() * 0.3 * (0.5 + rng.Float64())
		p := math.Pow(rng.Float64(), 3)
		cal := float64(30 + i%49)
		var t, last float64
		k := 0
		for {
			t += rng.ExpFloat64() / lambda
			if t > cal {
				break
			}
			k, last = k+1, math.Floor(t)
			if rng.Float64() < p {
				break
			}
		}
		x, tx, T = append(x, float64(k)), append(tx, last), append(T, cal)
	}
	return x, tx, T
}

// TestDrawBoundsMatchLibrary: the stage's own P(alive) and expected
// purchase bounds are clv.PurchaseIntervals' to the bit (same draws, same
// quantiles), for every purchase model a run may publish, and low ≤ point
// ≤ high.
func TestDrawBoundsMatchLibrary(t *testing.T) {
	ctx := context.Background()
	x, tx, T := simulatedShop(800, 3)
	for _, name := range []string{"bgnbd", "mbgnbd", "pnbd", "nbd"} {
		t.Run(name, func(t *testing.T) {
			pm, _, err := clv.FitPurchaseModel(ctx, name, x, tx, T, clv.FitOptions{})
			if err != nil {
				t.Fatalf("%s does not fit this shop: %v", name, err)
			}
			u, err := clv.PurchaseUncertainty(pm, x, tx, T, 2)
			if err != nil {
				t.Fatal(err)
			}
			const horizon, level, draws, seed = 52.0, 0.8, 60, 17
			want, err := clv.PurchaseIntervals(ctx, u, x, tx, T, horizon, clv.IntervalOptions{Level: level, Draws: draws, Seed: seed, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			ms, err := paramDist(u).drawModels(name, draws, seed)
			if err != nil {
				t.Fatal(err)
			}
			paLo, paHi, exLo, exHi, err := drawBounds(ctx, ms, x, tx, T, horizon, level, 3)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i := range x {
				if paLo[i] != want.PAliveLow[i] || paHi[i] != want.PAliveHigh[i] || exLo[i] != want.ExpectedLow[i] || exHi[i] != want.ExpectedHigh[i] {
					if bad++; bad < 4 {
						t.Errorf("customer %d: p_alive [%v, %v] expected [%v, %v]; library [%v, %v] [%v, %v]", i,
							paLo[i], paHi[i], exLo[i], exHi[i], want.PAliveLow[i], want.PAliveHigh[i], want.ExpectedLow[i], want.ExpectedHigh[i])
					}
				}
				pa, ex := pm.PAlive(x[i], tx[i], T[i]), pm.ExpectedPurchases(horizon, x[i], tx[i], T[i])
				if !(paLo[i] <= pa+1e-12 && pa <= paHi[i]+1e-12 && exLo[i] <= ex*(1+1e-9) && ex <= exHi[i]*(1+1e-9)) {
					if bad++; bad < 4 {
						t.Errorf("customer %d: p_alive %v not in [%v, %v] or expected %v not in [%v, %v]", i, pa, paLo[i], paHi[i], ex, exLo[i], exHi[i])
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d customers differ", bad, len(x))
			}
		})
	}
}
