// Package orderstat finds order statistics — the value a sort would put
// at a position — without sorting: the percentiles of a report, the
// quintile breaks of RFM scores.
package orderstat

import (
	"cmp"
	"math/bits"
	"slices"
)

// SelectNth reorders v so that v[k] is the value a sort (slices.Sort) puts
// there, with no greater value before it and no smaller one after: a
// quickselect with three-way partitions, so that runs of equal values
// (P(alive) is often 1 for most customers) cost one pass, and a sort when
// the pivots keep choosing badly.
func SelectNth(v []float64, k int) {
	for depth := 2 * bits.Len(uint(len(v))); len(v) > 12; depth-- {
		if depth == 0 {
			slices.Sort(v)
			return
		}
		a, b, c := v[0], v[len(v)/2], v[len(v)-1]
		if cmp.Less(b, a) {
			a, b = b, a
		}
		if cmp.Less(c, b) {
			b = c
			if cmp.Less(b, a) {
				b = a
			}
		}
		pivot := b
		// v[:lt] < pivot, v[lt:i] == pivot, v[gt:] > pivot.
		lt, i, gt := 0, 0, len(v)
		for i < gt {
			switch c := cmp.Compare(v[i], pivot); {
			case c < 0:
				v[lt], v[i] = v[i], v[lt]
				lt++
				i++
			case c > 0:
				gt--
				v[i], v[gt] = v[gt], v[i]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			v = v[:lt]
		case k >= gt:
			v, k = v[gt:], k-gt
		default:
			return
		}
	}
	slices.Sort(v)
}
