package features

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// longTailOrders writes n order lines of customers c0…c(nc-1) over levels
// category levels, Zipf-like by level (level k drawn with weight 1/(k+1)),
// some lines blank. early, when positive, restricts the first early lines
// to the 5 most common levels, so that the long tail turns up only later.
func longTailOrders(n, nc, levels, early int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	cum := make([]float64, levels)
	s := 0.0
	for k := range levels {
		s += 1 / float64(k+1)
		cum[k] = s
	}
	var b strings.Builder
	b.WriteString("customer_id,ts,amt,category\n")
	for i := range n {
		u := r.Float64() * s
		if i < early {
			u = r.Float64() * cum[4]
		}
		k, _ := slices.BinarySearch(cum, u)
		cat := fmt.Sprintf("product %04d", (k*7919)%levels) // names unrelated to rank
		if r.IntN(50) == 0 {
			cat = ""
		}
		fmt.Fprintf(&b, "c%d,2024-%02d-%02dT10:00:00Z,%.2f,%s\n", r.IntN(nc), 1+r.IntN(6), 1+r.IntN(28), 1+r.Float64()*99, cat)
	}
	return b.String()
}

// wantShares restates cat_share_* from the raw lines: the top categories
// by total spend (ties by name), each customer's share of their spend in
// each, and the rest as other.
func wantShares(t *testing.T, csv string, top int) (levels []string, share map[string]map[string]float64) {
	t.Helper()
	spend := map[string]map[string]float64{}
	total := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
		f := strings.Split(line, ",")
		var amt float64
		fmt.Sscan(f[2], &amt)
		if spend[f[0]] == nil {
			spend[f[0]] = map[string]float64{}
		}
		spend[f[0]][f[3]] += amt
		total[f[3]] += amt
	}
	for l := range total {
		levels = append(levels, l)
	}
	name := func(l string) string { return cmp.Or(l, "unknown") }
	slices.SortFunc(levels, func(x, y string) int {
		return cmp.Or(cmp.Compare(total[y], total[x]), cmp.Compare(name(x), name(y)))
	})
	levels = levels[:top]
	share = map[string]map[string]float64{}
	for c, m := range spend {
		sum := 0.0
		for _, v := range m {
			sum += v
		}
		share[c] = map[string]float64{"other": 1}
		for _, l := range levels {
			share[c][name(l)] = m[l] / sum
			share[c]["other"] -= m[l] / sum
		}
	}
	return levels, share
}

// TestLongTailCategories: a category column with hundreds of levels gives
// the same cat_share_* as restated from the raw lines, for any number of
// workers, whether the long tail turns up during the warm-up (the slots
// are chosen from its log) or after it (new levels go to other).
func TestLongTailCategories(t *testing.T) {
	defer func(w int) { catWarmRows = w }(catWarmRows)
	catWarmRows = 4000
	for _, tc := range []struct {
		name  string
		early int
	}{{"tail in warm-up", 0}, {"tail after warm-up", 6000}} {
		t.Run(tc.name, func(t *testing.T) {
			csv := longTailOrders(20000, 1500, 600, tc.early, 7)
			levels, want := wantShares(t, csv, 8)
			var first *Set
			for _, w := range []int{1, 2, 8} {
				spec := memSpec(t, map[string]string{"orders/o.csv": csv}, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), nil)
				spec.Orders.Columns["category"] = "category"
				ds, set, err := Run(context.Background(), spec, Options{Workers: w})
				if err != nil {
					t.Fatal(err)
				}
				if first != nil {
					compareTables(t, first.Table, set.Table)
					continue
				}
				first = set
				var got []string
				for _, c := range set.Table.Cols {
					if c.Group == "category" && c.Level != "other" {
						got = append(got, c.Level)
					}
				}
				var wantLv []string
				for _, l := range levels {
					wantLv = append(wantLv, cmp.Or(l, "unknown"))
				}
				if !slices.Equal(got, wantLv) {
					t.Fatalf("top categories %q, want %q", got, wantLv)
				}
				for _, c := range set.Table.Cols {
					if c.Group != "category" {
						continue
					}
					for i, id := range ds.IDs.All() {
						if g, w := c.Value(i), want[id][c.Level]; math.Abs(g-w) > 1e-9 {
							t.Fatalf("%s of %s: %v, want %v", c.Name, id, g, w)
						}
					}
				}
			}
			if s := first.Table.N; s < 1400 {
				t.Fatalf("%d customers", s)
			}
		})
	}
}

// TestLongTailMemory: the mix keeps at most catSlotsFor(top)+1 slots a
// customer whatever the number of levels.
func TestLongTailMemory(t *testing.T) {
	defer func(w int) { catWarmRows = w }(catWarmRows)
	catWarmRows = 3000
	csv := longTailOrders(12000, 500, 2000, 0, 3)
	spec := memSpec(t, map[string]string{"orders/o.csv": csv}, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), nil)
	spec.Orders.Columns["category"] = "category"
	a, err := Extract(context.Background(), spec, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range a.shards {
		if s.ncat > catSlotsFor(8)+1 {
			t.Errorf("shard %d: %d slots a customer", s.id, s.ncat)
		}
	}
}

// TestLongTailBitmapWidens: the purchase-day bitmap widening after the
// category mix has its words (older orders turn up after the first block)
// moves the mix's slots and keeps every word: the shares and the purchase
// days are still those restated from the raw lines, for any number of
// workers.
func TestLongTailBitmapWidens(t *testing.T) {
	defer func(w int) { catWarmRows = w }(catWarmRows)
	catWarmRows = 4000
	// The first 70,000 lines (more than a block) are of 2024; then lines
	// up to three years older, which the first block's bitmap cannot reach.
	csv := longTailOrders(90000, 1500, 600, 0, 11)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	r := rand.New(rand.NewPCG(11, 2))
	for i := 70001; i < len(lines); i++ {
		f := strings.Split(lines[i], ",")
		f[1] = fmt.Sprintf("%d-%02d-%02dT10:00:00Z", 2021+r.IntN(3), 1+r.IntN(12), 1+r.IntN(28))
		lines[i] = strings.Join(f, ",")
	}
	csv = strings.Join(lines, "\n") + "\n"
	levels, want := wantShares(t, csv, 8)
	days := map[string]map[string]bool{}
	for _, line := range lines[1:] {
		f := strings.Split(line, ",")
		if days[f[0]] == nil {
			days[f[0]] = map[string]bool{}
		}
		days[f[0]][f[1][:10]] = true
	}
	var first *Set
	for _, w := range []int{1, 3} {
		spec := memSpec(t, map[string]string{"orders/o.csv": csv}, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), nil)
		spec.Orders.Columns["category"] = "category"
		ds, set, err := Run(context.Background(), spec, Options{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		if first != nil {
			compareTables(t, first.Table, set.Table)
			continue
		}
		first = set
		pd, ok := set.Table.Col("purchase_days")
		if !ok {
			t.Fatal("no purchase_days")
		}
		seen := 0
		for _, c := range set.Table.Cols {
			if c.Group == "category" && c.Level != "other" {
				seen++
			}
		}
		if seen != len(levels) {
			t.Fatalf("%d top categories, want %d", seen, len(levels))
		}
		for i, id := range ds.IDs.All() {
			if g := pd.Value(i); g != float64(len(days[id])) {
				t.Fatalf("purchase_days of %s: %v, want %d", id, g, len(days[id]))
			}
			for _, c := range set.Table.Cols {
				if c.Group == "category" {
					if g, w := c.Value(i), want[id][c.Level]; math.Abs(g-w) > 1e-9 {
						t.Fatalf("%s of %s: %v, want %v", c.Name, id, g, w)
					}
				}
			}
		}
	}
}

// TestLongTailFourLines: with the default windows and a year of orders
// (six bitmap words), a record with a long tail's mix is 32 words, four
// cache lines: the last window's order count shares the counts word, and
// the bitmap's padding from the first block goes to the mix. The window
// order counts, one of them now in the counts word's high half, are still
// those counted from the raw lines, for any number of workers.
func TestLongTailFourLines(t *testing.T) {
	defer func(w int) { catWarmRows = w }(catWarmRows)
	catWarmRows = 3000
	csv := longTailOrders(20000, 700, 1000, 0, 5)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	r := rand.New(rand.NewPCG(5, 2))
	asOf := time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)
	for i := 1; i < len(lines); i++ {
		f := strings.Split(lines[i], ",")
		f[1] = asOf.AddDate(0, 0, -r.IntN(366)).Add(-14 * time.Hour).Format(time.RFC3339)
		lines[i] = strings.Join(f, ",")
	}
	csv = strings.Join(lines, "\n") + "\n"
	wins := DefaultOptions().WindowsDays
	want := map[string][]float64{}
	for _, line := range lines[1:] {
		f := strings.Split(line, ",")
		ts, err := time.Parse(time.RFC3339, f[1])
		if err != nil {
			t.Fatal(err)
		}
		if want[f[0]] == nil {
			want[f[0]] = make([]float64, len(wins))
		}
		k := int(asOf.Sub(ts.Truncate(24*time.Hour)).Hours() / 24) // days before the as-of day
		for w, d := range wins {
			if k < d {
				want[f[0]][w]++
			}
		}
	}
	for _, workers := range []int{1, 3} {
		spec := memSpec(t, map[string]string{"orders/o.csv": csv}, asOf, nil)
		spec.Orders.Columns["category"] = "category"
		a, err := Extract(context.Background(), spec, Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range a.shards {
			if s.bw != 6 || s.rec.stride != 32 {
				t.Errorf("%d workers, shard %d: %d bitmap words, stride %d, want 6 and 32", workers, s.id, s.bw, s.rec.stride)
			}
		}
		set, err := a.Compute(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for w, d := range wins {
			c, ok := set.Table.Col(fmt.Sprintf("orders_%dd", d))
			if !ok {
				t.Fatalf("no orders_%dd", d)
			}
			for i, id := range a.Dataset.IDs.All() {
				if g := c.Value(i); g != want[id][w] {
					t.Fatalf("%d workers: orders_%dd of %s: %v, want %v", workers, d, id, g, want[id][w])
				}
			}
		}
	}
}

// TestLongTailSettledBlocks: once the candidates are chosen and every
// level has been met, catBlock skips its pass over a block's rows; a level
// first met later (the tail held back past the first two blocks) must
// still be found. The features are those of a run that scans every block,
// for 1 and 2 workers, and with the tail in the first block the shares
// are those restated from the raw lines.
func TestLongTailSettledBlocks(t *testing.T) {
	defer func(w int) { catWarmRows = w }(catWarmRows)
	catWarmRows = 4000
	for _, tc := range []struct {
		name  string
		early int
		exact bool
	}{
		{"tail in the first block", 0, true},
		{"tail after two blocks", 140000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csv := longTailOrders(3*65536+5000, 3000, 300, tc.early, 11)
			levels, want := wantShares(t, csv, 8)
			for _, w := range []int{1, 2} {
				var sets [2]*Set
				var ids []string
				for k, scan := range []bool{true, false} {
					spec := memSpec(t, map[string]string{"orders/o.csv": csv}, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), nil)
					spec.Orders.Columns["category"] = "category"
					a, err := Extract(context.Background(), spec, Options{Workers: w, scanEveryBlock: scan})
					if err != nil {
						t.Fatal(err)
					}
					settled := 0
					for _, s := range a.shards {
						settled += s.mix.settledBlocks
					}
					if (settled > 0) == scan {
						t.Errorf("%d workers, scanning every block %v: %d blocks settled", w, scan, settled)
					}
					if sets[k], err = a.Compute(context.Background()); err != nil {
						t.Fatal(err)
					}
					ids = a.Dataset.IDs.Strings()
				}
				compareTables(t, sets[0].Table, sets[1].Table)
				if tc.exact {
					checkShares(t, sets[1].Table, ids, levels, want)
				}
			}
		})
	}
}

// checkShares compares a table's cat_share_* with wantShares'.
func checkShares(t *testing.T, tbl *Table, ids, levels []string, want map[string]map[string]float64) {
	t.Helper()
	var got []string
	for _, c := range tbl.Cols {
		if c.Group == "category" && c.Level != "other" {
			got = append(got, c.Level)
		}
	}
	if len(got) != len(levels) {
		t.Fatalf("top categories %q, want %d", got, len(levels))
	}
	for _, c := range tbl.Cols {
		if c.Group != "category" {
			continue
		}
		for i, id := range ids {
			if g, w := c.Value(i), want[id][c.Level]; math.Abs(g-w) > 1e-9 {
				t.Fatalf("%s of %s: %v, want %v", c.Name, id, g, w)
			}
		}
	}
}
