package stages

import (
	"bytes"
	"context"
	"testing"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/tables"
)

// TestPreviousLabelsAnyOrder: the previous run's clusters are found for ids
// in any order — numeric ids sort numerically, pseudonyms not at all.
func TestPreviousLabelsAnyOrder(t *testing.T) {
	ctx := context.Background()
	out := objstore.NewMem()
	var buf bytes.Buffer
	cols := []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, Str: []string{"1", "10", "11", "2", "9"}},
		{Name: "cluster_id", Type: tables.OutInt32, Optional: true, I32: []int32{5, 6, 7, 8, 0}, Null: []bool{false, false, false, false, true}},
	}
	if err := tables.WriteParquet(&buf, cols, tables.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := out.Upload(ctx, "segments/dt=1/part-0.parquet", &buf); err != nil {
		t.Fatal(err)
	}
	m := &publish.Manifest{Tables: map[string]publish.TableFiles{"segments": {Keys: []string{"segments/dt=1/part-0.parquet"}}}}
	for _, ids := range [][]string{{"1", "2", "9", "10", "11", "12"}, {"11", "12", "1", "10", "9", "2"}, {"1", "10", "11", "12", "2", "9"}} {
		prev := []int32{-1, -1, -1, -1, -1, -1}
		if err := previousLabels(ctx, out, m, strcol.Of(ids...), prev); err != nil {
			t.Fatal(err)
		}
		want := map[string]int32{"1": 5, "10": 6, "11": 7, "2": 8, "9": -1, "12": -1}
		for i, id := range ids {
			if prev[i] != want[id] {
				t.Errorf("ids %v: customer %s's previous cluster %d, want %d", ids, id, prev[i], want[id])
			}
		}
	}
}
