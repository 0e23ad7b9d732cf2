package synth

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/strata-oss/strata/internal/racetest"
)

// TestStoryIsTrue generates one archetype alone and checks that the data
// carry the parameters they were drawn from. The expectations are computed
// here from the parameters, independently of the generator's samplers
// (gonum's distuv for the Monte Carlo part).
func TestStoryIsTrue(t *testing.T) {
	racetest.Skip(t, "a statistical check of the generator's output; TestGenerateDeterministic race-checks its workers")
	if testing.Short() {
		t.Skip("large sample")
	}
	arch := Archetype{
		Name: "only", Share: 1,
		R: 3, Alpha: 60, A: 1, B: 9, P: 4, Q: 6, Gamma: 150,
		Categories: map[string]float64{"home": 1}, Channels: map[string]float64{"web": 1},
		AgeMean: 40, AgeSD: 10, IncomeMedian: 50_000, FemaleShare: 0.5, MobileShare: 0.5, EmailOptIn: 0.5,
	}
	const n = 30_000
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b, _ := generate(t, Config{
		Customers: n, Seed: 2024, Start: start, End: end,
		Archetypes: []Archetype{arch},
		BadRowRate: -1, DuplicateRate: -1, RefundRate: -1, // genuine orders only
	})
	truth := readTable[truthRecord](t, b, "truth/")
	orders := readTable[orderRecord](t, b, "orders/")

	// λ ~ Gamma(R, Alpha) and p ~ Beta(A, B) over all customers.
	var sumL, sumP, sumNu float64
	for _, tr := range truth {
		sumL += tr.Lambda
		sumP += tr.PDropout
		sumNu += tr.Nu
	}
	checkMean(t, "λ", sumL/n, arch.R/arch.Alpha, math.Sqrt(arch.R)/arch.Alpha/math.Sqrt(n))
	ab := arch.A + arch.B
	checkMean(t, "p", sumP/n, arch.A/ab, math.Sqrt(arch.A*arch.B/(ab*ab*(ab+1)))/math.Sqrt(n))
	checkMean(t, "ν", sumNu/n, arch.Q/arch.Gamma, math.Sqrt(arch.Q)/arch.Gamma/math.Sqrt(n))

	// One and done: dropout right after the first purchase happens with
	// probability p, so the share of buyers who did is E[p] = A/(A+B).
	var buyers, oneAndDone int
	for _, tr := range truth {
		if tr.Purchases == 0 {
			continue
		}
		buyers++
		if tr.Purchases == 1 && tr.DropoutAt != 0 {
			oneAndDone++
		}
	}
	q := arch.A / ab
	checkMean(t, "one-and-done share", float64(oneAndDone)/float64(buyers), q, math.Sqrt(q*(1-q)/float64(buyers)))

	// Repeat purchase rate of customers still alive at End. Given λ, p and
	// the time T from first purchase to End, a customer is alive with
	// probability w = (1-p)·exp(-λpT), and then made Poisson(λ(1-p)T)
	// repeat purchases. So Σ repeats / Σ T over alive customers estimates
	// Σ E[λ(1-p)T·w] / Σ T·E[w], with the expectations over the prior.
	// T is independent of λ and p (it comes from the signup time), so we
	// take each customer's T from the data and integrate by Monte Carlo.
	endUS := end.UnixMicro()
	src := rand.New(rand.NewPCG(1, 2))
	lam := distuv.Gamma{Alpha: arch.R, Beta: arch.Alpha, Src: src}
	pd := distuv.Beta{Alpha: arch.A, Beta: arch.B, Src: src}
	const draws = 50
	var ys, xs, num, den []float64
	for _, tr := range truth {
		if tr.Purchases == 0 {
			continue
		}
		T := float64(endUS-tr.FirstPurchaseAt) / float64(dayMicros)
		var y, x float64
		if tr.DropoutAt == 0 {
			y, x = float64(tr.Purchases-1), T
		}
		ys, xs = append(ys, y), append(xs, x)
		var nm, dn float64
		for range draws {
			l, p := lam.Rand(), pd.Rand()
			w := (1 - p) * math.Exp(-l*p*T)
			nm += l * (1 - p) * T * w / draws
			dn += T * w / draws
		}
		num, den = append(num, nm), append(den, dn)
	}
	got, gotSE := ratio(ys, xs)
	want, wantSE := ratio(num, den)
	checkMean(t, "alive repeat rate per day", got, want, math.Hypot(gotSE, wantSE))

	// Gamma-Gamma: each order's amount z ~ Gamma(P, ν), so z·ν/P has mean 1
	// (up to rounding to cents).
	nu := map[string]float64{}
	for _, tr := range truth {
		nu[tr.CustomerID] = tr.Nu
	}
	var s float64
	for _, o := range orders {
		s += o.NetAmount * nu[o.CustomerID] / arch.P
	}
	checkMean(t, "z·ν/P", s/float64(len(orders)), 1, 1/math.Sqrt(arch.P*float64(len(orders))))
}

// checkMean fails unless got is within 4 standard errors of want.
func checkMean(t *testing.T, what string, got, want, se float64) {
	t.Helper()
	if math.Abs(got-want) > 4*se {
		t.Errorf("%s: mean %.5f, want %.5f ± %.5f (4 SE)", what, got, want, 4*se)
	} else {
		t.Logf("%s: mean %.5f, want %.5f ± %.5f (4 SE)", what, got, want, 4*se)
	}
}

// ratio returns Σy/Σx and its delta-method standard error, treating the
// pairs (x, y) as independent draws.
func ratio(y, x []float64) (r, se float64) {
	var sy, sx float64
	for i := range y {
		sy += y[i]
		sx += x[i]
	}
	r = sy / sx
	var v float64
	for i := range y {
		d := y[i] - r*x[i]
		v += d * d
	}
	return r, math.Sqrt(v) / sx
}
