package stages

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/strata-oss/strata/models/rfm"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/features"
)

// rfmBehaviour is n customers' RFM features: most bought (tied day and
// order counts, continuous spend), some not.
func rfmBehaviour(n int, seed uint64, noAmount bool) *features.Behaviour {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := &features.Behaviour{N: n, NoAmount: noAmount, HasOrders: make([]bool, n),
		RecencyDays: make([]int32, n), Frequency: make([]int32, n), Monetary: make([]float64, n)}
	for i := range n {
		if rng.IntN(6) == 0 {
			continue
		}
		b.HasOrders[i] = true
		b.RecencyDays[i] = int32(rng.IntN(730))
		b.Frequency[i] = int32(1 + rng.IntN(3)*rng.IntN(4))
		if !noAmount {
			b.Monetary[i] = math.Round(rng.ExpFloat64()*20_000) / 100
		}
	}
	return b
}

// TestRFMWorkersSameScores: the breaks, scores and segments of the
// parallel fit and scoring are those of one worker, bit for bit, and
// each customer's scores are rfm.ScoreByBreaks', for sizes around the
// chunks (none, one, not a multiple of a chunk).
func TestRFMWorkersSameScores(t *testing.T) {
	for _, tc := range []struct {
		n        int
		noAmount bool
	}{{0, false}, {1, false}, {7, false}, {rfmChunk, false}, {rfmChunk + 3, false}, {3*rfmChunk - 1, true}, {150_001, false}} {
		b := rfmBehaviour(tc.n, uint64(tc.n)+1, tc.noAmount)
		want := runRFM(t, b, 1)
		for _, w := range []int{2, 3, 8} {
			if got := runRFM(t, b, w); !sameRFM(got, want) {
				t.Fatalf("n %d workers %d: scores differ from one worker's", tc.n, w)
			}
		}
		checkScoreByBreaks(t, b, want)
	}
}

func runRFM(t *testing.T, b *features.Behaviour, workers int) *rfmScores {
	t.Helper()
	s, err := applyRFM(&config.Config{Workers: workers}, b, fitRFM(b, workers))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameRFM compares scores bit for bit: the breaks by their bits (NaN,
// for a score nobody got, is not DeepEqual to itself), the rest as values.
func sameRFM(a, b *rfmScores) bool {
	if len(a.Breaks) != len(b.Breaks) {
		return false
	}
	for k, va := range a.Breaks {
		vb, ok := b.Breaks[k]
		if !ok {
			return false
		}
		for i := range va {
			if math.Float64bits(va[i]) != math.Float64bits(vb[i]) {
				return false
			}
		}
	}
	ac, bc := *a, *b
	ac.Breaks, bc.Breaks = nil, nil
	return reflect.DeepEqual(ac, bc)
}

func checkScoreByBreaks(t *testing.T, b *features.Behaviour, s *rfmScores) {
	t.Helper()
	for i := range b.N {
		if !b.HasOrders[i] {
			if s.R[i] != 0 || s.F[i] != 0 || s.M[i] != 0 {
				t.Fatalf("customer %d without orders scored %d%d%d", i, s.R[i], s.F[i], s.M[i])
			}
			continue
		}
		r := rfm.ScoreByBreaks(float64(b.RecencyDays[i]), s.Breaks[rfmNames[0]], false)
		f := rfm.ScoreByBreaks(float64(b.Frequency[i]), s.Breaks[rfmNames[1]], true)
		if s.R[i] != r || s.F[i] != f {
			t.Fatalf("customer %d: R %d F %d, want %d %d", i, s.R[i], s.F[i], r, f)
		}
		if !b.NoAmount {
			if m := rfm.ScoreByBreaks(b.Monetary[i], s.Breaks[rfmNames[2]], true); s.M[i] != m {
				t.Fatalf("customer %d: M %d, want %d", i, s.M[i], m)
			}
		}
		if want := s.Segments[s.Seg[i]]; want != segmentOf(s, r, f) {
			t.Fatalf("customer %d: segment %q, want %q", i, want, segmentOf(s, r, f))
		}
	}
}

func segmentOf(s *rfmScores, r, f int8) string {
	g, _ := rfm.NewGrid(s.Rules)
	return g.Segment(r, f)
}
