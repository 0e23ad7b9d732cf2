package stages

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestCountPairs: the dense grid counts what the map does, in the same
// order, for groups near and far apart (the map's case).
func TestCountPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, spread := range []int32{1, 9, 300, 1 << 20} {
		from, to := make([]int32, 5000), make([]int32, 5000)
		for i := range from {
			from[i], to[i] = rng.Int32N(spread)-1, rng.Int32N(spread)-1
		}
		if got, want := countPairs(from, to), countPairsSparse(from, to); !reflect.DeepEqual(got, want) {
			t.Errorf("spread %d: %v, want %v", spread, got, want)
		}
	}
	if got := countPairs([]int32{}, []uint8{}); got == nil || len(got) != 0 {
		t.Errorf("no customers: %#v, want an empty list", got)
	}
}

func TestIDIndex(t *testing.T) {
	for _, ids := range [][]int32{{0, 1, 2}, {3, 7, 12}, {-4, 2}, {5, maxDense + 1}} {
		x := newIDIndex(ids)
		for i, id := range ids {
			if got, ok := x.at(id); got != i || !ok {
				t.Errorf("%v: at(%d) = %d, %v, want %d", ids, id, got, ok, i)
			}
		}
		for _, id := range []int32{-1, 1, 4, maxDense, maxDense + 2} {
			if slices.Contains(ids, id) {
				continue
			}
			if got, ok := x.at(id); got != 0 || ok {
				t.Errorf("%v: at(%d) = %d, %v, want absent", ids, id, got, ok)
			}
		}
	}
}

func TestBucketTable(t *testing.T) {
	for _, edges := range [][]int{pAliveFreqEdges, pAliveRecEdges} {
		tb := newBucketTable(edges)
		for v := -3; v < 200; v++ {
			if got, want := tb.of(v), bucket(v, edges); got != want {
				t.Errorf("%v: of(%d) = %d, want %d", edges, v, got, want)
			}
		}
	}
}
