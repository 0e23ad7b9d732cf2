package stages

import (
	"math"
	"slices"

	"github.com/strata-oss/strata/internal/orderstat"
)

// SegmentValues are, by RFM segment, the CLV and P(alive) of its scored
// customers, from which the report's spreads are taken.
type SegmentValues map[string]*[2][]float64

// SegmentSpreads are, by RFM segment, the 10/25/50/75/90th percentiles of
// its scored customers' CLV and P(alive) (nil without any).
type SegmentSpreads map[string][2]*[5]float64

// spreads takes the percentiles of v, reordering its values.
func (v SegmentValues) Spreads() SegmentSpreads {
	s := SegmentSpreads{}
	for seg, x := range v {
		s[seg] = [2]*[5]float64{quantiles5(x[0]), quantiles5(x[1])}
	}
	return s
}

func (v SegmentValues) Add(segment string, clv, pAlive float64) {
	x := v[segment]
	if x == nil {
		x = &[2][]float64{}
		v[segment] = x
	}
	x[0], x[1] = append(x[0], clv), append(x[1], pAlive)
}

// ValuesOf are r's CLV and P(alive) by RFM segment.
func ValuesOf(r *Run) SegmentValues {
	v := SegmentValues{}
	c, s := resultOf[clvScores](r, "clv"), resultOf[rfmScores](r, "rfm")
	if c == nil || s == nil {
		return v
	}
	// Counted first, so that each segment's values are allocated once at
	// their size rather than grown by doubling: 16 bytes a scored
	// customer, tens of megabytes at millions of customers.
	counts := make([]int, len(s.Segments))
	if c.NoPurchase || c.NoSpend {
		return v // no values to show
	}
	for i := range r.Behaviour.N {
		if c.Scored[i] {
			counts[s.Seg[i]]++
		}
	}
	by := make([]*[2][]float64, len(s.Segments))
	for k, name := range s.Segments {
		if counts[k] > 0 {
			by[k] = &[2][]float64{make([]float64, 0, counts[k]), make([]float64, 0, counts[k])}
			v[name] = by[k]
		}
	}
	for i := range r.Behaviour.N {
		if c.Scored[i] {
			x := by[s.Seg[i]]
			x[0], x[1] = append(x[0], c.CLV[i]), append(x[1], c.PAlive[i])
		}
	}
	return v
}

// quantiles5 returns the 10/25/50/75/90th percentiles of v (reordered in
// place), by linear interpolation between order statistics. It selects
// the order statistics rather than sorting: the report takes them of every
// scored customer's CLV and P(alive), and at millions of customers sorting
// them was a tenth of the publish stage.
func quantiles5(v []float64) *[5]float64 {
	if len(v) == 0 {
		return nil
	}
	var h [5]float64
	var lo [5]int
	ranks := make([]int, 0, 2*len(h)) // each percentile's order statistic and the next
	for i, p := range []float64{0.10, 0.25, 0.50, 0.75, 0.90} {
		h[i] = p * float64(len(v)-1)
		lo[i] = int(math.Floor(h[i]))
		ranks = append(ranks, lo[i], min(lo[i]+1, len(v)-1))
	}
	slices.Sort(ranks)
	if !orderstat.SelectRanks(v, ranks) {
		return quantiles5Nested(v, h, lo)
	}
	var q [5]float64
	for i := range q {
		q[i] = between(v[lo[i]], v[min(lo[i]+1, len(v)-1)], h[i]-float64(lo[i]))
	}
	return &q
}

// between is the value a fraction f of the way from a to b: a percentile
// at rank lo + f, between the order statistics a (rank lo) and b.
func between(a, b, f float64) float64 { return a + f*(b-a) }

// quantiles5Nested is quantiles5 of a v with a NaN or a -0, whose order
// statistics SelectRanks does not take: each percentile's by SelectNth on
// what the previous one left above it, the next value by orderstat.Min.
func quantiles5Nested(v []float64, h [5]float64, lo [5]int) *[5]float64 {
	var q [5]float64
	from := 0 // v[:from] holds the smallest values, in place
	for i := range q {
		orderstat.SelectNth(v[from:], lo[i]-from)
		from = lo[i]
		next := v[lo[i]]
		if lo[i]+1 < len(v) {
			next = orderstat.Min(v[lo[i]+1:])
		}
		q[i] = between(v[lo[i]], next, h[i]-float64(lo[i]))
	}
	return &q
}
