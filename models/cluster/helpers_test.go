package cluster

import (
	"math"
	"math/rand/v2"
)

// blobs draws n rows from k isotropic Gaussians (sd 1) in d dimensions whose
// centres are at least minSep apart. Labels are the generating component.
func blobs(n, d, k int, minSep float64, seed uint64) (Matrix, []int32, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float64, 0, k)
	scale := minSep * math.Max(1, math.Pow(float64(k), 1/float64(d)))
	for len(centres) < k {
		c := make([]float64, d)
		for t := range c {
			c[t] = (rng.Float64()*2 - 1) * scale * 1.5
		}
		ok := true
		for _, o := range centres {
			if math.Sqrt(sqDistN(c, o)) < minSep {
				ok = false
				break
			}
		}
		if ok {
			centres = append(centres, c)
		}
	}
	X := NewMatrix(n, d)
	y := make([]int32, n)
	for i := 0; i < n; i++ {
		j := rng.IntN(k)
		y[i] = int32(j)
		for t, v := range centres[j] {
			X.Data[i*d+t] = v + rng.NormFloat64()
		}
	}
	return X, y, centres
}

// adjustedRand is the Hubert–Arabie adjusted Rand index.
func adjustedRand(a, b []int32) float64 {
	type pair struct{ x, y int32 }
	nij := map[pair]float64{}
	ai, bj := map[int32]float64{}, map[int32]float64{}
	for i := range a {
		nij[pair{a[i], b[i]}]++
		ai[a[i]]++
		bj[b[i]]++
	}
	c2 := func(v float64) float64 { return v * (v - 1) / 2 }
	var sij, sa, sb float64
	for _, v := range nij {
		sij += c2(v)
	}
	for _, v := range ai {
		sa += c2(v)
	}
	for _, v := range bj {
		sb += c2(v)
	}
	exp := sa * sb / c2(float64(len(a)))
	return (sij - exp) / ((sa+sb)/2 - exp)
}
