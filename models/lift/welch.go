package lift

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Moments summarises a sample: its size, mean and unbiased variance.
type Moments struct {
	N         int
	Mean, Var float64
}

// Summarize returns the moments of x, by two passes (the variance of
// revenue in the thousands is exact to rounding this way, not with
// Σx² − n·x̄²).
func Summarize(x []float64) Moments {
	m := Moments{N: len(x)}
	if m.N == 0 {
		return Moments{Mean: math.NaN(), Var: math.NaN()}
	}
	var s float64
	for _, v := range x {
		s += v
	}
	m.Mean = s / float64(m.N)
	if m.N < 2 {
		m.Var = math.NaN()
		return m
	}
	var ss float64
	for _, v := range x {
		ss += (v - m.Mean) * (v - m.Mean)
	}
	m.Var = ss / float64(m.N-1)
	return m
}

// MeanDiff is the comparison of two means.
type MeanDiff struct {
	Treated, Control float64  // means
	Diff             float64  // Treated − Control
	CI               Interval // Welch 95 % interval
	DF               float64  // Welch–Satterthwaite degrees of freedom; NaN when se = 0
	P                float64  // Welch t-test, two-sided
}

// Welch compares the treated group's mean with the control group's by
// Welch's unequal-variance t interval and test (package doc).
func Welch(treated, control Moments) (MeanDiff, error) {
	if treated.N < 2 || control.N < 2 {
		return MeanDiff{}, fmt.Errorf("welch: need 2 customers in each group, have %d treated and %d control", treated.N, control.N)
	}
	r := MeanDiff{Treated: treated.Mean, Control: control.Mean, Diff: treated.Mean - control.Mean}
	v1, v2 := treated.Var/float64(treated.N), control.Var/float64(control.N)
	se := math.Sqrt(v1 + v2)
	if se == 0 {
		r.CI, r.DF, r.P = Interval{r.Diff, r.Diff}, math.NaN(), 0
		if r.Diff == 0 {
			r.P = 1
		}
		return r, nil
	}
	r.DF = (v1 + v2) * (v1 + v2) / (v1*v1/float64(treated.N-1) + v2*v2/float64(control.N-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: r.DF}
	q := t.Quantile(0.975)
	r.CI = Interval{r.Diff - q*se, r.Diff + q*se}
	r.P = 2 * t.Survival(math.Abs(r.Diff)/se)
	return r, nil
}
