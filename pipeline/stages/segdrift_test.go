package stages

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/strata-oss/strata/models/drift"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/publish"
)

// TestSortMoves: moves of the same cell add up; new customers come first,
// then by previous segment and segment.
func TestSortMoves(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want []rfmMove
	}{
		{"empty", nil, nil},
		{"adds up one cell", []rfmMove{{From: "A", To: "B", Customers: 2}, {From: "A", To: "B", Customers: 3}},
			[]rfmMove{{From: "A", To: "B", Customers: 5}}},
		{"new first, then by name", []rfmMove{
			{From: "B", To: "A", Customers: 1}, {New: true, To: "B", Customers: 4}, {From: "A", To: "B", Customers: 2},
			{New: true, To: "A", Customers: 3}, {From: "A", To: "A", Customers: 1}, {New: true, To: "A", Customers: 1},
		}, []rfmMove{
			{New: true, To: "A", Customers: 4}, {New: true, To: "B", Customers: 4},
			{From: "A", To: "A", Customers: 1}, {From: "A", To: "B", Customers: 2}, {From: "B", To: "A", Customers: 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sortMoves(slices.Clone(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestRFMMigrationPartMerge: merging parts in either order gives the same
// part.
func TestRFMMigrationPartMerge(t *testing.T) {
	a := func() *rfmMigrationPart {
		return &rfmMigrationPart{Moves: []rfmMove{{New: true, To: "A", Customers: 2}, {From: "A", To: "B", Customers: 1}}, Both: 1, Moved: 1}
	}
	b := func() *rfmMigrationPart {
		return &rfmMigrationPart{Moves: []rfmMove{{From: "A", To: "B", Customers: 3}, {From: "B", To: "B", Customers: 5}}, Both: 8, Moved: 3}
	}
	ab, ba := a(), b()
	if err := ab.Merge(b()); err != nil {
		t.Fatal(err)
	}
	if err := ba.Merge(a()); err != nil {
		t.Fatal(err)
	}
	want := []rfmMove{{New: true, To: "A", Customers: 2}, {From: "A", To: "B", Customers: 4}, {From: "B", To: "B", Customers: 5}}
	for _, p := range []*rfmMigrationPart{ab, ba} {
		if !slices.Equal(p.Moves, want) || p.Both != 9 || p.Moved != 4 {
			t.Errorf("merged %+v", p)
		}
	}
}

// TestDriftPartMerge: counts add up bin by bin and by segment; parts of a
// different shape are an error, not a wrong PSI.
func TestDriftPartMerge(t *testing.T) {
	p := &driftPart{Counts: [][]int64{{1, 2, 0}, {4}}, Segments: map[string]int64{"A": 1}}
	if err := p.Merge(&driftPart{Counts: [][]int64{{1, 0, 5}, {1}}, Segments: map[string]int64{"A": 2, "B": 3}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Counts[0], []int64{2, 2, 5}) || !slices.Equal(p.Counts[1], []int64{5}) || p.Segments["A"] != 3 || p.Segments["B"] != 3 {
		t.Errorf("merged %+v", p)
	}
	for _, bad := range []*driftPart{
		{Counts: [][]int64{{1, 2, 0}}},
		{Counts: [][]int64{{1, 2}, {4}}},
	} {
		if err := p.Merge(bad); err == nil {
			t.Errorf("merging %v into a part of another shape: no error", bad.Counts)
		}
	}
}

// TestSamePrevious: a stage's Apply refuses a previous run other than the
// one its Fit read.
func TestSamePrevious(t *testing.T) {
	run := func(asOf, attempt string) *previousRun {
		return &previousRun{manifest: &publish.Manifest{AsOf: asOf, Attempt: attempt}}
	}
	ref := &PreviousRef{AsOf: "2025-06-30", Attempt: "a1"}
	for _, tc := range []struct {
		name   string
		fitted *PreviousRef
		prev   *previousRun
		ok     bool
	}{
		{"neither", nil, nil, true},
		{"the same", ref, run("2025-06-30", "a1"), true},
		{"republished", ref, run("2025-06-30", "b2"), false},
		{"a later date published since", ref, run("2025-07-01", "c3"), false},
		{"gone", ref, nil, false},
		{"appeared", nil, run("2025-06-30", "a1"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := samePrevious(tc.fitted, tc.prev)
			if (err == nil) != tc.ok {
				t.Errorf("error %v, want ok %v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "fit again") {
				t.Errorf("the error does not say what to do: %v", err)
			}
		})
	}
}

// TestDescriptionFail: every reason recorded is in the error.
func TestDescriptionFail(t *testing.T) {
	var d Description
	if d.Err() != nil {
		t.Fatal("an error without a failure")
	}
	a, b := errors.New("first"), errors.New("second")
	d.Fail(a)
	d.Fail(b)
	if err := d.Err(); !errors.Is(err, a) || !errors.Is(err, b) {
		t.Errorf("Err() = %v", err)
	}
}

// TestDriftDescribe: the section holds every measure with its breach flag;
// a breach logs and, with action fail, fails the run naming the feature;
// without counts (no customer) nothing is measured and nothing fails.
func TestDriftDescribe(t *testing.T) {
	model := &driftModel{Previous: PreviousRef{AsOf: "2025-06-30", Attempt: "a"},
		Features: []driftFeature{
			{Name: "frequency", Bins: drift.Bins{Cuts: []float64{1, 2}, Counts: []int64{10, 10, 10, 0}}},
			{Name: "monetary_value", Bins: drift.Bins{Cuts: []float64{5, 9}, Counts: []int64{10, 10, 10, 0}}},
		},
		Segments: map[string]int64{"A": 20, "B": 10}}
	for _, tc := range []struct {
		name     string
		action   string
		part     Part
		breaches []string
		fails    bool
	}{
		{"no drift", "fail", &driftPart{Counts: [][]int64{{10, 10, 10, 0}, {10, 10, 10, 0}}, Segments: map[string]int64{"A": 20, "B": 10}},
			nil, false},
		{"money moved, warn", "warn", &driftPart{Counts: [][]int64{{10, 10, 10, 0}, {0, 0, 30, 0}}, Segments: map[string]int64{"A": 20, "B": 10}},
			[]string{"monetary_value"}, false},
		{"money and a segment moved, fail", "fail", &driftPart{Counts: [][]int64{{10, 10, 10, 0}, {0, 0, 30, 0}}, Segments: map[string]int64{"A": 10, "B": 20}},
			[]string{"monetary_value", "A", "B"}, true},
		{"no customers", "fail", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Description{Config: &config.Config{Drift: &config.Drift{Action: tc.action}}, Parts: map[string]Part{}}
			if tc.part != nil {
				d.Parts["drift"] = tc.part
			}
			Drift{}.Describe(d, model)
			sec := *d.Sections["drift"].(*DriftSection)
			var got []string
			for _, b := range sec.Breaches {
				got = append(got, b.Subject)
			}
			if !slices.Equal(got, tc.breaches) {
				t.Errorf("breaches %v, want %v", got, tc.breaches)
			}
			if tc.part != nil && (len(sec.Features) != 2 || len(sec.Segments) != 2) {
				t.Errorf("%d features, %d segments measured", len(sec.Features), len(sec.Segments))
			}
			for _, f := range sec.Features {
				if f.Breach != slices.Contains(tc.breaches, f.Feature) {
					t.Errorf("%s: breach %v", f.Feature, f.Breach)
				}
			}
			err := d.Err()
			if (err != nil) != tc.fails {
				t.Fatalf("error %v, want one: %v", err, tc.fails)
			}
			if err != nil && !strings.Contains(err.Error(), "monetary_value") {
				t.Errorf("the error does not name the feature: %v", err)
			}
		})
	}
}
