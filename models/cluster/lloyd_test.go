package cluster

import (
	"fmt"
	"slices"
	"testing"
)

// TestLloydBlockKernelsAgree: lloydBlock through the fused vector kernel
// (k ≤ 8) and through the portable kernel and argmin gives the same labels,
// change counts, sums and counts to the bit, from unassigned rows (-1) and
// again after the centres move, for widths with and without an odd
// dimension and for partial and full groups of 8.
func TestLloydBlockKernelsAgree(t *testing.T) {
	if !simdAvailable() {
		t.Skip("no vector kernel on this machine")
	}
	for _, d := range []int{1, 2, 3, 7, 10} {
		for _, m := range []int{1, 3, 8, 9} {
			t.Run(fmt.Sprintf("d=%d/m=%d", d, m), func(t *testing.T) {
				X, _, _ := blobs(700, d, 4, 1, uint64(10*d+m))
				// Duplicate centres: ties must go to the lower index.
				C := slices.Clone(X.Data[:m*d])
				if m > 1 {
					copy(C[d:2*d], C[:d])
				}
				type state struct {
					labels  []int32
					sums    []float64
					counts  []int64
					changed []int
				}
				run := func(simd bool) state {
					kn := kernel{d: d, simd: simd}
					var ws workerScratch
					s := state{labels: make([]int32, X.N), sums: make([]float64, m*d), counts: make([]int64, m)}
					for i := range s.labels {
						s.labels[i] = -1
					}
					cs := &centres{}
					C2 := slices.Clone(C)
					for pass := range 3 {
						kn.prepare(cs, C2)
						// Rows 5.. in blocks that do not start at 0.
						for lo := 5; lo < X.N; lo += 128 {
							s.changed = append(s.changed, lloydBlock(kn, X.Data, cs, lo, min(lo+128, X.N), s.labels, s.sums, s.counts, &ws))
						}
						// Move the centres as a fit would, so that the next
						// pass changes some labels and not others.
						for j := range m {
							if s.counts[j] > 0 {
								for t := range d {
									C2[j*d+t] = s.sums[j*d+t] / float64(s.counts[j]) * (1 + 0.01*float64(pass))
								}
							}
						}
					}
					return s
				}
				a, b := run(false), run(true)
				if !slices.Equal(a.labels, b.labels) || !slices.Equal(a.changed, b.changed) ||
					!slices.Equal(a.counts, b.counts) || !slices.Equal(a.sums, b.sums) {
					t.Fatalf("portable and vector kernels differ:\nchanged %v\n   vs   %v\ncounts %v\n   vs  %v", a.changed, b.changed, a.counts, b.counts)
				}
			})
		}
	}
}

// TestLloydQuadAgrees: the four-rows-at-a-time kernel (lloydAssignSIMD:
// quads through lloydQuadSIMD, the ragged 1-3 rows through lloydSIMD) gives
// the labels, previous labels and change count of the one-row vector kernel,
// lists exactly the changed rows in row order,
// and of the portable distances + argmin, for every k ≤ 8 (padding centres),
// widths with and without odd dimensions, row ranges that start off a quad
// and end with 0-3 left over, tied centres (the lower index wins) and rows
// whose distances overflow to +Inf (a real centre, never padding, wins).
func TestLloydQuadAgrees(t *testing.T) {
	if !simdAvailable() {
		t.Skip("no vector kernel on this machine")
	}
	tests := []struct {
		d, m, lo, hi int
	}{
		{1, 1, 0, 4}, {1, 8, 3, 260}, {2, 2, 0, 129}, {3, 8, 0, 2048},
		{3, 8, 5, 2047}, {3, 7, 1, 130}, {3, 5, 0, 3}, {4, 8, 2, 301},
		{7, 3, 0, 1001}, {10, 8, 9, 778}, {16, 6, 0, 402},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("d=%d/m=%d/rows=%d-%d", tc.d, tc.m, tc.lo, tc.hi), func(t *testing.T) {
			d, m := tc.d, tc.m
			X, _, _ := blobs(tc.hi+3, d, 4, 1, uint64(100*d+m))
			for _, i := range []int{tc.lo, tc.hi - 1} {
				for t := range d {
					X.Data[i*d+t] = 1e300 // every distance +Inf
				}
			}
			C := slices.Clone(X.Data[(tc.hi/2)*d : (tc.hi/2+m)*d])
			if m > 2 {
				copy(C[2*d:3*d], C[d:2*d]) // centres 1 and 2 tie
			}
			labels := make([]int32, X.N)
			for i := range labels {
				labels[i] = int32(i % m) // some stay, some change
			}
			portable := kernel{d: d}
			cs := &centres{}
			portable.prepare(cs, C)
			out := make([]float64, (tc.hi-tc.lo)*cs.stride)
			portable.dists(X.Data, tc.lo, tc.hi, cs, out)
			want, wantPrev, wantChanged := slices.Clone(labels), slices.Clone(labels[tc.lo:tc.hi]), 0
			for i := tc.lo; i < tc.hi; i++ {
				j, _ := argmin(out[(i-tc.lo)*cs.stride : (i-tc.lo)*cs.stride+m])
				if want[i] != int32(j) {
					wantChanged++
				}
				want[i] = int32(j)
			}
			vec := kernel{d: d, simd: true}
			vec.prepare(cs, C)
			got, prev, moved := slices.Clone(labels), make([]int32, tc.hi-tc.lo), make([]int32, tc.hi-tc.lo)
			changed := lloydAssignSIMD(X.Data, d, cs, tc.lo, tc.hi, got, prev, moved)
			var wantMoved []int32
			for i := tc.lo; i < tc.hi; i++ {
				if want[i] != labels[i] {
					wantMoved = append(wantMoved, int32(i-tc.lo))
				}
			}
			if !slices.Equal(moved[:changed], wantMoved) {
				t.Fatalf("moved rows %v, want %v", moved[:changed], wantMoved)
			}
			one, onePrev := slices.Clone(labels), make([]int32, tc.hi-tc.lo)
			oneChanged := lloydSIMD(&X.Data[tc.lo*d], tc.hi-tc.lo, d, &cs.ct[0], &cs.bias, &one[tc.lo], &onePrev[0])
			if !slices.Equal(got, want) || !slices.Equal(prev, wantPrev) || changed != wantChanged {
				t.Fatalf("quad kernel: %d changed, want %d; labels equal %v, prev equal %v",
					changed, wantChanged, slices.Equal(got, want), slices.Equal(prev, wantPrev))
			}
			if !slices.Equal(one, want) || !slices.Equal(onePrev, wantPrev) || oneChanged != wantChanged {
				t.Fatalf("one-row kernel disagrees with the portable one")
			}
		})
	}
}
