package clv

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestGroupedEqualsUngrouped: on random transactions (same-day repeats,
// customers without any, calibration ends cutting through histories),
// SummarizeGrouped and HoldoutCountsGrouped on the rows grouped by
// customer and day give exactly what Summarize and HoldoutCounts give on
// the rows in a shuffled order.
func TestGroupedEqualsUngrouped(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 500
	type tx struct {
		c   int32
		d   int32
		amt float64
	}
	var rows []tx
	for c := range int32(n) {
		if c%7 == 3 {
			continue // no purchase
		}
		k := 1 + rng.IntN(12)
		for range k {
			rows = append(rows, tx{c, int32(19000 + rng.IntN(300)), float64(rng.IntN(5000)) / 3})
		}
		if c%5 == 0 { // a same-day repeat
			rows = append(rows, tx{c, rows[len(rows)-1].d, 1.5})
		}
	}
	// Grouped: by customer, then day, input order within a day.
	grouped := slices.Clone(rows)
	slices.SortStableFunc(grouped, func(a, b tx) int {
		if a.c != b.c {
			return int(a.c - b.c)
		}
		return int(a.d - b.d)
	})
	off := make([]int64, n+1)
	day := make([]int32, len(grouped))
	amt := make([]float64, len(grouped))
	for i, r := range grouped {
		off[r.c+1]++
		day[i], amt[i] = r.d, r.amt
	}
	for c := range n {
		off[c+1] += off[c]
	}
	// Ungrouped: the same rows in a random order, except that same-day
	// rows of a customer keep their relative order (the sum order).
	type cd struct{ c, d int32 }
	key := map[cd]float64{}
	shuffled := slices.Clone(grouped)
	for _, r := range shuffled {
		if _, ok := key[cd{r.c, r.d}]; !ok {
			key[cd{r.c, r.d}] = rng.Float64()
		}
	}
	slices.SortStableFunc(shuffled, func(a, b tx) int {
		ka, kb := key[cd{a.c, a.d}], key[cd{b.c, b.d}]
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	if slices.Equal(shuffled, grouped) {
		t.Fatal("the shuffle did nothing")
	}
	cust := make([]int32, len(shuffled))
	uday := make([]int32, len(shuffled))
	uamt := make([]float64, len(shuffled))
	for i, r := range shuffled {
		cust[i], uday[i], uamt[i] = r.c, r.d, r.amt
	}
	for _, calEnd := range []int32{19100, 19200, 19400} {
		want, err := Summarize(cust, uday, uamt, n, calEnd, 7)
		if err != nil {
			t.Fatal(err)
		}
		got, err := SummarizeGrouped(off, day, amt, calEnd, 7)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("calibration end %d: grouped summary differs", calEnd)
		}
		wh, err := HoldoutCounts(cust, uday, n, calEnd, calEnd+60)
		if err != nil {
			t.Fatal(err)
		}
		gh, err := HoldoutCountsGrouped(off, day, calEnd, calEnd+60)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gh, wh) {
			t.Fatalf("calibration end %d: grouped holdout counts differ", calEnd)
		}
	}
	if _, err := SummarizeGrouped([]int64{0, 2}, []int32{5, 4}, []float64{1, 1}, 10, 7); err == nil {
		t.Error("days out of order must fail")
	}
	if _, err := SummarizeGrouped([]int64{0, 3}, []int32{5, 6}, []float64{1, 1}, 10, 7); err == nil {
		t.Error("offsets beyond the rows must fail")
	}
}
