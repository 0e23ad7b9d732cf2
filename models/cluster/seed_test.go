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

// portableSeedStep is seedRows's Go loop on rows [0,n) of X for the
// centres C (fold pending, then the candidates), from the closest distances
// and candidate sums given; it returns both updated.
func portableSeedStep(X Matrix, n int, C []float64, fold int, closest, acc []float64) ([]float64, []float64) {
	d := X.D
	cls, sums := slices.Clone(closest), slices.Clone(acc)
	for i := 0; i < n; i++ {
		cl := cls[i]
		if fold == 1 {
			cl = minDist(cl, pairDist(X.Row(i), C[:d]))
			cls[i] = cl
		}
		for t := range sums {
			sums[t] += minDist(cl, pairDist(X.Row(i), C[(fold+t)*d:(fold+t+1)*d]))
		}
	}
	return cls, sums
}

// seedCase returns rows, k-means++ centres (fold pending, then m−fold
// candidates), closest distances and candidate sums with ties and +Inf:
// a candidate on a row, two candidates equal, a row at 1e300 (every
// distance +Inf), closest distances at +Inf and equal to a candidate's.
func seedCase(n, d, m, fold int, seed uint64) (X Matrix, C, closest, acc0 []float64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	X, _, _ = blobs(n+m, d, 3, 1, seed)
	C = slices.Clone(X.Data[n*d : (n+m)*d])
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
	closest = make([]float64, n)
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
	acc0 = make([]float64, m-fold)
	for t := range acc0 {
		acc0[t] = rng.Float64() * 100
	}
	return X, C, closest, acc0
}

// TestSeedPairAgrees pins seedPairSIMD, two jobs of at most 4 candidates in
// one call, to the portable seedRows loop run for each job alone.
func TestSeedPairAgrees(t *testing.T) {
	if !simdAvailable() {
		t.Skip("no vector kernel on this machine")
	}
	ns := []int{1, 3, 4, 5, 129, 130, 2048}
	for _, k := range []int{1, 2, 3, 4, 5, 6, 7, 8, 20} {
		trials := 2 + int(math.Log(float64(k)))
		for folds := 0; folds < 4; folds++ {
			fa, fb := folds&1, folds>>1
			for d := 1; d <= 16; d++ {
				n := ns[(k+d+folds)%len(ns)]
				t.Run(fmt.Sprintf("k=%d/folds=%d/d=%d/n=%d", k, folds, d, n), func(t *testing.T) {
					seed := uint64(1000*k + 10*d + folds)
					X, CA, clA, accA := seedCase(n, d, fa+trials, fa, seed)
					// B's centres: other rows of the same X, same ties.
					_, CB, clB, accB := seedCase(n, d, fb+trials, fb, seed+1)
					for i := range CB {
						CB[i] = CB[i]*0.5 + 0.25
					}
					wantClA, wantA := portableSeedStep(X, n, CA, fa, clA, accA)
					wantClB, wantB := portableSeedStep(X, n, CB, fb, clB, accB)
					ct := pairLayout(nil, CA, fa, CB, fb, d)
					var a4, b4 [4]float64
					copy(a4[:], accA)
					copy(b4[:], accB)
					gotClA, gotClB := slices.Clone(clA), slices.Clone(clB)
					seedPairSIMD(&X.Data[0], n, d, &ct[0], &gotClA[0], &gotClB[0], folds, &a4, &b4)
					same := func(a, b []float64) bool {
						for i := range a {
							if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
								return false
							}
						}
						return true
					}
					if !same(gotClA, wantClA) || !same(gotClB, wantClB) {
						t.Fatal("closest distances differ from the portable loop")
					}
					if !same(a4[:trials], wantA) || !same(b4[:trials], wantB) {
						t.Fatalf("sums A %v B %v, portable %v %v", a4[:trials], b4[:trials], wantA, wantB)
					}
				})
			}
		}
	}
}

func checkSeedFused(t *testing.T, n, d, m, fold int, seed uint64) {
	X, C, closest, acc0 := seedCase(n, d, m, fold, seed)
	wantCl, want := portableSeedStep(X, n, C, fold, closest, acc0)

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
