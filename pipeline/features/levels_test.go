package features

import (
	"runtime"
	"testing"

	"github.com/strata-oss/strata/internal/gcscan"
)

// TestLevelsNoPointers: the own attributes' levels of a million customers,
// held live from the features stage to publish, add nothing the garbage
// collector scans, where the []string they replace added a header per
// customer (measured too, so that the metric is known to see them).
func TestLevelsNoPointers(t *testing.T) {
	const n = 1_000_000
	dict := []string{"family", "outdoor", "retired", "student", "urban"}
	codes := func() []int32 {
		c := make([]int32, n)
		for i := range c {
			c[i] = int32(i%(len(dict)+1)) - 1 // every sixth unknown
		}
		return c
	}
	// The bound leaves room for what the test and runtime allocate
	// meanwhile; the levels' own share is 0.
	const bound = 1 << 20
	for _, tc := range []struct {
		name     string
		build    func() any
		min, max int64
	}{
		{"Levels", func() any { return Levels{Codes: codes(), Dict: dict} }, 0, bound},
		{"[]string", func() any {
			lv := Levels{Codes: codes(), Dict: dict}
			s := make([]string, n)
			for i := range s {
				s[i] = lv.At(i)
			}
			return s
		}, 16 * n, 1 << 62},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := gcscan.Heap(t)
			v := tc.build()
			after := gcscan.Heap(t)
			runtime.KeepAlive(v)
			grew := int64(after) - int64(before)
			t.Logf("scannable heap: %d bytes, %d with %d customers' levels", before, after, n)
			if grew < tc.min || grew >= tc.max {
				t.Errorf("%d customers' levels as %s: the scannable heap grew %d bytes, want in [%d, %d)", n, tc.name, grew, tc.min, tc.max)
			}
		})
	}
}

// TestLevelsAt: an unknown level reads as "", as the []string's did.
func TestLevelsAt(t *testing.T) {
	lv := Levels{Codes: []int32{1, -1, 0}, Dict: []string{"a", "b"}}
	for i, want := range []string{"b", "", "a"} {
		if got := lv.At(i); got != want {
			t.Errorf("At(%d) = %q, want %q", i, got, want)
		}
	}
}
