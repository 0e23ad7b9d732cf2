package stages

import (
	"slices"
	"testing"
)

// TestTraitHorizonIsCLV: the trait column of the run's own horizon is the
// clv column (scoreExtras leaves it out of the horizons it computes), and
// the others are columns of their own.
func TestTraitHorizonIsCLV(t *testing.T) {
	clvCol := make([]float64, 4)
	for _, tc := range []struct {
		months int
		shared int // index into traitHorizons, -1 for none
	}{{12, 2}, {3, 0}, {24, -1}} {
		e := newExtras(4, tc.months, clvCol)
		idx, months := e.ownHorizons(clvCol)
		for h := range traitHorizons {
			same := &e.CLVByHorizon[h][0] == &clvCol[0]
			if same != (h == tc.shared) || slices.Contains(idx, h) == same {
				t.Errorf("horizon %d months: clv_%dm shares clv %v, computed %v", tc.months, traitHorizons[h], same, slices.Contains(idx, h))
			}
		}
		if want := len(traitHorizons) - min(1, tc.shared+1); len(months) != want {
			t.Errorf("horizon %d months: computes %v, want %d horizons", tc.months, months, want)
		}
	}
}
