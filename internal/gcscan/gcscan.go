// Package gcscan tells tests how much of the heap the garbage collector
// scans, so that a structure held for a whole run can be held to having
// no pointer per row (strcol.Column, features.Levels).
package gcscan

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

// Heap collects, then returns the bytes of heap the collector scans
// (runtime/metrics /gc/scan/heap:bytes). It skips t on a runtime without
// the metric.
func Heap(t testing.TB) uint64 {
	t.Helper()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Skip("no /gc/scan/heap:bytes in this runtime")
	}
	return s[0].Value.Uint64()
}
