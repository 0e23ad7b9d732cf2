package cluster

import (
	"fmt"
	"math"
)

// The fit's distance kernel.
//
// Every squared distance that decides a label, a bound or a reported
// inertia is computed in one canonical order: v = x_t − c_t, then
// s = fma(v, v, s) for t = 0, 1, …, d−1 from s = +0. The vector kernel
// (kernel_amd64.s) computes eight such sums side by side, one per centre, in
// exactly that order, and pairDist is the same sum for one pair, so every
// path (vector or not, any worker count, Lloyd or Hamerly, fit or Assign or
// Inertia) gets the same bits. TestKernelsAgree pins it.
//
// CH and DB use sqDist, a faster non-canonical sum: they are reported, not
// compared bit for bit with a fit. The silhouette's distances, 10⁸ of them
// on a 10,000-row sample, go through the vector kernel (the canonical sum).

// simdGroup is the number of centres the vector kernel handles at once.
const simdGroup = 8

// kernel is the distance code chosen for one fit.
type kernel struct {
	d int
	// simd selects the vector kernel; false gives the portable Go one, with
	// identical results.
	simd bool
}

func newKernel(d int) kernel { return kernel{d: d, simd: simdAvailable()} }

// centres is a set of m centres prepared for kernel.dists.
type centres struct {
	m      int
	rows   []float64 // m×d, row-major
	ct     []float64 // vector layout: groups of 8 centres, for each t the 8 values c_j[t]; zero padded
	stride int       // row stride of dists' output
	// bias is added to the first group's distances by rescanSIMD: 0 for a
	// centre, +Inf for padding, so that padding is never nearest.
	bias [simdGroup]float64
	// bt is the layout of lloydQuadSIMD when m ≤ 8: for each t, eight
	// vectors of 4 × c_j[t], +Inf for the padding centres j ≥ m.
	bt []float64
}

// prepare loads the m = len(C)/d centres in C into cs, reusing its memory.
func (kn kernel) prepare(cs *centres, C []float64) {
	d := kn.d
	m := len(C) / d
	cs.m = m
	cs.rows = append(cs.rows[:0], C[:m*d]...)
	if !kn.simd {
		cs.stride = m
		return
	}
	g := (m + simdGroup - 1) / simdGroup
	cs.stride = g * simdGroup
	n := g * simdGroup * d
	if cap(cs.ct) < n {
		cs.ct = make([]float64, n)
	}
	cs.ct = cs.ct[:n]
	clear(cs.ct)
	for j := range cs.bias {
		cs.bias[j] = 0
		if j >= m {
			cs.bias[j] = math.Inf(1)
		}
	}
	for j := 0; j < m; j++ {
		base := (j/simdGroup)*simdGroup*d + j%simdGroup
		for t, v := range C[j*d : j*d+d] {
			cs.ct[base+t*simdGroup] = v
		}
	}
	if m <= simdGroup {
		cs.bt = broadcastCentres(cs.bt, C[:m*d], d)
	}
}

// quadLanes is how many rows lloydQuadSIMD handles side by side.
const quadLanes = 4

// broadcastCentres lays out the m ≤ 8 centres in C for lloydQuadSIMD in
// bt's memory: for each t, for j < 8, quadLanes copies of C[j][t], or +Inf
// for j ≥ m, so that a padding centre's distance is +Inf and never nearest.
func broadcastCentres(bt, C []float64, d int) []float64 {
	m := len(C) / d
	n := d * simdGroup * quadLanes
	if cap(bt) < n {
		bt = make([]float64, n)
	}
	bt = bt[:n]
	for t := 0; t < d; t++ {
		for j := 0; j < simdGroup; j++ {
			v := math.Inf(1)
			if j < m {
				v = C[j*d+t]
			}
			lanes := bt[(t*simdGroup+j)*quadLanes : (t*simdGroup+j+1)*quadLanes]
			for l := range lanes {
				lanes[l] = v
			}
		}
	}
	return bt
}

// dists writes the squared distance from row lo+r of X to centre j into
// out[r*cs.stride+j], for rows [lo, hi) and j < cs.m. Entries j ≥ cs.m of a
// row are scratch.
func (kn kernel) dists(X []float64, lo, hi int, cs *centres, out []float64) {
	if hi <= lo {
		return
	}
	d := kn.d
	_ = out[(hi-lo)*cs.stride-1]
	_ = X[hi*d-1]
	if kn.simd {
		distsSIMD(&X[lo*d], nil, hi-lo, d, &cs.ct[0], cs.stride/simdGroup, &out[0])
		return
	}
	for i := lo; i < hi; i++ {
		x := X[i*d : i*d+d : i*d+d]
		o := out[(i-lo)*cs.stride : (i-lo)*cs.stride+cs.m]
		for j := range o {
			o[j] = pairDist(x, cs.rows[j*d:j*d+d])
		}
	}
}

// distsRows is dists for the listed rows of X: row rows[r]'s distances go
// to out[r*cs.stride+j].
func (kn kernel) distsRows(X []float64, rows []int32, cs *centres, out []float64) {
	if len(rows) == 0 {
		return
	}
	d := kn.d
	_ = out[len(rows)*cs.stride-1]
	if kn.simd {
		n := len(X) / d
		for _, i := range rows {
			if uint(i) >= uint(n) {
				panic(fmt.Sprintf("cluster: row %d of %d", i, n))
			}
		}
		distsSIMD(&X[0], &rows[0], len(rows), d, &cs.ct[0], cs.stride/simdGroup, &out[0])
		return
	}
	for r, i := range rows {
		x := X[int(i)*d : int(i)*d+d : int(i)*d+d]
		o := out[r*cs.stride : r*cs.stride+cs.m]
		for j := range o {
			o[j] = pairDist(x, cs.rows[j*d:j*d+d])
		}
	}
}

// pairDist is the canonical squared distance of one pair (see the top of
// this file).
func pairDist(x, c []float64) float64 {
	c = c[:len(x)]
	var s float64
	for t, v := range x {
		e := v - c[t]
		s = math.FMA(e, e, s)
	}
	return s
}

// argmin returns the index of the smallest value of o (the first on ties)
// and the value. The values are squared distances: ≥ +0 and never NaN, so
// their bit patterns order as the values do and an integer compare, which
// compiles to a conditional move, replaces a float compare-and-branch that
// would mispredict on every other row.
func argmin(o []float64) (int, float64) {
	bk, bj := int64(math.Float64bits(o[0])), 0
	for j := 1; j < len(o); j++ {
		if v := int64(math.Float64bits(o[j])); v < bk {
			bk, bj = v, j
		}
	}
	return bj, math.Float64frombits(uint64(bk))
}

// argmin2 is argmin that also returns the second smallest value (+Inf when
// len(o) == 1), for Hamerly's lower bound.
func argmin2(o []float64) (int, float64, float64) {
	b1, b2, bj := int64(math.Float64bits(o[0])), int64(math.Float64bits(math.Inf(1))), 0
	for j := 1; j < len(o); j++ {
		v := int64(math.Float64bits(o[j]))
		b2 = min(b2, max(b1, v))
		if v < b1 {
			b1, bj = v, j
		}
	}
	return bj, math.Float64frombits(uint64(b1)), math.Float64frombits(uint64(b2))
}

// addRows adds rows [lo, hi) of X to the sum (k×d) and count of their
// label's cluster, in row order.
func addRows(X []float64, d, lo, hi int, labels []int32, sums []float64, counts []int64) {
	for i := lo; i < hi; i++ {
		a := int(labels[i])
		x := X[i*d : i*d+d : i*d+d]
		s := sums[a*d : a*d+d : a*d+d]
		for t, v := range x {
			s[t] += v
		}
		counts[a]++
	}
}

// moveRow moves row x from cluster from (none if < 0) to cluster to in a
// chunk's sums and counts. A cluster left with no row gets its sum reset to
// exactly zero, so that rounding residue of the subtractions cannot outlive
// its rows.
func moveRow(x []float64, from, to int, sums []float64, counts []int64) {
	d := len(x)
	if from >= 0 {
		s := sums[from*d : from*d+d : from*d+d]
		if counts[from]--; counts[from] == 0 {
			clear(s)
		} else {
			for t, v := range x {
				s[t] -= v
			}
		}
	}
	s := sums[to*d : to*d+d : to*d+d]
	for t, v := range x {
		s[t] += v
	}
	counts[to]++
}

// sqDist returns the squared Euclidean distance between x and c (len(c) >=
// len(x)) with four independent accumulators (the adds are the latency
// bottleneck of a single running sum). It is for metrics only; see the top
// of this file.
func sqDist(x, c []float64) float64 { return sqDistN(x, c) }

func sqDistN(x, c []float64) float64 {
	c = c[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v0, v1, v2, v3 := x[i]-c[i], x[i+1]-c[i+1], x[i+2]-c[i+2], x[i+3]-c[i+3]
		s0 += v0 * v0
		s1 += v1 * v1
		s2 += v2 * v2
		s3 += v3 * v3
	}
	for ; i < len(x); i++ {
		v := x[i] - c[i]
		s0 += v * v
	}
	return (s0 + s1) + (s2 + s3)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pairLanes is the number of values per dimension of pairLayout.
const pairLanes = 12

// pairLayout lays out in ct's memory the centres of two k-means++ steps for
// seedPairSIMD: setA holds foldA pending centres (0 or 1) then at most 4
// candidates (row-major, d values each), setB likewise; for each t, A's
// candidates c[t], B's, A's pending centre, B's, zero padded to 4 each.
func pairLayout(ct, setA []float64, foldA int, setB []float64, foldB int, d int) []float64 {
	n := pairLanes * d
	if cap(ct) < n {
		ct = make([]float64, n)
	}
	ct = ct[:n]
	clear(ct)
	for t := 0; t < d; t++ {
		v := ct[t*pairLanes : (t+1)*pairLanes]
		for c := 0; foldA+c < len(setA)/d; c++ {
			v[c] = setA[(foldA+c)*d+t]
		}
		for c := 0; foldB+c < len(setB)/d; c++ {
			v[4+c] = setB[(foldB+c)*d+t]
		}
		if foldA == 1 {
			v[8] = setA[t]
		}
		if foldB == 1 {
			v[9] = setB[t]
		}
	}
	return ct
}
