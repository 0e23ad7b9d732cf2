package clv

import "math"

// digamma returns ψ(x) for x > 0: the recurrence ψ(x) = ψ(x+1) - 1/x up to
// x >= 10, then the asymptotic series, whose first omitted term is below
// 1e-16 there. gonum's mathext.Digamma stops its series early and is off
// by up to ~1e-10; a gradient that inaccurate disagrees with the
// lgamma-based likelihood by more than the convergence threshold, and
// Newton's method then spends dozens of line-search evaluations trying to
// go below it.
func digamma(x float64) float64 {
	if math.IsInf(x, 1) {
		return x
	}
	if !(x > 0) {
		return math.NaN()
	}
	var s float64
	for ; x < 10; x++ {
		s -= 1 / x
	}
	z2 := 1 / (x * x)
	series := z2 * (1.0/12 - z2*(1.0/120-z2*(1.0/252-z2*(1.0/240-z2*(1.0/132-z2*(691.0/32760-z2/12))))))
	return s + math.Log(x) - 0.5/x - series
}

// trigamma returns ψ′(x) for x > 0: the recurrence ψ′(x) = ψ′(x+1) + 1/x²
// up to x >= 10, then the asymptotic series, whose first omitted term is
// below 1e-16 relative there.
func trigamma(x float64) float64 {
	if math.IsInf(x, 1) {
		return 0
	}
	if !(x > 0) {
		return math.NaN()
	}
	var s float64
	for ; x < 10; x++ {
		s += 1 / (x * x)
	}
	z := 1 / x
	z2 := z * z
	series := z2 * (1.0/6 + z2*(-1.0/30+z2*(1.0/42+z2*(-1.0/30+z2*(5.0/66+z2*(-691.0/2730+z2*7.0/6))))))
	return s + z + z2/2 + z*series
}
