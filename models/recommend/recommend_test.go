package recommend

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// fixture: 6 buyers and one non-buyer, 3 categories, 2 groups.
//
//	customer group bought      |  base penetration: a 4/6, b 3/6, c 2/6
//	0        0     a b         |  group 0 (3 buyers): a 3/3, b 2/3, c 0
//	1        0     a           |    lift a 1.5, b 4/3, c 0
//	2        0     a b         |  group 1 (3 buyers): a 1/3, b 1/3, c 2/3
//	3        1     c           |    lift a 0.5, b 2/3, c 2
//	4        1     a c         |
//	5        1     b           |
//	6        -1    (none)      |  not a buyer: the base ranking a, b, c
func fixture() Input {
	bought := [][]bool{{true, true, false}, {true, false, false}, {true, true, false},
		{false, false, true}, {true, false, true}, {false, true, false}, {false, false, false}}
	return Input{
		Customers: 7, Categories: []string{"a", "b", "c"}, Groups: 2,
		Group:  []int32{0, 0, 0, 1, 1, 1, -1},
		Buyer:  []bool{true, true, true, true, true, true, false},
		Bought: func(c, k int) bool { return bought[c][k] },
	}
}

func TestFitHandComputed(t *testing.T) {
	a, err := Fit(fixture())
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{1.5, 4.0 / 3, 0}, {0.5, 2.0 / 3, 2}}
	for g := range want {
		for k := range want[g] {
			if math.Abs(a.Lift[g][k]-want[g][k]) > 1e-15 {
				t.Errorf("lift[%d][%d] = %v, want %v", g, k, a.Lift[g][k], want[g][k])
			}
		}
	}
	if !reflect.DeepEqual(a.Base, []float64{4.0 / 6, 3.0 / 6, 2.0 / 6}) || !reflect.DeepEqual(a.Buyers, []int{3, 3}) {
		t.Errorf("base %v, buyers %v", a.Base, a.Buyers)
	}
}

func TestRecommendHandComputed(t *testing.T) {
	in := fixture()
	got := fitRecommend(t, in, 2)
	cats := func(os []Offer) []int {
		out := []int{}
		for i, o := range os {
			if o.Rank != i+1 {
				t.Errorf("offer %d has rank %d", i, o.Rank)
			}
			out = append(out, o.Category)
		}
		return out
	}
	for c, want := range [][]int{
		{},     // group 0 favours a, b (c has lift 0): bought both
		{1},    // b: a is bought, c has lift 0
		{},     // like 0
		{1, 0}, // group 1: c (bought), then b (2/3), a (1/2)
		{1},    // c and a bought
		{2, 0}, // b bought
		{0, 1}, // no group: base penetration a, b
	} {
		if g := cats(got[c]); !reflect.DeepEqual(g, want) {
			t.Errorf("customer %d: offers %v, want %v", c, g, want)
		}
	}
	if got[6][0].Lift != 1 || math.Abs(got[3][0].Lift-2.0/3) > 1e-15 {
		t.Errorf("lifts %v, %v", got[6], got[3])
	}
}

// TestAgainstBruteForce compares with a direct restatement of the rule on
// random data: for each customer, every unbought category with positive
// lift, sorted by (lift desc, base desc, index), the first n.
func TestAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, nk, ng = 3000, 9, 5
	bought := make([][]bool, n)
	in := Input{Customers: n, Categories: make([]string, nk), Groups: ng, Group: make([]int32, n), Buyer: make([]bool, n)}
	for c := range n {
		bought[c] = make([]bool, nk)
		in.Buyer[c] = r.Float64() < 0.9
		in.Group[c] = int32(r.IntN(ng+1)) - 1
		if !in.Buyer[c] {
			in.Group[c] = -1
			continue
		}
		for k := range nk {
			bought[c][k] = r.Float64() < 0.1+0.08*float64((k+int(in.Group[c])+1)%nk)
		}
	}
	in.Bought = func(c, k int) bool { return bought[c][k] }
	got := fitRecommend(t, in, 4)
	// Independent penetration counts.
	buyers, all := make([]float64, ng), 0.0
	pen, base := make([][]float64, ng), make([]float64, nk)
	for g := range pen {
		pen[g] = make([]float64, nk)
	}
	for c := range n {
		if !in.Buyer[c] {
			continue
		}
		all++
		if g := in.Group[c]; g >= 0 {
			buyers[g]++
		}
		for k := range nk {
			if bought[c][k] {
				base[k]++
				if g := in.Group[c]; g >= 0 {
					pen[g][k]++
				}
			}
		}
	}
	for c := range n {
		g := in.Group[c]
		type cand struct {
			k          int
			lift, base float64
		}
		var cs []cand
		for k := range nk {
			if bought[c][k] {
				continue
			}
			l := 1.0
			if g >= 0 {
				l = (pen[g][k] / buyers[g]) / (base[k] / all)
			}
			if l > 0 && base[k] > 0 {
				cs = append(cs, cand{k, l, base[k]})
			}
		}
		for i := 1; i < len(cs); i++ { // insertion sort: a second implementation
			for j := i; j > 0; j-- {
				x, y := cs[j-1], cs[j]
				if y.lift > x.lift+1e-12 || (math.Abs(y.lift-x.lift) <= 1e-12 && (y.base > x.base || (y.base == x.base && y.k < x.k))) {
					cs[j-1], cs[j] = y, x
				}
			}
		}
		if len(cs) > 4 {
			cs = cs[:4]
		}
		if len(cs) != len(got[c]) {
			t.Fatalf("customer %d: %d offers, brute force %d", c, len(got[c]), len(cs))
		}
		for i := range cs {
			if got[c][i].Category != cs[i].k || math.Abs(got[c][i].Lift-cs[i].lift) > 1e-12 {
				t.Fatalf("customer %d offer %d: %+v, brute force %+v", c, i, got[c][i], cs[i])
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	for name, in := range map[string]Input{
		"lengths":   {Customers: 2, Group: []int32{0}, Buyer: []bool{true, true}, Groups: 1, Bought: func(int, int) bool { return false }},
		"group":     {Customers: 1, Group: []int32{3}, Buyer: []bool{true}, Groups: 2, Bought: func(int, int) bool { return false }},
		"no lookup": {Customers: 1, Group: []int32{0}, Buyer: []bool{true}, Groups: 1},
	} {
		if _, err := Fit(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	a, _ := Fit(fixture())
	if _, err := a.Recommend(fixture(), 0); err == nil {
		t.Error("n = 0: no error")
	}
}

// randomInput is n customers over nk categories and ng groups, with the
// purchases drawn from seed.
func randomInput(n, nk, ng int, seed uint64) Input {
	r := rand.New(rand.NewPCG(seed, 7))
	bought := make([][]bool, n)
	in := Input{Customers: n, Categories: make([]string, nk), Groups: ng, Group: make([]int32, n), Buyer: make([]bool, n)}
	for c := range n {
		bought[c] = make([]bool, nk)
		in.Buyer[c] = r.Float64() < 0.9
		in.Group[c] = int32(r.IntN(ng+1)) - 1
		for k := range nk {
			bought[c][k] = in.Buyer[c] && r.Float64() < 0.05+0.1*float64((k+int(in.Group[c])+1)%nk)
		}
	}
	in.Bought = func(c, k int) bool { return bought[c][k] }
	return in
}

// TestWorkersSameResult: the customers are shared out in chunks among the
// workers; the lifts and every customer's offers must not depend on how
// many there are, across chunk boundaries and with a ragged last chunk.
func TestWorkersSameResult(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n        int
		nk, ng   int
		topN     int
		workerss []int
	}{
		{"empty", 0, 3, 2, 2, []int{1, 2}},
		{"one chunk", 100, 5, 3, 3, []int{1, 2, 4}},
		{"ragged chunks", 3*chunkCustomers + 17, 9, 5, 4, []int{1, 2, 3, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wantA *Affinity
			var wantO [][]Offer
			for _, w := range tc.workerss {
				in := randomInput(tc.n, tc.nk, tc.ng, 3)
				in.Workers = w
				a, err := Fit(in)
				if err != nil {
					t.Fatal(err)
				}
				o, err := a.Recommend(in, tc.topN)
				if err != nil {
					t.Fatal(err)
				}
				if wantA == nil {
					wantA, wantO = a, o
					continue
				}
				if !reflect.DeepEqual(a, wantA) {
					t.Errorf("%d workers: affinity differs from %d workers'", w, tc.workerss[0])
				}
				if !reflect.DeepEqual(o, wantO) {
					t.Errorf("%d workers: offers differ from %d workers'", w, tc.workerss[0])
				}
			}
		})
	}
}

// TestOffersDoNotShareRoom: customers' offers are pieces of one array per
// chunk; appending to one customer's must not overwrite the next one's.
func TestOffersDoNotShareRoom(t *testing.T) {
	in := randomInput(500, 6, 2, 5)
	got := fitRecommend(t, in, 3)
	before := make([][]Offer, len(got))
	for c := range got {
		before[c] = append([]Offer(nil), got[c]...)
	}
	for c := range got {
		got[c] = append(got[c], Offer{Category: -1})
	}
	for c := range got {
		if !slices.Equal(got[c][:len(before[c])], before[c]) {
			t.Fatalf("customer %d: offers %v changed to %v by another's append", c, before[c], got[c])
		}
	}
}

// fitRecommend fits in and recommends up to topN offers a customer.
func fitRecommend(t *testing.T, in Input, topN int) [][]Offer {
	t.Helper()
	a, err := Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Recommend(in, topN)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
