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
