package pipeline

import (
	"context"
	"slices"
	"testing"

	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/stages"
)

// The features stage drops the columns no later stage reads when the
// table is not published; every other output must be what a run that
// keeps them all (publishing the table) gives.
func TestUnreadFeaturesDroppedChangeNothing(t *testing.T) {
	in := shop(t, 600)
	all := demoConfig(t, "")
	if !all.Features.Publish {
		t.Fatal("the demo config no longer publishes its features; this test needs a run that keeps them")
	}
	pruned := demoConfig(t, "")
	pruned.Features.Publish = false
	outAll, outPruned := objstore.NewMem(), objstore.NewMem()
	ra := runOn(t, all, in, outAll, "2025-06-30")
	rp := runOn(t, pruned, in, outPruned, "2025-06-30")

	for _, tc := range []struct {
		table string
		cols  []string
	}{
		{"segments", []string{"customer_id", "rfm_segment", "cluster_id", "cluster_name", "clv", "p_alive", "monetary_value"}},
		{"segment_summary", []string{"segment_type", "segment", "customers", "revenue", "top_categories", "best_channel", "best_channel_share"}},
		{"recommendations", []string{"customer_id", "rank", "category", "lift", "basis"}},
	} {
		a := columns(t, outAll, &ra.Manifest, tc.table, tc.cols...)
		p := columns(t, outPruned, &rp.Manifest, tc.table, tc.cols...)
		if len(a[0]) == 0 {
			t.Fatalf("%s: no rows", tc.table)
		}
		for c := range tc.cols {
			if !slices.Equal(a[c], p[c]) {
				t.Errorf("%s.%s differs when unread features are dropped", tc.table, tc.cols[c])
			}
		}
	}
	if _, ok := rp.Manifest.Tables["features"]; ok {
		t.Error("features published by a run that does not publish them")
	}

	// Which columns go: the cluster's features and the shares stay, the
	// rest (windows, gaps, attributes) go.
	model, _, err := output.ReadModel(context.Background(), outAll, &ra.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var kept, dropped []string
	shares := 0
	for _, f := range model.Features {
		c := features.Column{Feature: f}
		if readLater(pruned, &c) {
			kept = append(kept, f.Name)
			if f.Kind == features.Share {
				shares++
			}
		} else {
			dropped = append(dropped, f.Name)
		}
		if !readLater(all, &c) {
			t.Errorf("%s dropped although the table is published", f.Name)
		}
	}
	for _, f := range pruned.Cluster.FeatureList() {
		if !slices.Contains(kept, f.Name) && !slices.Contains(stages.CLVFeatures, f.Name) {
			t.Errorf("cluster feature %s dropped", f.Name)
		}
	}
	if !slices.Contains(dropped, "gap_mean_days") || shares == 0 {
		t.Errorf("kept %v, dropped %v", kept, dropped)
	}
}
