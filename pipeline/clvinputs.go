package pipeline

import (
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
)

// purchaseDays returns the run's purchases as the columnar (customer, day,
// amount) rows the CLV summaries are built from. Refunds are not purchases:
// they are left out, so a refunded order still counts as the purchase it
// was (the models describe buying, not net revenue).
func purchaseDays(ds *extract.Dataset) (cust, day []int32, amount []float64) {
	n := 0
	for _, r := range ds.TxRefund {
		if !r {
			n++
		}
	}
	cust, day, amount = make([]int32, 0, n), make([]int32, 0, n), make([]float64, 0, n)
	for j, c := range ds.TxCust {
		if ds.TxRefund[j] {
			continue
		}
		cust = append(cust, c)
		day = append(day, features.DayNumber(ds.TxTime[j], ds.Location))
		amount = append(amount, ds.TxAmount[j])
	}
	return cust, day, amount
}
