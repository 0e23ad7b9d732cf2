package stages

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/strata-oss/strata/models/cluster"
)

// TestProfileFeaturesWorkers: the features profiled at once give each
// feature's profiles of one worker, bit for bit, in feature order, for
// sizes around nothing, one row and uneven splits; the error is always
// the first failing feature's.
func TestProfileFeaturesWorkers(t *testing.T) {
	const k, d = 3, 5
	for _, n := range []int{0, 1, 2, 9, 8193, 40_001} {
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		data := make([][]float64, d)
		for f := range data {
			data[f] = make([]float64, n)
			for i := range data[f] {
				data[f][i] = rng.ExpFloat64() * float64(f+1)
			}
		}
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(rng.IntN(k))
		}
		fl := make([]cluster.FeatureLabel, d)
		for f := range fl {
			fl[f] = cluster.FeatureLabel{Name: fmt.Sprint("f", f)}
		}
		column := func(t int, dst []float64) error { copy(dst, data[t]); return nil }
		profile := func(col cluster.Matrix, fl []cluster.FeatureLabel) ([]cluster.Profile, error) {
			return cluster.Profiles(col, labels, k, nil, fl)
		}
		want, wantErr := profileFeatures(context.Background(), 1, n, fl, column, profile)
		for _, w := range []int{0, 2, 3, 8} {
			got, err := profileFeatures(context.Background(), w, n, fl, column, profile)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !sameProfiles(got, want) {
				t.Fatalf("n %d workers %d: profiles or error (%v, want %v) differ from one worker's", n, w, err, wantErr)
			}
		}
		failing := func(t int, dst []float64) error {
			if t == 1 || t == 3 {
				return fmt.Errorf("feature %d fails", t)
			}
			return column(t, dst)
		}
		for _, w := range []int{1, 2, 8} {
			if _, err := profileFeatures(context.Background(), w, n, fl, failing, profile); err == nil || err.Error() != "feature 1 fails" {
				t.Fatalf("n %d workers %d: error %v, want feature 1's", n, w, err)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := profileFeatures(ctx, 2, 1, make([]cluster.FeatureLabel, 2), func(int, []float64) error { return nil }, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: error %v", err)
	}
}

func sameProfiles(a, b [][]cluster.Profile) bool {
	if len(a) != len(b) {
		return false
	}
	for t := range a {
		if len(a[t]) != len(b[t]) {
			return false
		}
		for j, p := range a[t] {
			q := b[t][j]
			if p.ID != q.ID || p.Size != q.Size || p.Name != q.Name || math.Float64bits(p.Share) != math.Float64bits(q.Share) ||
				!sameBits(p.Means, q.Means) || !sameBits(p.Z, q.Z) {
				return false
			}
		}
	}
	return true
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}
