package stages

import (
	"testing"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/report"
)

func ptr(v float64) *float64 { return &v }

// TestBriefDescribe: the headline sums the RFM rows (segments nobody in
// which was scored have no CLV and are left out, not counted as zero), each
// figure carries the previous run's value, and every segment gets its
// action, its audiences and its moves.
func TestBriefDescribe(t *testing.T) {
	summary := []SummaryRow{
		{SegmentType: "rfm", Segment: "Champions", Customers: 10, Revenue: 1000, TotalCLV: ptr(500), TotalExpected: ptr(20), AvgChurnRisk: ptr(0.1)},
		{SegmentType: "rfm", Segment: "At Risk", Customers: 5, Revenue: 200, TotalCLV: ptr(50), TotalExpected: ptr(2), AvgChurnRisk: ptr(0.7)},
		{SegmentType: "rfm", Segment: "No Purchases", Customers: 7},
		{SegmentType: "cluster", Segment: "Lapsed", Customers: 5, Revenue: 200, ClusterID: new(int)},
	}
	moves := &rfmMigrationPart{Moves: []rfmMove{
		{From: "Champions", To: "At Risk", Customers: 2},
		{From: "At Risk", To: "At Risk", Customers: 3},
		{New: true, To: "Champions", Customers: 4},
		{From: "At Risk", To: "Champions", Customers: 1},
	}}
	for _, tc := range []struct {
		name string
		prev *briefModel
		// wantPrev is the previous revenue, nil on a first run.
		wantPrev *float64
		wantIn   map[string]int64
	}{
		{name: "first run", prev: &briefModel{}},
		{name: "second run", prev: &briefModel{AsOf: "2025-06-01", Counts: map[string]int64{"customers": 20, "buyers": 12},
			Segments: []SummaryRow{{SegmentType: "rfm", Segment: "Champions", Revenue: 800, TotalCLV: ptr(400)}}},
			wantPrev: ptr(800), wantIn: map[string]int64{"Champions": 5, "At Risk": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Description{Config: &config.Config{}, Customers: 22, Buyers: 15, Orders: 40, Revenue: 1200, Summary: summary,
				Parts:     map[string]Part{"rfm_migration": moves},
				Audiences: []Audience{{Name: "win-back", Customers: 6, BySegment: map[string]int{"At Risk": 5, "Champions": 1}}},
				Currency:  "EUR", Report: &report.Data{}}
			Brief{}.Describe(d, tc.prev)
			r := d.Report
			if r.Currency != "EUR" || len(r.Headline) != 5 {
				t.Fatalf("currency %q, headline %+v", r.Currency, r.Headline)
			}
			want := []float64{22, 15, 1200, 550, 22}
			for i, f := range r.Headline {
				if f.Value != want[i] {
					t.Errorf("%s = %v, want %v", f.Label, f.Value, want[i])
				}
			}
			if got := r.Headline[2].Previous; (got == nil) != (tc.wantPrev == nil) || got != nil && *got != *tc.wantPrev {
				t.Errorf("previous revenue %v, want %v", got, tc.wantPrev)
			}
			if tc.wantPrev != nil && (r.Headline[0].Previous == nil || *r.Headline[0].Previous != 20 || r.Headline[4].Previous != nil) {
				t.Errorf("previous customers %v and expected purchases %v (the previous run had none)", r.Headline[0].Previous, r.Headline[4].Previous)
			}
			if len(r.Brief) != 3 || len(r.Clusters) != 1 {
				t.Fatalf("brief %+v, clusters %+v", r.Brief, r.Clusters)
			}
			for _, b := range r.Brief {
				if b.Action == "" || b.Action != actionFor(b.Name) {
					t.Errorf("%s: action %q", b.Name, b.Action)
				}
				if b.Name == "At Risk" && (len(b.Audiences) != 1 || b.Audiences[0].Customers != 5) {
					t.Errorf("At Risk audiences %+v", b.Audiences)
				}
				if tc.wantIn == nil {
					if b.MovedIn != nil {
						t.Errorf("%s: moves on a first run", b.Name)
					}
					continue
				}
				if b.MovedIn == nil || *b.MovedIn != tc.wantIn[b.Name] {
					t.Errorf("%s: moved in %v, want %d", b.Name, b.MovedIn, tc.wantIn[b.Name])
				}
			}
		})
	}
	if actionFor("Someone's custom segment") != "" {
		t.Error("a segment outside the rule table got an action")
	}
}
