package clv

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSummarizeMatchesCDNOWReference(t *testing.T) {
	s := sampleSummary(t)
	ref := loadRefSummary(t)
	if len(s.X) != len(ref.x) {
		t.Fatalf("%d customers, reference has %d", len(s.X), len(ref.x))
	}
	var repeaters int
	var sumX float64
	for i := range ref.x {
		if !s.Present[i] {
			t.Fatalf("customer %d absent", i+1)
		}
		// The reference is rounded to 2 decimals.
		if s.X[i] != ref.x[i] || math.Abs(s.Tx[i]-ref.tx[i]) > 0.005 || math.Abs(s.T[i]-ref.T[i]) > 0.005 || math.Abs(s.MeanSpend[i]-ref.zbar[i]) > 0.01 {
			t.Errorf("ID %d: got (%v, %.4f, %.4f, %.4f), want (%v, %v, %v, %v)", i+1, s.X[i], s.Tx[i], s.T[i], s.MeanSpend[i], ref.x[i], ref.tx[i], ref.T[i], ref.zbar[i])
		}
		if s.X[i] > 0 {
			repeaters++
		}
		sumX += s.X[i]
	}
	if repeaters != 946 || sumX != 2457 {
		t.Errorf("%d repeaters, Σx = %v; README says 946, 2457", repeaters, sumX)
	}
}

func TestSummarizeOrderAndAbsence(t *testing.T) {
	tr := loadCDNOWSample(t)
	want, err := Summarize(tr.cust, tr.day, tr.amount, tr.n, cdnowCalEnd, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Shuffled rows, plus one extra customer who only buys after the
	// calibration end.
	perm := rand.New(rand.NewPCG(5, 6)).Perm(len(tr.cust))
	var c, d []int32
	var a []float64
	for _, j := range perm {
		c, d, a = append(c, tr.cust[j]), append(d, tr.day[j]), append(a, tr.amount[j])
	}
	c, d, a = append(c, int32(tr.n)), append(d, cdnowCalEnd+1), append(a, 10)
	got, err := Summarize(c, d, a, tr.n+1, cdnowCalEnd, 7)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.n {
		if got.X[i] != want.X[i] || got.Tx[i] != want.Tx[i] || got.T[i] != want.T[i] || math.Abs(got.MeanSpend[i]-want.MeanSpend[i]) > 1e-9 {
			t.Fatalf("customer %d differs after shuffling", i)
		}
	}
	if got.Present[tr.n] || got.X[tr.n] != 0 || got.T[tr.n] != 0 {
		t.Errorf("holdout-only customer: present %v, x %v, T %v", got.Present[tr.n], got.X[tr.n], got.T[tr.n])
	}
	// Errors, not panics, on bad input.
	if _, err := Summarize([]int32{3}, []int32{0}, []float64{1}, 2, 0, 7); err == nil {
		t.Error("customer index out of range: no error")
	}
	if _, err := Summarize([]int32{0}, []int32{0}, []float64{1}, 1, 0, 0); err == nil {
		t.Error("unitDays 0: no error")
	}
}

func TestSummarizeUnitsAndSameDay(t *testing.T) {
	// Customer 0: day 0 (two orders), day 7 (two orders), day 14; calibration end day 21.
	cust := []int32{0, 0, 0, 0, 0, 1}
	day := []int32{14, 0, 7, 0, 7, 21}
	amt := []float64{30, 5, 10, 6, 20, 99}
	for _, c := range []struct{ unit, tx, T float64 }{{1, 14, 21}, {7, 2, 3}} {
		s, err := Summarize(cust, day, amt, 2, 21, c.unit)
		if err != nil {
			t.Fatal(err)
		}
		if s.X[0] != 2 || s.Tx[0] != c.tx || s.T[0] != c.T || s.MeanSpend[0] != 30 || s.First[0] != 0 {
			t.Errorf("unit %v: got x %v t_x %v T %v spend %v", c.unit, s.X[0], s.Tx[0], s.T[0], s.MeanSpend[0])
		}
		// First purchase on the inclusive calibration end: x = 0, T = 0.
		if !s.Present[1] || s.X[1] != 0 || s.T[1] != 0 || s.MeanSpend[1] != 0 {
			t.Errorf("customer 1: %v %v %v %v", s.Present[1], s.X[1], s.T[1], s.MeanSpend[1])
		}
	}
}

func TestHoldoutCountsAndCheck(t *testing.T) {
	tr := loadCDNOWSample(t)
	h, err := HoldoutCounts(tr.cust, tr.day, tr.n, cdnowCalEnd, epochDay("1998-06-30"))
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, v := range h {
		sum += v
	}
	// README: 1,882 distinct customer-days in the holdout period, all from
	// customers present in calibration.
	if sum != 1882 {
		t.Errorf("Σ holdout purchase days = %v, want 1882", sum)
	}
	// Ends inside the period count fewer.
	h2, _ := HoldoutCounts(tr.cust, tr.day, tr.n, cdnowCalEnd, cdnowCalEnd+30)
	if s2 := floatSum(h2); !(s2 > 0 && s2 < sum) {
		t.Errorf("30-day holdout total %v", s2)
	}

	c, err := CalibrationCheck([]float64{1, 2, 3}, []float64{1, 1, 5})
	if err != nil {
		t.Fatal(err)
	}
	want := Check{N: 3, MAE: 1, Predicted: 6, Actual: 7, RelErr: -1.0 / 7}
	if c.N != want.N || math.Abs(c.MAE-want.MAE) > 1e-15 || c.Predicted != 6 || c.Actual != 7 || math.Abs(c.RelErr-want.RelErr) > 1e-15 {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if _, err := CalibrationCheck([]float64{1}, nil); err == nil {
		t.Error("length mismatch: no error")
	}
}

func floatSum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}
