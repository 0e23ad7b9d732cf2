package cluster

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

var rfmLabels = []FeatureLabel{
	{Name: "recency", High: "lapsed", Low: "recent"},
	{Name: "frequency", High: "frequent", Low: "rare"},
	{Name: "monetary", High: "high spend", Low: "low spend"},
	{Name: "age"},
}

func TestProfilesStatistics(t *testing.T) {
	X, _ := MatrixFromRows([][]float64{
		{1, 10, 500, 30}, {3, 12, 700, 30},
		{100, 1, 20, 30}, {120, 2, 40, 30}, {110, 1, 30, 30},
	})
	labels := []int32{0, 0, 1, 1, 1}
	ps, err := Profiles(X, labels, 2, []int{7, 3}, rfmLabels)
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].ID != 7 || ps[0].Size != 2 || ps[1].Size != 3 || math.Abs(ps[1].Share-0.6) > 1e-15 {
		t.Errorf("ids/sizes/shares: %+v", ps)
	}
	for f := 0; f < X.D; f++ {
		var m, s float64
		for i := 0; i < X.N; i++ {
			m += X.Row(i)[f] / float64(X.N)
		}
		for i := 0; i < X.N; i++ {
			s += (X.Row(i)[f] - m) * (X.Row(i)[f] - m) / float64(X.N)
		}
		for j, p := range ps {
			var cm float64
			var n int
			for i := 0; i < X.N; i++ {
				if int(labels[i]) == j {
					cm += X.Row(i)[f]
					n++
				}
			}
			cm /= float64(n)
			wantZ := 0.0
			if s > 0 {
				wantZ = (cm - m) / math.Sqrt(s)
			}
			if math.Abs(p.Means[f]-cm) > 1e-12 || math.Abs(p.Z[f]-wantZ) > 1e-12 {
				t.Errorf("cluster %d feature %d: mean %v z %v, want %v %v", j, f, p.Means[f], p.Z[f], cm, wantZ)
			}
		}
	}
	if ps[0].Name != "Recent · frequent · high spend" || ps[1].Name != "Lapsed · rare · low spend" {
		t.Errorf("names %q, %q", ps[0].Name, ps[1].Name)
	}
}

func TestNamesDistinctiveAndUnique(t *testing.T) {
	mk := func(id int, z ...float64) Profile { return Profile{ID: id, Z: z} }
	for _, tc := range []struct {
		name string
		ps   []Profile
		want []string
	}{
		{"top |z| order and sign", []Profile{mk(0, -0.3, 2, -1.5, 0.1)},
			[]string{"Frequent · low spend · recent"}},
		{"below threshold dropped", []Profile{mk(0, 0.1, 0.9, 0.2, 0)},
			[]string{"Frequent"}},
		{"nothing distinctive", []Profile{mk(0, 0.1, 0.1, 0.1, 0.1)},
			[]string{"Typical"}},
		{"fallback label", []Profile{mk(0, 0, 0, 0, -3)},
			[]string{"Low age"}},
		{"clash extended by the next feature", []Profile{mk(0, 1, 2, 3, 0.2), mk(1, 1, 2, 3, -0.1)},
			[]string{"High spend · frequent · lapsed · high age", "High spend · frequent · lapsed · low age"}},
		{"clash with no feature left uses the id", []Profile{mk(4, 1, 2, 3, 0.5), mk(9, 1, 2, 3, 0.5)},
			[]string{"High spend · frequent · lapsed · high age · #4", "High spend · frequent · lapsed · high age · #9"}},
	} {
		nameProfiles(tc.ps, rfmLabels)
		seen := map[string]bool{}
		for j, p := range tc.ps {
			if p.Name != tc.want[j] {
				t.Errorf("%s: cluster %d named %q, want %q", tc.name, j, p.Name, tc.want[j])
			}
			if seen[p.Name] {
				t.Errorf("%s: duplicate name %q", tc.name, p.Name)
			}
			seen[p.Name] = true
		}
	}
}

// Many clusters of random profiles: names always unique.
func TestNamesUniqueRandom(t *testing.T) {
	X, _, _ := blobs(2000, 4, 12, 1, 3)
	labels := make([]int32, X.N)
	for i := range labels {
		labels[i] = int32(i % 12)
	}
	ps, err := Profiles(X, labels, 12, nil, rfmLabels)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Name] {
			t.Errorf("duplicate name %q", p.Name)
		}
		seen[p.Name] = true
	}
}

// TestProfilesByColumn: a feature's means and z-scores are sums over its
// own column, so profiling the columns of a matrix in two parts gives the
// same bits as profiling it whole (the cluster stage profiles its activity
// witnesses apart from the clustered features).
func TestProfilesByColumn(t *testing.T) {
	X, labels, _ := blobs(2*chunkRows+17, 5, 4, 2, 9)
	feats := make([]FeatureLabel, X.D)
	for t := range feats {
		feats[t] = FeatureLabel{Name: fmt.Sprintf("f%d", t)}
	}
	whole, err := Profiles(X, labels, 4, nil, feats)
	if err != nil {
		t.Fatal(err)
	}
	split := func(lo, hi int) []Profile {
		m := NewMatrix(X.N, hi-lo)
		for i := range X.N {
			copy(m.Row(i), X.Row(i)[lo:hi])
		}
		ps, err := Profiles(m, labels, 4, nil, feats[lo:hi])
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	a, b := split(0, 3), split(3, 5)
	for j := range whole {
		means := append(append([]float64(nil), a[j].Means...), b[j].Means...)
		z := append(append([]float64(nil), a[j].Z...), b[j].Z...)
		if !slices.Equal(means, whole[j].Means) || !slices.Equal(z, whole[j].Z) || a[j].Size != whole[j].Size {
			t.Errorf("cluster %d: split means %v z %v, whole %v %v", j, means, z, whole[j].Means, whole[j].Z)
		}
	}
}
