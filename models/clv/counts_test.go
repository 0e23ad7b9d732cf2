package clv

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSummarizeCountsEqualsSummarize: on random transactions (same-day
// repeats, customers without any, calibration ends cutting through
// histories, rows in a random order), SummarizeCounts on per-customer
// aggregates counted naively gives Summarize's summary: X, Tx, T, First
// and Present exactly, MeanSpend to 1e-12 relative (the repeat spend is
// added in input order, not day by day). The holdout counts the pipeline
// derives — distinct days up to the holdout end minus those up to the
// calibration end — equal HoldoutCounts'.
func TestSummarizeCountsEqualsSummarize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 500
	var cust, day []int32
	var amt []float64
	for c := range int32(n) {
		if c%7 == 3 {
			continue // no purchase
		}
		for range 1 + rng.IntN(12) {
			cust, day, amt = append(cust, c), append(day, int32(19000+rng.IntN(300))), append(amt, float64(rng.IntN(5000))/3)
		}
		if c%5 == 0 { // a same-day repeat
			cust, day, amt = append(cust, c), append(day, day[len(day)-1]), append(amt, 1.5)
		}
	}
	perm := rng.Perm(len(cust))
	shuffle := func(v []int32) []int32 {
		out := make([]int32, len(v))
		for i, p := range perm {
			out[i] = v[p]
		}
		return out
	}
	cust, day = shuffle(cust), shuffle(day)
	a := make([]float64, len(amt))
	for i, p := range perm {
		a[i] = amt[p]
	}
	amt = a

	// counts is what an engine keeps, in one pass over the rows in input
	// order: the first day and its spend, the spend of later days, and
	// the distinct days up to end.
	counts := func(end int32) (first, last, days []int32, repeat []float64) {
		first, last, days, repeat = make([]int32, n), make([]int32, n), make([]int32, n), make([]float64, n)
		firstSpend := make([]float64, n)
		seen := map[[2]int32]bool{}
		for j, c := range cust {
			d := day[j]
			if d > end {
				continue
			}
			switch {
			case days[c] == 0:
				first[c], last[c], firstSpend[c] = d, d, amt[j]
			case d == first[c]:
				firstSpend[c] += amt[j]
			case d < first[c]:
				repeat[c] += firstSpend[c]
				first[c], firstSpend[c] = d, amt[j]
			default:
				repeat[c] += amt[j]
			}
			last[c] = max(last[c], d)
			if !seen[[2]int32{c, d}] {
				seen[[2]int32{c, d}] = true
				days[c]++
			}
		}
		return first, last, days, repeat
	}
	for _, calEnd := range []int32{19100, 19200, 19400} {
		want, err := Summarize(cust, day, amt, n, calEnd, 7)
		if err != nil {
			t.Fatal(err)
		}
		first, last, days, repeat := counts(calEnd)
		got, err := SummarizeCounts(first, last, days, repeat, calEnd, 7)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.X, want.X) || !slices.Equal(got.Tx, want.Tx) || !slices.Equal(got.T, want.T) ||
			!slices.Equal(got.First, want.First) || !slices.Equal(got.Present, want.Present) {
			t.Fatalf("calibration end %d: summary differs", calEnd)
		}
		present := 0
		for c := range n {
			if want.Present[c] {
				present++
			}
			if d := math.Abs(got.MeanSpend[c] - want.MeanSpend[c]); d > 1e-12*math.Abs(want.MeanSpend[c]) {
				t.Fatalf("calibration end %d, customer %d: mean spend %v, want %v", calEnd, c, got.MeanSpend[c], want.MeanSpend[c])
			}
		}
		if present < n/2 || present == n {
			t.Fatalf("calibration end %d: %d of %d customers present, the cut tests nothing", calEnd, present, n)
		}

		holdoutEnd := calEnd + 60
		wantH, err := HoldoutCounts(cust, day, n, calEnd, holdoutEnd)
		if err != nil {
			t.Fatal(err)
		}
		_, _, all, _ := counts(holdoutEnd)
		for c := range n {
			var h float64
			if days[c] > 0 {
				h = float64(all[c] - days[c])
			}
			if h != wantH[c] {
				t.Fatalf("calibration end %d, customer %d: holdout count %v, want %v", calEnd, c, h, wantH[c])
			}
		}
	}
}

func TestSummarizeCountsRejects(t *testing.T) {
	for _, tc := range []struct {
		name              string
		first, last, days []int32
		repeat            []float64
		calEnd            int32
	}{
		{"lengths", []int32{1}, []int32{1, 2}, []int32{1}, nil, 10},
		{"last after the calibration end", []int32{1}, []int32{11}, []int32{2}, nil, 10},
		{"first after last", []int32{5}, []int32{4}, []int32{2}, nil, 10},
		{"more days than the span", []int32{4}, []int32{5}, []int32{3}, nil, 10},
		{"one day, two dates", []int32{4}, []int32{5}, []int32{1}, nil, 10},
		{"infinite spend", []int32{4}, []int32{5}, []int32{2}, []float64{math.Inf(1)}, 10},
	} {
		if _, err := SummarizeCounts(tc.first, tc.last, tc.days, tc.repeat, tc.calEnd, 7); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		if _, err := SummarizeCountsPresent(tc.first, tc.last, tc.days, tc.repeat, tc.calEnd, 7); err == nil {
			t.Errorf("%s: SummarizeCountsPresent: no error", tc.name)
		}
	}
	if _, err := SummarizeCounts([]int32{4}, []int32{5}, []int32{2}, []float64{3}, 10, 0); err == nil {
		t.Error("unit of 0 days: no error")
	}
}

// TestSummarizeCountsPresentEqualsGather: SummarizeCountsPresent gives
// the present customers of SummarizeCounts and their values bit for bit,
// with and without repeat spends, with weeks and an odd unit.
func TestSummarizeCountsPresentEqualsGather(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, calEnd = 5000, 20000
	first, last, days := make([]int32, n), make([]int32, n), make([]int32, n)
	repeat := make([]float64, n)
	for c := range n {
		if rng.IntN(4) == 0 {
			continue // no purchase
		}
		f := int32(calEnd - rng.IntN(700))
		l := f + int32(rng.IntN(int(calEnd-f)+1))
		d := int32(1)
		if l > f {
			d = 2 + int32(rng.IntN(int(l-f)))
		}
		first[c], last[c], days[c] = f, l, d
		repeat[c] = rng.ExpFloat64() * 100 * float64(d-1)
	}
	for _, unit := range []float64{7, 3.3} {
		for _, rep := range [][]float64{repeat, nil} {
			want, err := SummarizeCounts(first, last, days, rep, calEnd, unit)
			if err != nil {
				t.Fatal(err)
			}
			got, err := SummarizeCountsPresent(first, last, days, rep, calEnd, unit)
			if err != nil {
				t.Fatal(err)
			}
			var rows []int
			for c, p := range want.Present {
				if p {
					rows = append(rows, c)
				}
			}
			if !slices.Equal(got.Rows, rows) {
				t.Fatalf("unit %v: rows differ", unit)
			}
			for name, pair := range map[string][2][]float64{"X": {got.X, want.X}, "Tx": {got.Tx, want.Tx}, "T": {got.T, want.T}, "MeanSpend": {got.MeanSpend, want.MeanSpend}} {
				for i, c := range rows {
					if math.Float64bits(pair[0][i]) != math.Float64bits(pair[1][c]) {
						t.Fatalf("unit %v: %s of customer %d = %v, want %v", unit, name, c, pair[0][i], pair[1][c])
					}
				}
			}
		}
	}
}
