package features

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/strata-oss/strata/pipeline/extract"
)

// TestPartitionsWithTheVocabularyEqualTheWhole: the shards of a sharded
// run each read their part of the customers and plan their table from the
// whole run's vocabulary (through JSON, as the fit publishes it). Every
// part must have the whole table's columns, and each of its customers the
// whole run's values bit for bit; the parts must cover the customers once,
// and their counts add up to the whole run's.
func TestPartitionsWithTheVocabularyEqualTheWhole(t *testing.T) {
	_, b := demoData(t, 2500, "parquet")
	ctx := context.Background()
	whole, wset, err := Run(ctx, demoSpec(b), demoOptions(2))
	if err != nil {
		t.Fatal(err)
	}
	v := wset.Vocabulary
	if len(v.Shares["orders.category"]) != 5 || len(v.OneHot) == 0 || len(v.Frequency) == 0 || len(v.Interests) == 0 {
		t.Fatalf("the demo should exercise every part of the vocabulary: %+v", v)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var fitted Vocabulary
	if err := json.Unmarshal(data, &fitted); err != nil {
		t.Fatal(err)
	}
	row := map[string]int{}
	for i, id := range whole.IDs.All() {
		row[id] = i
	}
	const parts = 3
	seen := map[string]bool{}
	var rows int64
	quarantined := 0
	var dups int64
	for p := range parts {
		spec := demoSpec(b)
		spec.Keep = extract.Part(p, parts)
		opt := demoOptions(2)
		opt.Vocabulary = &fitted
		ds, set, err := Run(ctx, spec, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(set.Table.Names(), wset.Table.Names()) {
			t.Fatalf("part %d: columns differ:\n%v\n%v", p, set.Table.Names(), wset.Table.Names())
		}
		if ds.IDs.Len() == 0 || ds.IDs.Len() == whole.IDs.Len() {
			t.Fatalf("part %d has %d of %d customers", p, ds.IDs.Len(), whole.IDs.Len())
		}
		for c, id := range ds.IDs.All() {
			if seen[id] {
				t.Fatalf("customer %s in two parts", id)
			}
			seen[id] = true
			w, ok := row[id]
			if !ok {
				t.Fatalf("part %d: customer %s is not in the whole run", p, id)
			}
			for j := range set.Table.Cols {
				x, y := set.Table.Cols[j].Value(c), wset.Table.Cols[j].Value(w)
				if math.Float64bits(x) != math.Float64bits(y) && !(math.IsNaN(x) && math.IsNaN(y)) {
					t.Fatalf("part %d customer %s %s: %v, whole run %v", p, id, set.Table.Cols[j].Name, x, y)
				}
			}
			pb, wb := set.Behaviour, wset.Behaviour
			if pb.FirstDay[c] != wb.FirstDay[w] || math.Float64bits(pb.RepeatSpend[c]) != math.Float64bits(wb.RepeatSpend[w]) ||
				pb.CalDays[c] != wb.CalDays[w] || pb.CalLast[c] != wb.CalLast[w] {
				t.Fatalf("customer %s: repeat spend or calibration counts differ", id)
			}
		}
		rows += ds.Quality.RowsRead["orders"]
		quarantined += ds.Quarantine.Len()
		dups += ds.Quality.Duplicates["orders"]
	}
	if len(seen) != whole.IDs.Len() {
		t.Errorf("the parts have %d customers, the whole run %d", len(seen), whole.IDs.Len())
	}
	if rows != whole.Quality.RowsRead["orders"] {
		t.Errorf("the parts read %d order rows, the whole run %d", rows, whole.Quality.RowsRead["orders"])
	}
	if dups != whole.Quality.Duplicates["orders"] {
		t.Errorf("the parts dropped %d duplicate orders, the whole run %d", dups, whole.Quality.Duplicates["orders"])
	}
	if quarantined != whole.Quarantine.Len() {
		t.Errorf("the parts quarantined %d rows, the whole run %d", quarantined, whole.Quarantine.Len())
	}
}

// TestSampleIsUniformAndSeeded: a sample keeps about its fraction of the
// customers, the same ones for the same seed, others for another.
func TestSampleIsUniformAndSeeded(t *testing.T) {
	const n = 200_000
	a, b, c := extract.Sample(0.1, 1), extract.Sample(0.1, 1), extract.Sample(0.1, 2)
	var kept, same, other int
	for i := range n {
		id := int64(i)
		ka := a.Int(id)
		if ka {
			kept++
		}
		if ka == b.Int(id) {
			same++
		}
		if ka && c.Int(id) {
			other++
		}
	}
	// Binomial(200000, 0.1): sd 134; 5 sd either side.
	if kept < 19_330 || kept > 20_670 {
		t.Errorf("kept %d of %d at 10%%", kept, n)
	}
	if same != n {
		t.Errorf("the same seed disagreed on %d ids", n-same)
	}
	// Independent samples overlap by about 1% of n.
	if other < 1_600 || other > 2_400 {
		t.Errorf("samples of seeds 1 and 2 share %d ids; independent ones share about 2000", other)
	}
	if !extract.Sample(1, 7).ID("x") || extract.Sample(0, 7).ID("x") {
		t.Error("fraction 1 keeps everyone, 0 no one")
	}
	if a.ID("42") != a.Int(42) {
		t.Error("an integer id and its text must agree")
	}
}
