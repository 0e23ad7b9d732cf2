//go:build !amd64 || purego

package cluster

func simdAvailable() bool { return false }

func distsSIMD(x *float64, rows *int32, n, d int, ct *float64, groups int, out *float64) {
	panic("cluster: no vector kernel on this platform")
}

func seedStepSIMD(out *float64, stride, n int, closest *float64, fold int, acc *[8]float64) {
	panic("cluster: no vector kernel on this platform")
}

func seedFusedSIMD(x *float64, n, d int, ct *float64, closest *float64, fold int, acc *[8]float64) {
	panic("cluster: no vector kernel on this platform")
}

func seedPairSIMD(x *float64, n, d int, ct *float64, closestA, closestB *float64, folds int, accA, accB *[4]float64) {
	panic("cluster: no vector kernel on this platform")
}

func hamerlyBoundsSIMD(lo, n, k int, labels *int32, upper, lower, move, shift, half *float64, up, down float64, rows *int32) int {
	panic("cluster: no vector kernel on this platform")
}

func rescanSIMD(x *float64, rows *int32, n, d int, ct *float64, bias *[8]float64, labels *int32, upper, lower *float64, prev *int32) (changed int) {
	panic("cluster: no vector kernel on this platform")
}

func lloydSIMD(x *float64, n, d int, ct *float64, bias *[8]float64, labels, prev *int32) (changed int) {
	panic("cluster: no vector kernel on this platform")
}

func lloydQuadSIMD(x *float64, n, d int, bt *float64, labels, prev, moved *int32) (changed int) {
	panic("cluster: no vector kernel on this platform")
}

func sqrtSumSIMD(v *float64, n int) float64 {
	panic("cluster: no vector kernel on this platform")
}
