package stages

import (
	"slices"
	"testing"
)

// TestPresentRows: the rows of the customers with a summary, in order; nil
// when there are none (the stage's "nobody to score" case).
func TestPresentRows(t *testing.T) {
	for _, c := range []struct {
		present []bool
		want    []int
	}{
		{nil, nil},
		{[]bool{false, false}, nil},
		{[]bool{true}, []int{0}},
		{[]bool{false, true, true, false, true}, []int{1, 2, 4}},
	} {
		got := presentRows(c.present)
		if !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) || len(got) != cap(got) {
			t.Errorf("presentRows(%v) = %v (cap %d), want %v", c.present, got, cap(got), c.want)
		}
	}
}

// TestForRowsSameAsLoop: forRows writes what the serial loop it replaced
// writes, for any workers, with no rows, one, and counts that are not a
// multiple of the chunk.
func TestForRowsSameAsLoop(t *testing.T) {
	for _, n := range []int{0, 1, 5, rowsChunk, rowsChunk + 1, 3*rowsChunk - 7} {
		// Every other run row bought, in order, as presentRows gives them.
		rows := make([]int, n)
		for i := range rows {
			rows[i] = 2*i + 1
		}
		want := make([]float64, 2*n+1)
		for i, r := range rows {
			want[r] = float64(i) + 0.5
		}
		for _, w := range []int{0, 1, 2, 3, 8} {
			got := make([]float64, 2*n+1)
			forRows(rows, w, func(i, r int) { got[r] = float64(i) + 0.5 })
			if !slices.Equal(got, want) {
				t.Fatalf("n %d workers %d: rows differ from the loop's", n, w)
			}
		}
	}
}
