// Package orderstat finds order statistics — the value a sort would put
// at a position — without sorting: the percentiles of a report, the
// quintile breaks of RFM scores.
package orderstat

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sort"
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
		lt, gt := partition(v, medianOf3(v[0], v[len(v)/2], v[len(v)-1]))
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

// partitionBranchless is partitionOrdered in two passes (< pivot, then
// == pivot among the rest) whose swaps do not depend on a comparison:
// partitionOrdered's branches mispredict about every other random value.
// It leaves equal values in another order than partitionOrdered.
func partitionBranchless(v []float64, pivot float64) (lt, gt int) {
	for i, x := range v {
		v[i], v[lt] = v[lt], x
		lt += b2i(x < pivot)
	}
	gt = lt
	for i := lt; i < len(v); i++ {
		x := v[i]
		v[i], v[gt] = v[gt], x
		gt += b2i(x == pivot)
	}
	return lt, gt
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
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

// SelectRanks reorders v so that, for each k of ks (ascending), v[k] is
// the value a sort puts there, with no greater value before it and no
// smaller one after: one quickselect that follows every rank at once,
// which at a few ranks costs about one SelectNth rather than one each,
// and partitions without branching on the values. It does so only when v
// holds neither a NaN nor a -0, and reports whether it did: then values
// that compare equal are equal bit for bit, and the values at the ranks
// are the sort's whatever the order the partitions leave equal values
// in. Otherwise v is unchanged.
func SelectRanks(v []float64, ks []int) bool {
	for _, x := range v {
		if x != x || x == 0 && math.Signbit(x) {
			return false
		}
	}
	selectRanks(v, 0, ks, 2*bits.Len(uint(len(v))))
	return true
}

// selectRanks is SelectRanks of the ranks ks of w, where v is w[off:]
// and holds them.
func selectRanks(v []float64, off int, ks []int, depth int) {
	for len(ks) > 0 && len(v) > 12 {
		if depth == 0 {
			slices.Sort(v)
			return
		}
		depth--
		lt, gt := partitionBranchless(v, medianOf3(v[0], v[len(v)/2], v[len(v)-1]))
		// The ranks below off+lt are in v[:lt], those from off+gt in
		// v[gt:]; those between hold the pivot already.
		below, above := sort.SearchInts(ks, off+lt), sort.SearchInts(ks, off+gt)
		selectRanks(v[:lt], off, ks[:below], depth)
		v, off, ks = v[gt:], off+gt, ks[above:]
	}
	if len(ks) > 0 {
		slices.Sort(v)
	}
}

// medianOf3 is the pivot SelectNth takes of v's first, middle and last.
func medianOf3(a, b, c float64) float64 {
	if cmp.Less(b, a) {
		a, b = b, a
	}
	if cmp.Less(c, b) {
		b = c
		if cmp.Less(b, a) {
			b = a
		}
	}
	return b
}
