package lift

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// z975 is Φ⁻¹(0.975), the normal quantile of a two-sided 95 % interval.
const z975 = 1.959963984540054

// Interval is a closed interval [Lo, Hi]; NaN bounds mean undefined.
type Interval struct{ Lo, Hi float64 }

// Covers reports whether v lies in the interval.
func (iv Interval) Covers(v float64) bool { return iv.Lo <= v && v <= iv.Hi }

// Counts is the number of customers in a group and how many of them
// converted.
type Counts struct{ Converted, N int }

func (c Counts) rate() float64 { return float64(c.Converted) / float64(c.N) }

func (c Counts) check(name string) error {
	if c.N <= 0 || c.Converted < 0 || c.Converted > c.N {
		return fmt.Errorf("%s group: %d converted of %d customers is not a proportion", name, c.Converted, c.N)
	}
	return nil
}

// Conversion is the comparison of two conversion rates.
type Conversion struct {
	Treated, Control float64  // conversion rates
	Diff             float64  // Treated − Control
	DiffCI           Interval // Newcombe hybrid score interval
	Relative         float64  // Treated/Control − 1; NaN when Control is 0
	RelativeCI       Interval // Katz log interval of the ratio, minus 1; NaN without converters in a group
	P                float64  // pooled two-proportion z-test, two-sided
}

// CompareConversion compares the treated group's conversion with the
// control group's (package doc for the methods).
func CompareConversion(treated, control Counts) (Conversion, error) {
	if err := treated.check("treated"); err != nil {
		return Conversion{}, err
	}
	if err := control.check("control"); err != nil {
		return Conversion{}, err
	}
	p1, p2 := treated.rate(), control.rate()
	r := Conversion{Treated: p1, Control: p2, Diff: p1 - p2}
	r.DiffCI = Newcombe(treated, control)
	r.Relative, r.RelativeCI = Katz(treated, control)
	r.P = pooledZ(treated, control)
	return r, nil
}

// Wilson is the Wilson score 95 % interval of a proportion.
func Wilson(c Counts) Interval {
	n := float64(c.N)
	p := c.rate()
	z2 := z975 * z975
	den := 1 + z2/n
	mid := p + z2/(2*n)
	half := z975 * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	// At p = 0 or 1 the bound is exactly 0 or 1; the formula leaves a
	// rounding residue there that would show as -1e-17.
	lo, hi := (mid-half)/den, (mid+half)/den
	if c.Converted == 0 {
		lo = 0
	}
	if c.Converted == c.N {
		hi = 1
	}
	return Interval{lo, hi}
}

// Newcombe is the hybrid score 95 % interval of the difference of the
// treated and control proportions (Newcombe 1998, method 10).
func Newcombe(treated, control Counts) Interval {
	p1, p2 := treated.rate(), control.rate()
	w1, w2 := Wilson(treated), Wilson(control)
	d := p1 - p2
	return Interval{
		Lo: d - math.Hypot(p1-w1.Lo, w2.Hi-p2),
		Hi: d + math.Hypot(w1.Hi-p1, p2-w2.Lo),
	}
}

// Katz returns the relative lift RR − 1 and the Katz log 95 % interval of
// RR, minus 1.
func Katz(treated, control Counts) (float64, Interval) {
	nan := Interval{math.NaN(), math.NaN()}
	if control.Converted == 0 {
		return math.NaN(), nan
	}
	rr := treated.rate() / control.rate()
	if treated.Converted == 0 {
		return rr - 1, nan
	}
	se := math.Sqrt(1/float64(treated.Converted) - 1/float64(treated.N) +
		1/float64(control.Converted) - 1/float64(control.N))
	l := math.Log(rr)
	return rr - 1, Interval{math.Exp(l-z975*se) - 1, math.Exp(l+z975*se) - 1}
}

func pooledZ(treated, control Counts) float64 {
	n1, n2 := float64(treated.N), float64(control.N)
	pbar := float64(treated.Converted+control.Converted) / (n1 + n2)
	if pbar == 0 || pbar == 1 {
		return 1
	}
	z := (treated.rate() - control.rate()) / math.Sqrt(pbar*(1-pbar)*(1/n1+1/n2))
	return 2 * distuv.UnitNormal.Survival(math.Abs(z))
}
