// Package features turns an extracted dataset into per-customer features,
// one dense slice per feature indexed by the dataset's customer row.
//
// Everything here is computed from transactions already cut at the as-of
// date by package extract, so no feature can see the future. Days are
// calendar days in the run's time zone: an order at 23:30 on D has recency
// 0, whatever the hour the run starts.
package features

import (
	"math"
	"slices"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
)

// Behaviour holds the RFM family of features. Customers without a purchase
// have HasOrders false and zero (or NaN for means) elsewhere; publishers
// write those as nulls.
type Behaviour struct {
	N            int
	HasOrders    []bool
	RecencyDays  []int32   // as-of day − day of the last purchase
	Frequency    []int32   // orders (refunds excluded)
	PurchaseDays []int32   // distinct days with an order
	Monetary     []float64 // net spend: orders minus refunds
	AvgOrder     []float64 // mean order value (refunds excluded)
	MaxOrder     []float64
	TenureDays   []int32 // as-of day − first known day (signup or first order)
	HasTenure    []bool
	FirstOrder   []int64 // µs, extract.NoTime when none
	LastOrder    []int64

	// ByCustomer groups transaction indices by customer in time order:
	// customer c's transactions are Tx[Offsets[c]:Offsets[c+1]].
	Offsets []int32
	Tx      []int32
}

// DayNumber is the calendar day of instant us in loc, counted from
// 1970-01-01.
func DayNumber(us int64, loc *time.Location) int32 {
	if loc == time.UTC {
		return int32(floorDiv(us, 86_400_000_000))
	}
	y, m, d := time.UnixMicro(us).In(loc).Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// ComputeBehaviour computes the behavioural features of every customer of
// ds.
func ComputeBehaviour(ds *extract.Dataset) *Behaviour {
	n := len(ds.IDs)
	f := &Behaviour{
		N:            n,
		HasOrders:    make([]bool, n),
		RecencyDays:  make([]int32, n),
		Frequency:    make([]int32, n),
		PurchaseDays: make([]int32, n),
		Monetary:     make([]float64, n),
		AvgOrder:     make([]float64, n),
		MaxOrder:     make([]float64, n),
		TenureDays:   make([]int32, n),
		HasTenure:    make([]bool, n),
		FirstOrder:   make([]int64, n),
		LastOrder:    make([]int64, n),
	}
	f.group(ds)
	asOfDay := DayNumber(ds.AsOf.UnixMicro(), ds.Location)
	for c := 0; c < n; c++ {
		f.FirstOrder[c], f.LastOrder[c] = extract.NoTime, extract.NoTime
		var gross, net, maxOrder float64
		var orders, days int32
		lastDay := int32(math.MinInt32)
		for _, t := range f.Tx[f.Offsets[c]:f.Offsets[c+1]] {
			a := ds.TxAmount[t]
			net += a
			if ds.TxRefund[t] {
				continue
			}
			ts := ds.TxTime[t]
			if orders == 0 {
				f.FirstOrder[c] = ts
			}
			f.LastOrder[c] = ts
			orders++
			gross += a
			maxOrder = max(maxOrder, a)
			if d := DayNumber(ts, ds.Location); d != lastDay {
				days++
				lastDay = d
			}
		}
		f.Monetary[c] = net
		first := ds.Signup[c]
		if orders > 0 {
			f.HasOrders[c] = true
			f.Frequency[c] = orders
			f.PurchaseDays[c] = days
			f.AvgOrder[c] = gross / float64(orders)
			f.MaxOrder[c] = maxOrder
			f.RecencyDays[c] = asOfDay - DayNumber(f.LastOrder[c], ds.Location)
			if first == extract.NoTime || f.FirstOrder[c] < first {
				first = f.FirstOrder[c]
			}
		}
		if first != extract.NoTime {
			f.HasTenure[c] = true
			f.TenureDays[c] = asOfDay - DayNumber(first, ds.Location)
		}
	}
	return f
}

// group builds the by-customer index with a counting sort, then orders each
// customer's transactions by time (ties by input order, so the order is
// total and deterministic).
func (f *Behaviour) group(ds *extract.Dataset) {
	f.Offsets = make([]int32, f.N+1)
	for _, c := range ds.TxCust {
		f.Offsets[c+1]++
	}
	for c := 0; c < f.N; c++ {
		f.Offsets[c+1] += f.Offsets[c]
	}
	f.Tx = make([]int32, len(ds.TxCust))
	next := slices.Clone(f.Offsets[:f.N])
	for t, c := range ds.TxCust {
		f.Tx[next[c]] = int32(t)
		next[c]++
	}
	for c := 0; c < f.N; c++ {
		txs := f.Tx[f.Offsets[c]:f.Offsets[c+1]]
		slices.SortStableFunc(txs, func(a, b int32) int {
			ta, tb := ds.TxTime[a], ds.TxTime[b]
			switch {
			case ta < tb:
				return -1
			case ta > tb:
				return 1
			}
			return 0
		})
	}
}
