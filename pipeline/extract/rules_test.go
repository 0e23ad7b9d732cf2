package extract

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/audience"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// lineSink keeps the orders it is given with their time and category
// spend.
type lineSink struct {
	collector
	rows []string
}

func (c *lineSink) Orders(b *OrderBlock) error {
	for i := range b.N {
		if b.Drop[i] {
			continue
		}
		cats := ""
		if b.LineOff != nil {
			names := c.info.Levels["orders.category"].Names()
			for k := b.LineOff[i]; k < b.LineOff[i+1]; k++ {
				// Level codes depend on which reader met a level first;
				// their names do not.
				cats += fmt.Sprintf(" %s=%v", names[b.LineCat[k]], b.LineAmt[k])
			}
		}
		c.rows = append(c.rows, fmt.Sprintf("%s %v %v %s%s", b.ID(i), b.Amount[i], b.Refund[i],
			time.UnixMicro(b.Time[i]).UTC().Format("01-02T15"), cats))
	}
	b.Release()
	return nil
}

func mustFilter(t *testing.T, src string, cols map[string]string) *audience.Filter {
	t.Helper()
	f, err := audience.Compile(src, RuleSchema(cols))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func lineSpec(t *testing.T, body string, cols map[string]string, rules *Rules) Spec {
	t.Helper()
	b := objstore.NewMem()
	upload(t, b, "orders/o.csv", body)
	return Spec{AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC),
		Orders: Table{Bucket: b, Prefix: "orders", Columns: cols}, Rules: rules}
}

// TestLineGrain: lines of an order make one order (sum, earliest time,
// category spend by line), wherever they are in the table; an exact copy
// of a line is a duplicate; returns net; an order that cancels out, or of
// nothing, is no purchase; guests and non-product lines are counted out;
// order-level fields left blank on later lines come from the line before.
func TestLineGrain(t *testing.T) {
	const body = `inv,cust,ts,qty,price,cat,sku
A1,12346.0,2024-03-01T10:00:00Z,2,5,toys,s1
A1,,,1,3,books,s2
B1, 777 ,2024-03-02T09:00:00Z,1,10,toys,s1
A1,12346.0,2024-03-01T09:00:00Z,1,4,toys,s3
A1,12346.0,2024-03-01T09:00:00Z,1,4,toys,s3
P1,12346.0,2024-03-01T09:00:00Z,1,6,POSTAGE,post
C9,12346.0,2024-03-05T10:00:00Z,-1,5,toys,s1
Z1,777,2024-03-06T10:00:00Z,1,0,toys,s9
X1,777,2024-03-07T10:00:00Z,1,8,toys,s1
X1,777,2024-03-07T10:00:00Z,-1,8,toys,s1
G1,,2024-03-08T10:00:00Z,2,10,toys,s1
G1,,,1,5,toys,s2
L1,12346.0,2024-07-01T10:00:00Z,1,1,toys,s1
`
	cols := map[string]string{"order_id": "inv", "customer_id": "cust", "order_ts": "ts", "quantity": "qty",
		"unit_price": "price", "category": "cat", "product": "sku"}
	rules := &Rules{Lines: true, IDs: DefaultIDs,
		Returns: mustFilter(t, `order_id like 'C%' or quantity < 0`, cols),
		Exclude: []NamedFilter{{"non_product", mustFilter(t, `category in ("POSTAGE", "Bank Charges")`, cols)}}}
	var c lineSink
	ds, err := Stream(context.Background(), lineSpec(t, body, cols, rules), 2, &c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"12346 17 false 03-01T09 toys=14 books=3", // 2×5 + 1×3 + 1×4, the copy dropped
		"777 10 false 03-02T09 toys=10",           // " 777 " trimmed
		"12346 -5 true 03-05T10 toys=-5",          // the cancellation, netted
	}
	slices.Sort(want)
	slices.Sort(c.rows)
	if !slices.Equal(c.rows, want) {
		t.Errorf("orders\n%s\nwant\n%s", strings.Join(c.rows, "\n"), strings.Join(want, "\n"))
	}
	q := ds.Quality
	wantEx := map[string]int64{"rule:non_product": 1, "zero_amount": 2, "guest_order": 2, "after_as_of": 1}
	for k, v := range wantEx {
		if q.Excluded["orders"][k] != v {
			t.Errorf("excluded %s = %d, want %d (%v)", k, q.Excluded["orders"][k], v, q.Excluded["orders"])
		}
	}
	if q.Duplicates["orders"] != 1 || q.GuestRevenue != 25 || ds.Orders != 3 || len(q.Bad["orders"]) != 0 {
		t.Errorf("duplicates %v, guest revenue %v, orders %d, bad %v", q.Duplicates, q.GuestRevenue, ds.Orders, q.Bad)
	}
}

// TestLineGrainBoundedWindow: a line of an order closed because too many
// newer orders were open is quarantined, not added to another order.
func TestLineGrainBoundedWindow(t *testing.T) {
	const body = `inv,cust,ts,amt
A,1,2024-03-01T10:00:00Z,1
B,2,2024-03-01T10:00:00Z,2
C,3,2024-03-01T10:00:00Z,3
A,1,2024-03-01T10:00:00Z,4
B,2,2024-03-01T10:00:00Z,5
B,9,2024-03-01T10:00:00Z,5
`
	cols := map[string]string{"order_id": "inv", "customer_id": "cust", "order_ts": "ts", "amount": "amt"}
	old := testMaxOpen
	testMaxOpen = 2
	defer func() { testMaxOpen = old }()
	var c lineSink
	ds, err := Stream(context.Background(), lineSpec(t, body, cols, &Rules{Lines: true}), 1, &c)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(c.rows)
	if want := []string{"1 1 false 03-01T10", "2 7 false 03-01T10", "3 3 false 03-01T10"}; !slices.Equal(c.rows, want) {
		t.Errorf("orders %v, want %v", c.rows, want)
	}
	if b := ds.Quality.Bad["orders"]; b[ReasonScatteredLines] != 1 || b[ReasonConflictingOrder] != 1 {
		t.Errorf("bad %v, want a scattered line and a conflicting one", b)
	}
}

// TestOrderGrainConflicts: with order grain, a second row of an order id
// that differs is conflicting_order_id (bad, toward the gate, with a hint
// to set grain: line); an exact copy stays a duplicate.
func TestOrderGrainConflicts(t *testing.T) {
	const body = `inv,cust,ts,amt
A,1,2024-03-01T10:00:00Z,10
A,1,2024-03-01T10:00:00Z,10
A,1,2024-03-01T10:00:00Z,3
B,2,2024-03-01T10:00:00Z,0
`
	cols := map[string]string{"order_id": "inv", "customer_id": "cust", "order_ts": "ts", "amount": "amt"}
	var c lineSink
	ds, err := Stream(context.Background(), lineSpec(t, body, cols, &Rules{}), 1, &c)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.rows) != 1 || ds.Quality.Duplicates["orders"] != 1 || ds.Quality.BadRows("orders") != 1 ||
		ds.Quality.Excluded["orders"][ExcludedZeroAmount] != 1 {
		t.Errorf("orders %v, quality %+v", c.rows, ds.Quality)
	}
	i := slices.Index(ds.Quarantine.Reason, ReasonConflictingOrder)
	if i < 0 || !strings.Contains(ds.Quarantine.Detail[i], "grain: line") {
		t.Errorf("quarantine %v %v", ds.Quarantine.Reason, ds.Quarantine.Detail)
	}
}

// TestGuestsBad: quality.guests: bad keeps rows without a customer id bad.
func TestGuestsBad(t *testing.T) {
	const body = "cust,ts,amt\n,2024-03-01T10:00:00Z,10\n1,2024-03-01T10:00:00Z,10\n"
	cols := map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt"}
	var c lineSink
	ds, err := Stream(context.Background(), lineSpec(t, body, cols, &Rules{GuestsBad: true}), 1, &c)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Quality.Bad["orders"][ReasonMissingCustomerID] != 1 || ds.Quality.GuestRevenue != 0 {
		t.Errorf("quality %+v", ds.Quality)
	}
}

// TestCurrencies: several currencies without rates fail naming them; with
// rates, each order is converted at the latest rate on or before its day,
// and an order before any rate is quarantined.
func TestCurrencies(t *testing.T) {
	const body = `cust,ts,amt,cur
1,2024-03-01T10:00:00Z,10,GBP
1,2024-03-03T10:00:00Z,1000,JPY
2,2024-03-05T10:00:00Z,1000,JPY
2,2024-02-01T10:00:00Z,1000,JPY
`
	cols := map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt", "currency": "cur"}
	spec := lineSpec(t, body, cols, &Rules{})
	var c lineSink
	_, err := Stream(context.Background(), spec, 1, &c)
	var ce *CurrencyError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "GBP, JPY") {
		t.Fatalf("err %v, want a CurrencyError naming GBP and JPY", err)
	}
	upload(t, spec.Orders.Bucket, "fx/r.csv", "date,currency,rate\n2024-03-01,JPY,0.005\n2024-03-04,JPY,0.006\n2024-03-09,JPY,0.007\n")
	spec.FX = &FX{Table: Table{Bucket: spec.Orders.Bucket, Prefix: "fx"}, Reporting: "GBP"}
	c = lineSink{}
	ds, err := Stream(context.Background(), spec, 1, &c)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(c.rows)
	if want := []string{"1 10 false 03-01T10", "1 5 false 03-03T10", "2 6 false 03-05T10"}; !slices.Equal(c.rows, want) {
		t.Errorf("orders %v, want %v", c.rows, want)
	}
	if ds.Quality.Bad["orders"][ReasonMissingFXRate] != 1 || ds.Quality.Currency != "GBP" {
		t.Errorf("quality %+v", ds.Quality)
	}
	// A currency the rates do not know at all is the rates' problem.
	upload(t, spec.Orders.Bucket, "orders/p.csv", "cust,ts,amt,cur\n3,2024-03-05T10:00:00Z,1,CHF\n")
	_, err = Stream(context.Background(), spec, 1, &lineSink{})
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "(CHF): input.fx has no rates") {
		t.Errorf("err %v, want a CurrencyError naming CHF", err)
	}
}

func TestIDNorm(t *testing.T) {
	for in, want := range map[string]string{"12346.0": "12346", " 12346.00 ": "12346", "1.2346e+04": "12346",
		"12346.5": "12346.5", "007": "007", "abc.0": "abc.0", " a ": "a", "1e300": "1e300", "": ""} {
		if got := DefaultIDs.apply(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
	if got := (IDNorm{}).apply(" 1.0 "); got != " 1.0 " {
		t.Errorf("off: %q", got)
	}
}

// TestSuppressionIntegerFloats: a suppression list that writes an id as a
// float suppresses the customer whose id is read as the integer.
func TestSuppressionIntegerFloats(t *testing.T) {
	const body = "cust,ts,amt\n12346.0,2024-03-01T10:00:00Z,10\n 12347 ,2024-03-01T10:00:00Z,10\n12348,2024-03-01T10:00:00Z,10\n"
	cols := map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt"}
	spec := lineSpec(t, body, cols, &Rules{IDs: DefaultIDs})
	upload(t, spec.Orders.Bucket, "sup/s.csv", "customer_id\n12346.00\n12347.0\n")
	spec.Suppression = &Table{Bucket: spec.Orders.Bucket, Prefix: "sup"}
	var c lineSink
	ds, err := Stream(context.Background(), spec, 1, &c)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.rows) != 1 || !strings.HasPrefix(c.rows[0], "12348 ") || ds.Quality.Excluded["orders"][ExcludedSuppressed] != 2 {
		t.Errorf("orders %v, excluded %v", c.rows, ds.Quality.Excluded)
	}
}

// TestLineGrainWorkers: the orders made of lines, their order and every
// count are the same whatever the number of workers and batch sizes.
func TestLineGrainWorkers(t *testing.T) {
	b := objstore.NewMem()
	ctx := context.Background()
	// Three objects of interleaved invoices, an invoice's lines split
	// across an object's end now and then.
	var objs [3]strings.Builder
	for k := range objs {
		objs[k].WriteString("inv,cust,ts,qty,price,cat,cur\n")
	}
	for n := range 3000 {
		k := (n / 7) % 3
		inv := fmt.Sprintf("%d", 500000+n)
		if n%11 == 0 {
			inv = "C" + inv
		}
		cust := fmt.Sprintf("%d.0", 12000+n%97)
		if n%5 == 0 {
			cust = ""
		}
		cur := []string{"GBP", "EUR"}[n%2]
		for l := range 1 + n%4 {
			q := 1 + l
			if inv[0] == 'C' {
				q = -q
			}
			fmt.Fprintf(&objs[k], "%s,%s,2024-0%d-1%dT10:00:00Z,%d,%d.5,c%d,%s\n", inv, cust, 1+n%5, n%10, q, l, (n+l)%6, cur)
		}
	}
	for k := range objs {
		upload(t, b, fmt.Sprintf("orders/o%d.csv", k), objs[k].String())
	}
	upload(t, b, "fx/r.csv", "date,currency,rate\n2023-12-01,EUR,0.85\n2024-03-01,EUR,0.87\n")
	cols := map[string]string{"order_id": "inv", "customer_id": "cust", "order_ts": "ts", "quantity": "qty",
		"unit_price": "price", "category": "cat", "currency": "cur"}
	rules := &Rules{Lines: true, IDs: DefaultIDs, Returns: mustFilter(t, `order_id like 'C%'`, cols),
		Exclude: []NamedFilter{{"fees", mustFilter(t, `category = "c5"`, cols)}}}
	var want []string
	var wantQ string
	for _, w := range []int{1, 2, 4} {
		spec := Spec{AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), Rules: rules,
			Orders: Table{Bucket: b, Prefix: "orders", Columns: cols},
			FX:     &FX{Table: Table{Bucket: b, Prefix: "fx"}, Reporting: "GBP"}}
		var c lineSink
		ds, err := Stream(ctx, spec, w, &c)
		if err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf("%v %v %v %v %v", ds.Orders, ds.Quality.Bad, ds.Quality.Excluded, ds.Quality.Duplicates, ds.Quality.GuestRevenue)
		if want == nil {
			want, wantQ = c.rows, q
			if len(want) < 1000 || ds.Quality.GuestRevenue == 0 {
				t.Fatalf("%d orders, quality %s", len(want), q)
			}
			continue
		}
		if !slices.Equal(c.rows, want) || q != wantQ {
			t.Errorf("%d workers: %d orders, %s; want %d, %s", w, len(c.rows), q, len(want), wantQ)
			for i := range min(len(want), len(c.rows)) {
				if c.rows[i] != want[i] {
					t.Errorf("order %d: %s, want %s", i, c.rows[i], want[i])
					break
				}
			}
		}
	}
}

func TestU64Set(t *testing.T) {
	var s u64Set
	for i := range uint64(100_000) {
		if !s.add(i * 0x9e3779b97f4a7c15) {
			t.Fatalf("%d not new", i)
		}
	}
	for i := range uint64(100_000) {
		if s.add(i * 0x9e3779b97f4a7c15) {
			t.Fatalf("%d new twice", i)
		}
	}
	if s.n != 100_000 || s.add(0) || !s.add(2) {
		t.Errorf("n %d; 0 is stored as 1, which is there", s.n)
	}
}
