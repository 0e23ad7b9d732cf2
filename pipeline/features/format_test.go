package features

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestFormatInts: ids render as strconv does, over chunk boundaries and at
// the ends of the int64 range, each chunk's part of the column sized by
// decimalLen, which must be exact.
func TestFormatInts(t *testing.T) {
	ids := []int64{0, 9, 10, 99, 100, -1, -9, -10, math.MaxInt64, math.MinInt64, math.MinInt64 + 1, 1e18, -1e18}
	rng := rand.New(rand.NewPCG(2, 9))
	for range 200_000 {
		ids = append(ids, rng.Int64()>>rng.IntN(64), -rng.Int64N(1e9))
	}
	for _, workers := range []int{1, 2, 5} {
		out := formatInts(ids, workers)
		if out.Len() != len(ids) {
			t.Fatalf("%d workers: %d strings for %d ids", workers, out.Len(), len(ids))
		}
		for i, id := range ids {
			if want := strconv.FormatInt(id, 10); out.At(i) != want || decimalLen(id) != len(want) {
				t.Fatalf("%d workers: id %d: %q (length %d), want %q", workers, id, out.At(i), decimalLen(id), want)
			}
		}
	}
}
