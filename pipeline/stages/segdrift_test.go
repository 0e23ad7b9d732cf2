package stages

import (
	"errors"
	"slices"
	"strings"
	"testing"

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
