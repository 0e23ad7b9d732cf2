//go:build amd64 && !purego

package cluster

import "golang.org/x/sys/cpu"

// simdAvailable reports whether distsSIMD can run: it needs AVX2 and FMA
// (Haswell, Zen and later), with the OS saving the YMM state, which
// x/sys/cpu checks.
func simdAvailable() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// distsSIMD writes, for each of n rows of d values (x[0..n) in order if
// rows is nil, else the rows numbered by rows[0..n)), the squared distances
// to groups×8 centres laid out as in centres.ct, to out (groups×8 values
// per row). See kernel.go for the order of operations.
//
//go:noescape
func distsSIMD(x *float64, rows *int32, n, d int, ct *float64, groups int, out *float64)

// seedStepSIMD is the inner loop of a k-means++ step (job.seedRows) for n
// rows of kernel output with the given stride: see kernel_amd64.s.
//
//go:noescape
func seedStepSIMD(out *float64, stride, n int, closest *float64, fold int, acc *[8]float64)

// seedFusedSIMD is distsSIMD for one group of centres fused with
// seedStepSIMD, the distances kept in registers; candidate t's sum is in
// lane fold+t of acc: see kernel_amd64.s.
//
//go:noescape
func seedFusedSIMD(x *float64, n, d int, ct *float64, closest *float64, fold int, acc *[8]float64)

// seedPairSIMD is seedFusedSIMD for two jobs of at most 4 candidates each
// over the centres laid out by pairLayout: see kernel_amd64.s.
//
//go:noescape
func seedPairSIMD(x *float64, n, d int, ct *float64, closestA, closestB *float64, folds int, accA, accB *[4]float64)

// hamerlyBoundsSIMD is the bound-moving pass of hamerlyState.block for n
// rows starting at row lo: see kernel_amd64.s. It is scalar code, in
// assembly because the compiler's version spills the loop's many slices
// to the stack and checks every index.
//
//go:noescape
func hamerlyBoundsSIMD(lo, n, k int, labels *int32, upper, lower, move, shift, half *float64, up, down float64, rows *int32) int

// rescanSIMD is Hamerly's full scan fused with argmin2 and the bound
// update, for k ≤ 8: see kernel_amd64.s.
//
//go:noescape
func rescanSIMD(x *float64, rows *int32, n, d int, ct *float64, bias *[8]float64, labels *int32, upper, lower *float64, prev *int32) (changed int)

// lloydSIMD is lloydBlock's assignment for k ≤ 8 with argmin fused into
// the distance kernel: see kernel_amd64.s.
//
//go:noescape
func lloydSIMD(x *float64, n, d int, ct *float64, bias *[8]float64, labels, prev *int32) (changed int)

// lloydQuadSIMD is lloydSIMD for n rows, n a multiple of 4, four rows at a
// time over the broadcast centres bt (centres.bt), that also lists the
// offsets of the rows whose label changed in moved: see kernel_amd64.s.
//
//go:noescape
func lloydQuadSIMD(x *float64, n, d int, bt *float64, labels, prev, moved *int32) (changed int)

// sqrtSumSIMD is sqrtSum with vector square roots, the same bits: see
// kernel_amd64.s.
//
//go:noescape
func sqrtSumSIMD(v *float64, n int) float64
