package synth

import (
	"math"
	"math/rand/v2"
)

// The samplers below are written out rather than taken from gonum's distuv
// so that every draw is a visible function of one *rand.Rand: the output must
// not change when a dependency retunes its algorithms.

// Stream tags separate the independent random streams of one customer, so
// that, say, raising BadRowRate changes which rows are corrupted but not a
// single purchase time or attribute.
const (
	streamAttrs uint64 = 0x6174747273000001
	streamStory uint64 = 0x73746f7279000002
	streamNoise uint64 = 0x6e6f697365000003
	streamEvent uint64 = 0x6576656e74000004
	// streamCampaign draws a planted campaign's extra purchases, so that
	// planting one changes nothing else (see Campaign).
	streamCampaign uint64 = 0x63616d7061000005
)

// mix is the SplitMix64 finaliser: it spreads neighbouring customer indexes
// to unrelated PCG states.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// seedStream points src at the stream of customer idx for the given purpose.
func seedStream(src *rand.PCG, seed, stream uint64, idx int) {
	src.Seed(mix(seed^stream), mix(uint64(idx)^stream))
}

// uniformOpen returns a uniform draw in (0, 1], safe to take the log of.
func uniformOpen(r *rand.Rand) float64 { return 1 - r.Float64() }

// gammaRate draws from Gamma(shape, rate) with Marsaglia and Tsang's method
// (ACM TOMS 26(3), 2000); shapes below 1 use the boost
// Gamma(a) = Gamma(a+1)·U^(1/a).
func gammaRate(r *rand.Rand, shape, rate float64) float64 {
	if shape < 1 {
		return gammaRate(r, shape+1, rate) * math.Pow(uniformOpen(r), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := uniformOpen(r)
		x2 := x * x
		if u < 1-0.0331*x2*x2 || math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v / rate
		}
	}
}

// beta draws from Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).
func beta(r *rand.Rand, a, b float64) float64 {
	x := gammaRate(r, a, 1)
	y := gammaRate(r, b, 1)
	if x+y == 0 {
		return a / (a + b) // both underflowed; only for tiny shapes
	}
	return x / (x + y)
}

// dirichlet fills dst with a draw from Dirichlet(alpha), leaving zero
// entries of alpha at zero, and returns dst as cumulative weights ready
// for pick.
func dirichletCum(r *rand.Rand, alpha, dst []float64) []float64 {
	dst = dst[:len(alpha)]
	var total float64
	for i, a := range alpha {
		g := 0.0
		if a > 0 {
			g = gammaRate(r, a, 1)
		}
		total += g
		dst[i] = total
	}
	if total == 0 {
		// Every component underflowed: fall back to the mean.
		total = 0
		for i, a := range alpha {
			total += a
			dst[i] = total
		}
	}
	for i := range dst {
		dst[i] /= total
	}
	return dst
}

// pick returns the index i with cum[i-1] <= u < cum[i] for a uniform u;
// cum must be non-decreasing and end at 1. Linear: the lists are short.
func pick(r *rand.Rand, cum []float64) int {
	u := r.Float64()
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

// cumulative turns weights into cumulative probabilities for pick.
func cumulative(w []float64) []float64 {
	out := make([]float64, len(w))
	var total float64
	for i, v := range w {
		total += v
		out[i] = total
	}
	for i := range out {
		out[i] /= total
	}
	return out
}

// poisson draws from Poisson(mean) by Knuth's multiplication method; fine
// for the small means used here.
func poisson(r *rand.Rand, mean float64) int {
	l := math.Exp(-mean)
	k := 0
	p := r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}
