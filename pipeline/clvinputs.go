package pipeline

import (
	"github.com/strata-oss/strata/pipeline/features"
)

// purchaseDays returns the run's purchases as the columnar (customer, day,
// amount) rows the CLV summaries are built from: one row per customer and
// distinct purchase day, with that day's purchases summed (the summaries
// count a day's purchases as one). Refunds are not purchases: they are
// left out, so a refunded order still counts as the purchase it was (the
// models describe buying, not net revenue).
func purchaseDays(b *features.Behaviour) (cust, day []int32, amount []float64) {
	n := len(b.Days)
	cust = make([]int32, n)
	for c := range b.N {
		for j := b.DayOffsets[c]; j < b.DayOffsets[c+1]; j++ {
			cust[j] = int32(c)
		}
	}
	return cust, b.Days, b.DaySpend
}
