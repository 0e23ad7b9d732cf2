package cluster

import "math"

// The distance kernels. Every squared distance in the package goes through
// sqDist or one of the lloyd* kernels below, which compute it with exactly
// the same operation order; that is what lets Lloyd, Hamerly, Assign and
// Inertia agree to the last bit. TestKernelsAgree pins it.

// sqDist returns the squared Euclidean distance between x and c (len(c) >=
// len(x)).
func sqDist(x, c []float64) float64 {
	if len(x) == 8 {
		return sqDist8((*[8]float64)(x), (*[8]float64)(c[:8]))
	}
	return sqDistN(x, c)
}

func sqDist8(x, c *[8]float64) float64 {
	v0, v1, v2, v3 := x[0]-c[0], x[1]-c[1], x[2]-c[2], x[3]-c[3]
	v4, v5, v6, v7 := x[4]-c[4], x[5]-c[5], x[6]-c[6], x[7]-c[7]
	return (v0*v0 + v1*v1) + (v2*v2 + v3*v3) + (v4*v4 + v5*v5) + (v6*v6 + v7*v7)
}

// sqDistN keeps four independent accumulators: the adds are the latency
// bottleneck of a single running sum.
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

// less1 is 1 if a < b and 0 otherwise, for finite or +Inf b, without a
// branch: the sign bit of a-b. Equal values give +0, so ties keep the
// earlier (lower) index.
func less1(a, b float64) int { return int(math.Float64bits(a-b) >> 63) }

// nearest returns the index of the closest centre (lowest index on ties) and
// the squared distance to it.
func nearest(x, C []float64, k int) (int, float64) {
	if len(x) == 8 {
		return nearest8((*[8]float64)(x), C[:k*8])
	}
	return nearestN(x, C[:k*len(x)])
}

func nearest8(x *[8]float64, C []float64) (int, float64) {
	best, bj := math.Inf(1), 0
	for j := 0; j < len(C)/8; j++ {
		c := (*[8]float64)(C[j*8 : j*8+8])
		v0, v1, v2, v3 := x[0]-c[0], x[1]-c[1], x[2]-c[2], x[3]-c[3]
		v4, v5, v6, v7 := x[4]-c[4], x[5]-c[5], x[6]-c[6], x[7]-c[7]
		s := (v0*v0 + v1*v1) + (v2*v2 + v3*v3) + (v4*v4 + v5*v5) + (v6*v6 + v7*v7)
		bj += (j - bj) * less1(s, best)
		best = min(best, s)
	}
	return bj, best
}

// nearestN has sqDistN written out in the centre loop (the call would cost
// as much as the distance at d≈10).
func nearestN(x, C []float64) (int, float64) {
	d := len(x)
	best, bj := math.Inf(1), 0
	for j := 0; j < len(C)/d; j++ {
		c := C[j*d : j*d+d : j*d+d]
		var s0, s1, s2, s3 float64
		t := 0
		for ; t+4 <= d; t += 4 {
			v0, v1, v2, v3 := x[t]-c[t], x[t+1]-c[t+1], x[t+2]-c[t+2], x[t+3]-c[t+3]
			s0 += v0 * v0
			s1 += v1 * v1
			s2 += v2 * v2
			s3 += v3 * v3
		}
		for ; t < d; t++ {
			v := x[t] - c[t]
			s0 += v * v
		}
		s := (s0 + s1) + (s2 + s3)
		bj += (j - bj) * less1(s, best)
		best = min(best, s)
	}
	return bj, best
}

// nearest2 is nearest that also returns the second smallest squared
// distance, for Hamerly's lower bound.
func nearest2(x, C []float64, k int) (int, float64, float64) {
	d := len(x)
	b1, b2, bj := sqDist(x, C[:d]), math.Inf(1), 0
	for j := 1; j < k; j++ {
		s := sqDist(x, C[j*d:j*d+d])
		bj += (j - bj) * less1(s, b1)
		b2 = min(b2, max(b1, s))
		b1 = min(b1, s)
	}
	return bj, b1, b2
}

// lloydChunk assigns rows [lo,hi) of X to their nearest centre, adds each row
// to its centre's sum and count, and returns the summed squared distance and
// the number of labels that changed. sums may be nil for a pure assignment.
func lloydChunk(X []float64, d int, C []float64, k, lo, hi int, labels []int32, sums []float64, counts []int64) (inertia float64, changed int) {
	if d == 8 {
		return lloydChunk8(X, C, k, lo, hi, labels, sums, counts)
	}
	C = C[:k*d]
	for i := lo; i < hi; i++ {
		x := X[i*d : i*d+d : i*d+d]
		bj, best := nearestN(x, C)
		changed += b2i(labels[i] != int32(bj))
		labels[i] = int32(bj)
		inertia += best
		if sums != nil {
			row := sums[bj*d : bj*d+d]
			for t, v := range x {
				row[t] += v
			}
			counts[bj]++
		}
	}
	return inertia, changed
}

// lloydChunk8 is lloydChunk for d == 8 with the distance written out and
// no data-dependent branch in the row loop.
func lloydChunk8(X, C []float64, k, lo, hi int, labels []int32, sums []float64, counts []int64) (inertia float64, changed int) {
	C = C[:k*8]
	for i := lo; i < hi; i++ {
		x := (*[8]float64)(X[i*8 : i*8+8])
		best, bj := math.Inf(1), 0
		for j := 0; j < k; j++ {
			c := (*[8]float64)(C[j*8 : j*8+8])
			v0, v1, v2, v3 := x[0]-c[0], x[1]-c[1], x[2]-c[2], x[3]-c[3]
			v4, v5, v6, v7 := x[4]-c[4], x[5]-c[5], x[6]-c[6], x[7]-c[7]
			s := (v0*v0 + v1*v1) + (v2*v2 + v3*v3) + (v4*v4 + v5*v5) + (v6*v6 + v7*v7)
			bj += (j - bj) * less1(s, best)
			best = min(best, s)
		}
		changed += b2i(labels[i] != int32(bj))
		labels[i] = int32(bj)
		inertia += best
		if sums != nil {
			row := (*[8]float64)(sums[bj*8 : bj*8+8])
			for t := range row {
				row[t] += x[t]
			}
			counts[bj]++
		}
	}
	return inertia, changed
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sqDists writes the squared distance from x to every centre in C into out
// (len(C)/len(x) values), in sqDist's operation order.
func sqDists(x, C, out []float64) {
	d := len(x)
	if d == 8 {
		x := (*[8]float64)(x)
		for j := range out {
			out[j] = sqDist8(x, (*[8]float64)(C[j*8:j*8+8]))
		}
		return
	}
	for j := range out {
		c := C[j*d : j*d+d : j*d+d]
		var s0, s1, s2, s3 float64
		t := 0
		for ; t+4 <= d; t += 4 {
			v0, v1, v2, v3 := x[t]-c[t], x[t+1]-c[t+1], x[t+2]-c[t+2], x[t+3]-c[t+3]
			s0 += v0 * v0
			s1 += v1 * v1
			s2 += v2 * v2
			s3 += v3 * v3
		}
		for ; t < d; t++ {
			v := x[t] - c[t]
			s0 += v * v
		}
		out[j] = (s0 + s1) + (s2 + s3)
	}
}
