package measure

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// A hand-computed Gini: actual values 3, 2, 1, 0 (total 6). Ranked
// perfectly the cumulative shares are 3/6, 5/6, 1, 1 against i/n = 1/4,
// 2/4, 3/4, 1, so G = 1/4 + 1/3 + 1/4 + 0 = 5/6; ranked in reverse they
// are 0, 1/6, 1/2, 1 and G = −1/4 − 1/3 − 1/4 = −5/6. The Gini is then 1
// for the perfect ranking and −1 for the reversed one. Deciles with four
// customers: 1 + ⌊10 i/4⌋ = 1, 3, 6, 8.
func TestDecilesHandComputed(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	actual := []float64{3, 2, 1, 0}
	for _, c := range []struct {
		name     string
		pred     []float64
		gini, ce float64
		deciles  []int
	}{
		{"perfect", []float64{4, 3, 2, 1}, 1, 1, []int{1, 3, 6, 8}},
		{"reversed", []float64{1, 2, 3, 4}, -1, (3 + 1 + 1 + 3) / 4.0, []int{1, 3, 6, 8}},
	} {
		rows := deciles("m", 30, ids, c.pred, actual)
		if len(rows) != 4 {
			t.Fatalf("%s: %d rows", c.name, len(rows))
		}
		for k, r := range rows {
			if r.Decile != c.deciles[k] || r.Customers != 1 {
				t.Errorf("%s: row %d is decile %d with %d customers, want decile %d with 1", c.name, k, r.Decile, r.Customers, c.deciles[k])
			}
			if math.Abs(r.Gini-c.gini) > 1e-12 || math.Abs(r.CalibrationError-c.ce) > 1e-12 {
				t.Errorf("%s: Gini %v calibration error %v, want %v and %v", c.name, r.Gini, r.CalibrationError, c.gini, c.ce)
			}
		}
	}
	if r := deciles("m", 30, ids, []float64{1, 2, 3, 4}, []float64{0, 0, 0, 0}); !math.IsNaN(r[0].Gini) {
		t.Errorf("nobody bought: Gini %v, want NaN", r[0].Gini)
	}
	if r := deciles("m", 30, ids, []float64{math.NaN(), 2, math.NaN(), 4}, actual); len(r) != 2 || r[0].Customers+r[1].Customers != 2 {
		t.Errorf("null predictions: rows %+v, want the 2 customers with one", r)
	}
}

// Orders after the measuring run's as-of date never change a figure: the
// rows with them equal the rows without, bit for bit. And shuffling every
// input's rows changes nothing either.
func TestNoLeakAndDeterministic(t *testing.T) {
	s := genShop(4, 800)
	cutoff := s.asOf.AddDate(0, 0, 1)
	var before Orders
	for i, at := range s.orders.At {
		if at.Before(cutoff) {
			before.CustomerID = append(before.CustomerID, s.orders.CustomerID[i])
			before.At = append(before.At, at)
			before.Net = append(before.Net, s.orders.Net[i])
		}
	}
	if len(before.At) == len(s.orders.At) {
		t.Fatal("the generated shop has no order after the as-of date: the test would prove nothing")
	}
	run := func(cs *Customers, auds []Audience, o Orders) string {
		h, err := NewHistory(o, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		camp, err := Campaigns(ctx, auds, h, s.asOf, nil)
		if err != nil {
			t.Fatal(err)
		}
		seg, err := Segments(ctx, cs, h, s.earlier, s.asOf, nil)
		if err != nil {
			t.Fatal(err)
		}
		bt, err := Backtest(ctx, cs, h, s.earlier, s.asOf, Horizon{Months: 3, Margin: 0.25, AnnualDiscountRate: 0.08})
		if err != nil {
			t.Fatal(err)
		}
		if len(camp) == 0 || len(seg) == 0 || len(bt) == 0 {
			t.Fatalf("rows: %d campaign, %d segment, %d backtest; want some of each", len(camp), len(seg), len(bt))
		}
		var b strings.Builder
		for _, r := range camp {
			fmt.Fprintf(&b, "%v\n", r)
		}
		for _, r := range seg {
			id := int32(-1)
			if r.ClusterID != nil {
				id = *r.ClusterID
			}
			r.ClusterID = nil
			fmt.Fprintf(&b, "%d %v\n", id, r)
		}
		for _, r := range bt {
			fmt.Fprintf(&b, "%v\n", r)
		}
		return b.String()
	}
	all := run(&s.customers, s.audiences, s.orders)
	if got := run(&s.customers, s.audiences, before); got != all {
		t.Error("orders after the as-of date changed the rows")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	o := Orders{CustomerID: append([]string(nil), s.orders.CustomerID...), At: append([]time.Time(nil), s.orders.At...), Net: append([]float64(nil), s.orders.Net...)}
	rng.Shuffle(len(o.At), func(i, j int) {
		o.CustomerID[i], o.CustomerID[j] = o.CustomerID[j], o.CustomerID[i]
		o.At[i], o.At[j] = o.At[j], o.At[i]
		o.Net[i], o.Net[j] = o.Net[j], o.Net[i]
	})
	c := s.customers
	sc := Customers{}
	for _, i := range rng.Perm(len(c.ID)) {
		sc.ID = append(sc.ID, c.ID[i])
		sc.RFMSegment = append(sc.RFMSegment, c.RFMSegment[i])
		sc.Clustered = append(sc.Clustered, c.Clustered[i])
		sc.ClusterID = append(sc.ClusterID, c.ClusterID[i])
		sc.ClusterName = append(sc.ClusterName, c.ClusterName[i])
		sc.Frequency = append(sc.Frequency, c.Frequency[i])
		sc.ExpectedPurchases = append(sc.ExpectedPurchases, c.ExpectedPurchases[i])
		sc.CLV = append(sc.CLV, c.CLV[i])
	}
	var sa []Audience
	for k := len(s.audiences) - 1; k >= 0; k-- {
		a := s.audiences[k]
		b := Audience{Name: a.Name, Start: a.Start}
		for _, i := range rng.Perm(len(a.CustomerID)) {
			b.CustomerID = append(b.CustomerID, a.CustomerID[i])
			b.Group = append(b.Group, a.Group[i])
		}
		sa = append(sa, b)
	}
	if got := run(&sc, sa, o); got != all {
		t.Error("shuffled inputs gave other rows")
	}
}

// A window or horizon that has not fully elapsed gives no row; one that
// ends exactly at the cutoff does.
func TestElapsed(t *testing.T) {
	asOf := date("2026-12-31") // cutoff 2027-01-01 00:00
	cutoff := asOf.AddDate(0, 0, 1)
	for _, c := range []struct {
		start string
		days  int
		want  bool
	}{
		{"2026-12-25", 7, true}, {"2026-12-26", 7, false}, {"2026-10-03", 90, true}, {"2026-10-04", 90, false},
	} {
		if got := elapsed(date(c.start), c.days, cutoff); got != c.want {
			t.Errorf("%d days from %s elapsed by %s: %v, want %v", c.days, c.start, cutoff, got, c.want)
		}
	}
	s := genShop(5, 50)
	h, err := NewHistory(s.orders, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Four months from Oct 1 end on Jan 30: not yet.
	rows, err := Backtest(context.Background(), &s.customers, h, s.earlier, s.asOf, Horizon{Months: 4, Margin: 1, AnnualDiscountRate: 0})
	if err != nil || rows != nil {
		t.Errorf("unelapsed horizon: %d rows, %v; want none", len(rows), err)
	}
}

func TestRejects(t *testing.T) {
	ctx := context.Background()
	now := date("2026-12-31")
	h, err := NewHistory(Orders{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := Customers{ID: []string{"a"}, RFMSegment: []string{"New"}, Clustered: []bool{true}, ClusterID: []int32{1},
		ClusterName: []string{"x"}, Frequency: []int32{1}, ExpectedPurchases: []float64{1}, CLV: []float64{1}}
	dup := good
	dup.ID = []string{"a", "a"}
	short := good
	short.CLV = nil
	for _, c := range []struct {
		name string
		err  error
	}{
		{"orders of unequal columns", func() error {
			_, err := NewHistory(Orders{CustomerID: []string{"a"}}, nil)
			return err
		}()},
		{"NaN amount", func() error {
			_, err := NewHistory(Orders{CustomerID: []string{"a"}, At: []time.Time{now}, Net: []float64{math.NaN()}}, nil)
			return err
		}()},
		{"duplicate customer", func() error { _, err := Segments(ctx, &dup, h, now, now, nil); return err }()},
		{"short column", func() error { _, err := Backtest(ctx, &short, h, now, now, Horizon{1, 1, 0}); return err }()},
		{"bad margin", func() error { _, err := Backtest(ctx, &good, h, now, now, Horizon{1, 0, 0}); return err }()},
		{"bad window", func() error { _, err := Segments(ctx, &good, h, now, now, []int{0, 7}); return err }()},
		{"bad group", func() error {
			_, err := Campaigns(ctx, []Audience{{Name: "x", CustomerID: []string{"a"}, Group: []string{"holdout"}}}, h, now, nil)
			return err
		}()},
		{"audience customer twice", func() error {
			_, err := Campaigns(ctx, []Audience{{Name: "x", CustomerID: []string{"a", "a"}, Group: []string{"treatment", "control"}}}, h, now, nil)
			return err
		}()},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Segments(cancelled, &good, h, date("2026-01-01"), now, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}
