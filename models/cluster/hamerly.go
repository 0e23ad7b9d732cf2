package cluster

import "math"

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
	// move[j] is how far centre j moved in the last update; maxMove and
	// maxMove2 the largest and second largest moves, argMax the first's index.
	move              []float64
	maxMove, maxMove2 float64
	argMax            int
}

func newHamerlyState(k, d int) *hamerlyState {
	return &hamerlyState{k: k, d: d, half: make([]float64, k), move: make([]float64, k)}
}

// recordMoves stores how far each centre moved from old to new.
func (h *hamerlyState) recordMoves(old, new []float64) {
	d := h.d
	h.maxMove, h.maxMove2, h.argMax = 0, 0, 0
	for j := range h.move {
		m := math.Sqrt(sqDist(old[j*d:j*d+d], new[j*d:j*d+d])) * (1 + boundSlack)
		h.move[j] = m
		switch {
		case m > h.maxMove:
			h.maxMove2, h.maxMove, h.argMax = h.maxMove, m, j
		case m > h.maxMove2:
			h.maxMove2 = m
		}
	}
}

// prepare computes the half inter-centre distances for centres C.
func (h *hamerlyState) prepare(C []float64) {
	d := h.d
	for j := range h.half {
		h.half[j] = math.Inf(1)
	}
	for a := 0; a < h.k; a++ {
		for b := a + 1; b < h.k; b++ {
			v := 0.5 * math.Sqrt(sqDist(C[a*d:a*d+d], C[b*d:b*d+d])) * (1 - boundSlack)
			h.half[a] = min(h.half[a], v)
			h.half[b] = min(h.half[b], v)
		}
	}
}

// hamerlyInitChunk is the first iteration: every distance is computed and
// the bounds are exact.
func hamerlyInitChunk(X []float64, d int, C []float64, k, lo, hi int, labels []int32, upper, lower, sums []float64, counts []int64) (changed int) {
	for i := lo; i < hi; i++ {
		x := X[i*d : i*d+d : i*d+d]
		j, d1, d2 := nearest2(x, C, k)
		if int(labels[i]) != j {
			changed++
			labels[i] = int32(j)
		}
		upper[i], lower[i] = math.Sqrt(d1), math.Sqrt(d2)
		row := sums[j*d : j*d+d]
		for t, v := range x {
			row[t] += v
		}
		counts[j]++
	}
	return changed
}

// chunk runs one Hamerly assignment over rows [lo,hi), first moving the
// bounds by the last centre moves, and accumulates centre sums exactly as
// lloydChunk does (same rows, same order), so the centres come out bitwise
// equal to Lloyd's.
func (h *hamerlyState) chunk(X []float64, d int, C []float64, lo, hi int, labels []int32, upper, lower, sums []float64, counts []int64) (changed int) {
	k := h.k
	for i := lo; i < hi; i++ {
		x := X[i*d : i*d+d : i*d+d]
		a := int(labels[i])
		u := (upper[i] + h.move[a]) * (1 + boundSlack)
		mv := h.maxMove
		if a == h.argMax {
			mv = h.maxMove2
		}
		l := lower[i]*(1-boundSlack) - mv
		if m := max(h.half[a], l); u >= m {
			// Tighten the upper bound before paying for all k distances.
			u = math.Sqrt(sqDist(x, C[a*d:a*d+d])) * (1 + boundSlack)
			if u >= m {
				j, d1, d2 := nearest2(x, C, k)
				if j != a {
					changed++
					labels[i] = int32(j)
					a = j
				}
				u, l = math.Sqrt(d1), math.Sqrt(d2)
			}
		}
		upper[i], lower[i] = u, l
		row := sums[a*d : a*d+d]
		for t, v := range x {
			row[t] += v
		}
		counts[a]++
	}
	return changed
}
