package cluster

import (
	"fmt"
	"math"
)

// boundSlack is the relative margin that keeps Hamerly's bounds
// conservative under rounding. A computed distance is within ~d·2⁻⁵³ of the
// true one relative to its size; 1e-10 covers that for any realistic d and
// hundreds of iterations of accumulated bound updates, and costs nothing
// measurable in skipped rows.
const boundSlack = 1e-10

// hamerlyState is the per-iteration, per-centre part of Hamerly's algorithm
// (Hamerly 2010, "Making k-means even faster"). Bounds are Euclidean (not
// squared) distances: upper[i] ≥ d(x_i, c_label), lower[i] ≤ d(x_i, c_j)
// for every other j.
type hamerlyState struct {
	k, d int
	// half[j] is half the distance from centre j to its nearest other centre:
	// a row closer than that to c_j cannot be closer to another centre.
	half []float64
	// move[j] is how far centre j moved in the last update; shift[j] the
	// largest move of any other centre, by which the lower bound of a row
	// labelled j must drop.
	move, shift []float64
}

func newHamerlyState(k, d int) *hamerlyState {
	return &hamerlyState{k: k, d: d, half: make([]float64, k), move: make([]float64, k), shift: make([]float64, k)}
}

// recordMoves stores how far each centre moved from old to new.
func (h *hamerlyState) recordMoves(old, new []float64) {
	d := h.d
	var max1, max2 float64
	arg := 0
	for j := range h.move {
		m := math.Sqrt(pairDist(old[j*d:j*d+d], new[j*d:j*d+d])) * (1 + boundSlack)
		h.move[j] = m
		switch {
		case m > max1:
			max2, max1, arg = max1, m, j
		case m > max2:
			max2 = m
		}
	}
	for j := range h.shift {
		h.shift[j] = max1
	}
	h.shift[arg] = max2
}

// prepare computes the half inter-centre distances for centres C.
func (h *hamerlyState) prepare(C []float64) {
	d := h.d
	for j := range h.half {
		h.half[j] = math.Inf(1)
	}
	for a := 0; a < h.k; a++ {
		for b := a + 1; b < h.k; b++ {
			v := 0.5 * math.Sqrt(pairDist(C[a*d:a*d+d], C[b*d:b*d+d])) * (1 - boundSlack)
			h.half[a] = min(h.half[a], v)
			h.half[b] = min(h.half[b], v)
		}
	}
}

// hamerlyFirstBlock is the first iteration on rows [lo,hi) (at most
// blockRows): every distance is computed and the bounds are exact.
func hamerlyFirstBlock(kn kernel, X []float64, cs *centres, lo, hi int, labels []int32, upper, lower, sums []float64, counts []int64, ws *workerScratch) (changed int) {
	k, st, d := cs.m, cs.stride, kn.d
	if kn.simd && st == simdGroup {
		_, _, _, _ = X[hi*d-1], labels[hi-1], upper[hi-1], lower[hi-1]
		prev := ws.prevFor(hi - lo)
		changed = rescanSIMD(&X[lo*d], nil, hi-lo, d, &cs.ct[0], &cs.bias, &labels[lo], &upper[lo], &lower[lo], &prev[0])
	} else {
		out := ws.outFor(st)
		kn.dists(X, lo, hi, cs, out)
		for i := lo; i < hi; i++ {
			j, d1, d2 := argmin2(out[(i-lo)*st : (i-lo)*st+k])
			changed += b2i(labels[i] != int32(j))
			labels[i] = int32(j)
			upper[i], lower[i] = math.Sqrt(d1), math.Sqrt(d2)
		}
	}
	addRows(X, d, lo, hi, labels, sums, counts)
	return changed
}

// block runs one Hamerly assignment over rows [lo,hi) and moves the rows
// whose label changes in the chunk's sums, in row order, exactly as
// lloydBlock does, so the centres come out bitwise equal to Lloyd's.
//
// It works in passes over the block rather than row by row: most rows are
// settled by their moved bounds alone, and deciding that without a branch,
// then handling the few unsettled rows in a list, avoids a mispredicted
// branch per row and lets the unsettled rows go through the vector kernel
// together. Unlike Hamerly's paper it does not first tighten the upper
// bound with the distance to the row's own centre: that one scalar distance
// costs more than all k through the vector kernel. Settled rows keep their
// label and are not read at all.
func (h *hamerlyState) block(kn kernel, X []float64, cs *centres, lo, hi int, labels []int32, upper, lower, sums []float64, counts []int64, ws *workerScratch) (changed int) {
	k, st, d := cs.m, cs.stride, kn.d
	if len(ws.rows) < hi-lo {
		ws.rows = make([]int32, hi-lo)
	}
	rows := ws.rows[:hi-lo]
	// Move the bounds by the centre moves; list the rows they do not settle.
	var nl int
	if kn.simd {
		_, _, _ = labels[hi-1], upper[hi-1], lower[hi-1]
		_, _, _ = h.move[h.k-1], h.shift[h.k-1], h.half[h.k-1]
		nl = hamerlyBoundsSIMD(lo, hi-lo, h.k, &labels[lo], &upper[lo], &lower[lo], &h.move[0], &h.shift[0], &h.half[0],
			1+boundSlack, 1-boundSlack, &rows[0])
		if nl < 0 {
			panic(fmt.Sprintf("cluster: a label of rows %d..%d is outside [0,%d)", lo, hi, h.k))
		}
	} else {
		move, shift, half := h.move, h.shift, h.half
		for i := lo; i < hi; i++ {
			a := labels[i]
			u := (upper[i] + move[a]) * (1 + boundSlack)
			l := lower[i]*(1-boundSlack) - shift[a]
			upper[i], lower[i] = u, l
			rows[nl] = int32(i)
			// u >= max(half, l), without max's NaN and signed-zero handling.
			nl += b2i(u >= half[a]) & b2i(u >= l)
		}
	}
	if nl == 0 {
		return 0
	}
	rows = rows[:nl]
	prev := ws.prevFor(nl)
	if kn.simd && st == simdGroup {
		// One group of centres: the fused kernel does the scan, the argmin
		// and the bounds; rows came from [lo,hi), so they are in range.
		changed = rescanSIMD(&X[0], &rows[0], nl, d, &cs.ct[0], &cs.bias, &labels[0], &upper[0], &lower[0], &prev[0])
	} else {
		out := ws.outFor(st)
		for q := 0; q < nl; q += blockRows {
			blk := rows[q:min(nl, q+blockRows)]
			kn.distsRows(X, blk, cs, out)
			for r, i := range blk {
				j, d1, d2 := argmin2(out[r*st : r*st+k])
				prev[q+r] = labels[i]
				changed += b2i(labels[i] != int32(j))
				labels[i] = int32(j)
				upper[i], lower[i] = math.Sqrt(d1), math.Sqrt(d2)
			}
		}
	}
	if changed > 0 {
		for r, i := range rows {
			if a := labels[i]; a != prev[r] {
				moveRow(X[int(i)*d:int(i)*d+d], int(prev[r]), int(a), sums, counts)
			}
		}
	}
	return changed
}
