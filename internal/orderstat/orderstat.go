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
	// Without a NaN, < and > order v as cmp.Compare does, and cost a
	// fraction of it: the partitions are the same, swap for swap.
	partition := partitionOrdered
	if hasNaN(v) {
		partition = partitionNaN
	}
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
		lt, gt := partition(v, b)
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

// Min is the smallest value of v as slices.MinFunc with cmp.Compare
// finds it (a NaN if any, the first of equal values): what a sort puts
// first. v must not be empty.
func Min(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		if x < m || x != x && m == m {
			m = x
		}
	}
	return m
}

func hasNaN(v []float64) bool {
	for _, x := range v {
		if x != x {
			return true
		}
	}
	return false
}

// partitionOrdered reorders v, which has no NaN, so that v[:lt] < pivot,
// v[lt:gt] == pivot and v[gt:] > pivot.
func partitionOrdered(v []float64, pivot float64) (lt, gt int) {
	i, gt := 0, len(v)
	for i < gt {
		switch x := v[i]; {
		case x < pivot:
			v[lt], v[i] = x, v[lt]
			lt++
			i++
		case x > pivot:
			gt--
			v[i], v[gt] = v[gt], x
		default:
			i++
		}
	}
	return lt, gt
}

// partitionNaN is partitionOrdered by cmp.Compare, NaN first.
func partitionNaN(v []float64, pivot float64) (lt, gt int) {
	i, gt := 0, len(v)
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
	return lt, gt
}
