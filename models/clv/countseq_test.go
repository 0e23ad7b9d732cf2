package clv

import (
	"math"
	"testing"
)

// The recursions of countSeq reproduce the closed forms (FHL 2005 eq. 8
// for BG/NBD, the negative binomial for the NBD) to 1e-12 absolute over
// the first 400 counts, across posterior-like parameters: light and heavy
// buyers, short and long horizons.
func TestCountSeqMatchesClosedForm(t *testing.T) {
	models := []PurchaseModel{
		BGNBD{R: 0.243, Alpha: 4.41, A: 0.793, B: 2.43},
		BGNBD{R: 0.243 + 12, Alpha: 4.41 + 39, A: 0.793, B: 2.43 + 12},
		BGNBD{R: 1.3 + 80, Alpha: 3.7 + 140, A: 0.53, B: 2.76 + 81},
		BGNBD{R: 0.6, Alpha: 8, A: 5, B: 0.3},
		NBD{R: 0.5, Alpha: 10},
		NBD{R: 150, Alpha: 60},
	}
	for _, m := range models {
		for _, h := range []float64{1, 13, 52, 400} {
			s := newCountSeq(m, h)
			if s == nil {
				t.Fatalf("%+v over %v: no sequence", m, h)
			}
			var worst float64
			var sum float64
			for k := range 400 {
				got, want := s.next(), m.ProbNPurchases(k, h)
				sum += got
				worst = math.Max(worst, math.Abs(got-want))
			}
			if worst > 1e-12 || sum > 1+1e-9 {
				t.Errorf("%+v over %v: differs from the closed form by up to %g (sum %v)", m, h, worst, sum)
			}
		}
	}
	if newCountSeq(ParetoNBD{R: 1, Alpha: 1, S: 1, Beta: 1}, 1) != nil {
		t.Error("Pareto/NBD has no recursion here")
	}
}
