package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSeedFusedAgrees pins seedFusedSIMD to the path it replaces (distsSIMD
// then seedStepSIMD) and to the portable seedRows loop, bit for bit: the
// closest distances it folds and the candidates' potential sums, which pick
// the k-means++ seeds.
func TestSeedFusedAgrees(t *testing.T) {
	if !simdAvailable() {
		t.Skip("no vector kernel on this machine")
	}
	ks := []int{1, 2, 3, 4, 5, 6, 7, 8, 20, 21, 54, 55, 148, 149, 403}
	ns := []int{1, 3, 4, 5, 129, 130, 2048}
	for _, k := range ks {
		trials := 2 + int(math.Log(float64(k)))
		for fold := 0; fold <= 1; fold++ {
			m := fold + trials
			for d := 1; d <= 16; d++ {
				n := ns[(k+d+fold)%len(ns)]
				name := fmt.Sprintf("k=%d/fold=%d/d=%d/n=%d", k, fold, d, n)
				t.Run(name, func(t *testing.T) { checkSeedFused(t, n, d, m, fold, uint64(1000*k+10*d+fold)) })
			}
		}
	}
	// A set past one group of lanes is not fused.
	jb := &job{phase: phaseSeedStep, d: 2, kn: kernel{d: 2, simd: true}, set: make([]float64, 2*(1+8))}
	if jb.fused() {
		t.Fatal("9 centres fused")
	}
}

func checkSeedFused(t *testing.T, n, d, m, fold int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	X, _, _ := blobs(n+m, d, 3, 1, seed)
	C := slices.Clone(X.Data[n*d : (n+m)*d])
	if n > 2 {
		copy(C[(m-1)*d:], X.Row(1)) // a candidate on a row: distance 0
	}
	if m > fold+1 {
		copy(C[fold*d:(fold+1)*d], C[(m-1)*d:m*d]) // two candidates tie
	}
	if n > 3 {
		for t := range d {
			X.Data[2*d+t] = 1e300 // every distance +Inf
		}
	}
	closest := make([]float64, n)
	for i := range closest {
		switch i % 5 {
		case 0:
			closest[i] = math.Inf(1)
		case 1:
			closest[i] = pairDist(X.Row(i), C[(m-1)*d:m*d]) // ties the last candidate
		default:
			closest[i] = rng.Float64() * 4
		}
	}
	acc0 := make([]float64, m-fold)
	for t := range acc0 {
		acc0[t] = rng.Float64() * 100
	}

	// Portable: seedRows's Go loop.
	wantCl, want := slices.Clone(closest), slices.Clone(acc0)
	for i := 0; i < n; i++ {
		cl := wantCl[i]
		if fold == 1 {
			cl = minDist(cl, pairDist(X.Row(i), C[:d]))
			wantCl[i] = cl
		}
		for t := range want {
			want[t] += minDist(cl, pairDist(X.Row(i), C[(fold+t)*d:(fold+t+1)*d]))
		}
	}

	// The kernel output and seedStepSIMD.
	vec := kernel{d: d, simd: true}
	cs := &centres{}
	vec.prepare(cs, C)
	out := make([]float64, n*cs.stride+simdGroup)
	vec.dists(X.Data, 0, n, cs, out)
	oldCl := slices.Clone(closest)
	var a8 [simdGroup]float64
	copy(a8[:], acc0)
	seedStepSIMD(&out[0], cs.stride, n, &oldCl[0], fold, &a8)
	old := slices.Clone(a8[:m-fold])

	// Fused.
	newCl := slices.Clone(closest)
	var f8 [simdGroup]float64
	copy(f8[fold:], acc0)
	seedFusedSIMD(&X.Data[0], n, d, &cs.ct[0], &newCl[0], fold, &f8)
	got := f8[fold:m]

	for i := range wantCl {
		if math.Float64bits(newCl[i]) != math.Float64bits(wantCl[i]) || math.Float64bits(oldCl[i]) != math.Float64bits(wantCl[i]) {
			t.Fatalf("row %d closest: fused %v, seedStepSIMD %v, portable %v", i, newCl[i], oldCl[i], wantCl[i])
		}
	}
	for c := range want {
		if math.Float64bits(got[c]) != math.Float64bits(want[c]) || math.Float64bits(old[c]) != math.Float64bits(want[c]) {
			t.Fatalf("candidate %d sum: fused %v, seedStepSIMD %v, portable %v", c, got[c], old[c], want[c])
		}
	}
}
