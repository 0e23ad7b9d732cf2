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
