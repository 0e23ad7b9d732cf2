package output

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/strata-oss/strata/pipeline/channel"
	"github.com/strata-oss/strata/pipeline/holdout"
	"github.com/strata-oss/strata/pipeline/stages"
)

// shardAggregates is one shard's sums as the finishing step reads them:
// through the JSON of the shard's record.
func shardAggregates(t *testing.T, a *Aggregates) *Aggregates {
	t.Helper()
	if err := a.EncodeParts(); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var out Aggregates
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if err := out.DecodeParts(stages.Default()); err != nil {
		t.Fatal(err)
	}
	return &out
}

func winback(customers, treatment, control, written int, skipped map[string]int) AudienceResult {
	b := holdout.Balance{}
	return AudienceResult{Name: "winback", Customers: customers, Treatment: &treatment, Control: &control, Balance: &b,
		BySegment: map[string]int{"at_risk": customers},
		Channels: []channel.Summary{{Format: channel.Email, Rows: customers, Written: written, Skipped: skipped,
			Invalid: map[string]int{}}}}
}

// TestMergeShards: the finishing step adds the shards' counts up — the
// totals, each audience's customers, groups, segments and channel rows —
// and refuses shards that do not describe the same audiences, rather than
// publishing a sum of unlike things.
func TestMergeShards(t *testing.T) {
	a := shardAggregates(t, &Aggregates{Customers: 3, Buyers: 2, Orders: 5, Revenue: 10, NewestOrder: 100,
		Audiences: []AudienceResult{winback(2, 1, 1, 1, map[string]int{channel.SkipControl: 1})}})
	b := shardAggregates(t, &Aggregates{Customers: 4, Buyers: 3, Orders: 6, Revenue: 2.5, NewestOrder: 300,
		Audiences: []AudienceResult{winback(3, 3, 0, 2, map[string]int{"no_contact": 1})}})
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if a.Customers != 7 || a.Buyers != 5 || a.Orders != 11 || a.Revenue != 12.5 || a.NewestOrder != 300 {
		t.Errorf("totals %+v", a)
	}
	au := a.Audiences[0]
	if au.Customers != 5 || *au.Treatment != 4 || *au.Control != 1 || au.BySegment["at_risk"] != 5 {
		t.Errorf("audience %+v", au)
	}
	ch := au.Channels[0]
	if want := map[string]int{channel.SkipControl: 1, "no_contact": 1}; ch.Rows != 5 || ch.Written != 3 || !reflect.DeepEqual(ch.Skipped, want) {
		t.Errorf("channel file %+v", ch)
	}

	for name, edit := range map[string]func(o *Aggregates){
		"other audiences":     func(o *Aggregates) { o.Audiences = nil },
		"no control group":    func(o *Aggregates) { o.Audiences[0].Balance = nil },
		"other channel files": func(o *Aggregates) { o.Audiences[0].Channels[0].Format = channel.Meta },
	} {
		o := shardAggregates(t, &Aggregates{Audiences: []AudienceResult{winback(1, 1, 0, 1, nil)}})
		edit(o)
		if err := a.Merge(o); err == nil {
			t.Errorf("%s: merged without an error", name)
		}
	}
}
