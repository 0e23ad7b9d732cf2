package clv

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// shop is a simulated panel: calibration summaries and the purchase count
// of each customer in the holdout (T, T+Tau].
type shop struct {
	x, tx, T, hold []float64
	Tau            float64
}

// simulateShop draws n customers from the story of truth (a BGNBD, MBGNBD,
// ParetoNBD or NBD), with calibration lengths T uniform in [lo, hi] and a
// holdout of length tau.
func simulateShop(rng *rand.Rand, n int, truth PurchaseModel, lo, hi, tau float64) shop {
	s := shop{Tau: tau}
	var lam distuv.Gamma
	var drop distuv.Beta
	var death distuv.Gamma
	mod := false
	switch m := truth.(type) {
	case BGNBD:
		lam = distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: rng}
		drop = distuv.Beta{Alpha: m.A, Beta: m.B, Src: rng}
	case MBGNBD:
		lam = distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: rng}
		drop = distuv.Beta{Alpha: m.A, Beta: m.B, Src: rng}
		mod = true
	case ParetoNBD:
		lam = distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: rng}
		death = distuv.Gamma{Alpha: m.S, Beta: m.Beta, Src: rng}
	case NBD:
		lam = distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: rng}
	default:
		panic("simulateShop: unknown model")
	}
	for range n {
		l := lam.Rand()
		Ti := lo + (hi-lo)*rng.Float64()
		end := Ti + tau
		life := end + 1 // alive throughout unless set below
		var p float64
		switch truth.(type) {
		case BGNBD, MBGNBD:
			p = drop.Rand()
		case ParetoNBD:
			life = rng.ExpFloat64() / death.Rand()
		}
		var xi, ti, h float64
		alive := !(mod && rng.Float64() < p)
		now := 0.0
		for alive {
			now += rng.ExpFloat64() / l
			if now > end || now > life {
				break
			}
			if now <= Ti {
				xi, ti = xi+1, now
			} else {
				h++
			}
			if p > 0 && rng.Float64() < p {
				alive = false
			}
		}
		s.x, s.tx, s.T, s.hold = append(s.x, xi), append(s.tx, ti), append(s.T, Ti), append(s.hold, h)
	}
	return s
}
