package stages

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/models/recommend"
	"github.com/strata-oss/strata/pipeline/config"
)

func TestDenseGroups(t *testing.T) {
	for _, tc := range []struct {
		name      string
		clusterID []int32
		ids, want []int32
	}{
		{"contiguous", []int32{0, 1, 2, -1, 1}, []int32{0, 1, 2}, []int32{0, 1, 2, -1, 1}},
		{"gaps, fitted order", []int32{7, 3, -1, 12, 3}, []int32{3, 7, 12}, []int32{1, 0, -1, 2, 0}},
		{"unsorted ids", []int32{7, 3, 12}, []int32{12, 3, 7}, []int32{2, 1, 0}},
		// An id the fit did not see: group 0, as the map lookup gave.
		{"unseen id", []int32{5, 40, 2}, []int32{2, 5}, []int32{1, 0, 0}},
		{"no clusters", []int32{-1, -1}, nil, []int32{-1, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := denseGroups(tc.clusterID, tc.ids); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("denseGroups(%v, %v) = %v, want %v", tc.clusterID, tc.ids, got, tc.want)
			}
		})
	}
}

// TestRecommendationColumnsWorkers: the table is filled by ranges of
// customers in parallel; every row must be where a sequential pass over
// customers then offers puts it, whatever the workers.
func TestRecommendationColumnsWorkers(t *testing.T) {
	const n = 40000 // a few of inRanges' chunks, the last one ragged
	cats := []string{"a", "b", "c", "d"}
	r := &recommendations{offers: make([][]recommend.Offer, n), cats: cats}
	ids := make([]string, n)
	cl := &clusterResult{ID: make([]int32, n)}
	type row struct {
		id, cat, basis string
		rank, cluster  int32
		lift           float64
		noCluster      bool
	}
	var want []row
	for c := range n {
		ids[c] = fmt.Sprint("c", c)
		cl.ID[c] = int32(c%5) - 1
		for k := range (c * 7) % 4 {
			o := recommend.Offer{Category: (c + k) % len(cats), Rank: k + 1, Lift: float64(c) + float64(k)/8}
			r.offers[c] = append(r.offers[c], o)
			basis := "cluster"
			if cl.ID[c] < 0 {
				basis = "base"
			}
			want = append(want, row{ids[c], cats[o.Category], basis, int32(o.Rank), max(cl.ID[c], 0), o.Lift, cl.ID[c] < 0})
		}
	}
	st := &Run{IDs: strcol.Of(ids...)}
	st.SetResult("cluster", cl)
	for _, workers := range []int{1, 2, 3} {
		st.Config = &config.Config{Workers: workers}
		cols := r.columns(st, 20000)
		if got := cols[0].Len(); got != len(want) {
			t.Fatalf("%d workers: %d rows, want %d", workers, got, len(want))
		}
		for i, w := range want {
			g := row{cols[0].StrAt(i), cols[3].StrAt(i), cols[6].StrAt(i), cols[2].I32[i], cols[5].I32[i], cols[4].F64[i], cols[5].Null[i]}
			if g != w || cols[1].I32[i] != 20000 {
				t.Fatalf("%d workers: row %d = %+v (as_of %d), want %+v", workers, i, g, cols[1].I32[i], w)
			}
		}
	}
}
