package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

const customersCSV = `id,signup,updated,birth,income
a,2024-01-01,2024-01-01,1990-01-01,50000
b,2024-02-01,2024-02-01,2030-01-01,-5
c,2024-07-01,2024-07-01,,
b,2024-02-01,2024-06-15,,abc
,2024-01-01,2024-01-01,,
d,2024-01-01,bad-date,,
`

const ordersCSV = `order_id,cust,ts,amt,refund
o1,a,2024-03-01T10:00:00Z,10,false
o2,a,2024-03-01T18:00:00Z,5,false
o3,a,2024-05-01T10:00:00Z,20,false
o4,b,2024-04-01T00:00:00Z,7.5,false
o4,b,2024-04-01T00:00:00Z,7.5,false
o5,b,2024-04-02T00:00:00Z,-2.5,true
o6,,2024-04-02T00:00:00Z,1,false
o7,a,not-a-date,1,false
o8,a,2024-04-02T00:00:00Z,abc,false
o9,a,2024-04-02T00:00:00Z,-4,false
o10,d,2024-06-30T23:59:59Z,3,false
o11,d,2024-07-01T00:00:00Z,3,false
o12,d,,3,false
o13,d,2024-06-01T00:00:00Z,,false
`

const eventsCSV = `cust,ts,type
a,2024-06-01T00:00:00Z,email_open
a,2024-07-01T00:00:00Z,email_open
,2024-06-01T00:00:00Z,email_open
a,2024-06-01T00:00:00Z,
`

func fixture(t *testing.T) Spec {
	t.Helper()
	b := objstore.NewMem()
	for k, v := range map[string]string{"customers/c.csv": customersCSV, "orders/o.csv": ordersCSV, "events/e.csv": eventsCSV} {
		if err := b.Upload(context.Background(), k, bytes.NewReader([]byte(v))); err != nil {
			t.Fatal(err)
		}
	}
	return Spec{
		AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC),
		Orders: Table{Bucket: b, Prefix: "orders",
			Columns: map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt", "is_refund": "refund"}},
		Customers: &Table{Bucket: b, Prefix: "customers",
			Columns: map[string]string{"customer_id": "id", "signup_ts": "signup", "updated_at": "updated", "birth_date": "birth"}},
		Events: &Table{Bucket: b, Prefix: "events", Columns: map[string]string{"customer_id": "cust", "event_ts": "ts", "event_type": "type"}},
	}
}

// collector is a Sink that keeps a copy of what it is given.
type collector struct {
	info      Info
	tables    []string
	customers []string // id@version
	orders    []string // id amount refund
	events    []string
}

func (c *collector) Begin(i Info) error { c.info = i; return nil }

func (c *collector) Customers(b *CustomerBlock) error {
	c.note("customers")
	for i := range b.N {
		c.customers = append(c.customers, fmt.Sprintf("%s@%d birth=%v income=%v", b.ID(i), b.Version[i]/86_400_000_000, b.Birth[i] != NoTime, b.Income[i]))
	}
	b.Release()
	return nil
}

func (c *collector) Orders(b *OrderBlock) error {
	c.note("orders")
	for i := range b.N {
		if !b.Drop[i] {
			c.orders = append(c.orders, fmt.Sprintf("%s %v %v", b.ID(i), b.Amount[i], b.Refund[i]))
		}
	}
	b.Release()
	return nil
}

func (c *collector) Events(b *EventBlock) error {
	c.note("events")
	for i := range b.N {
		c.events = append(c.events, b.ID(i))
	}
	b.Release()
	return nil
}

func (c *collector) note(table string) {
	if n := len(c.tables); n == 0 || c.tables[n-1] != table {
		c.tables = append(c.tables, table)
	}
}

func TestStreamRules(t *testing.T) {
	var c collector
	ds, err := Stream(context.Background(), fixture(t), 2, &c)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.tables, []string{"customers", "orders", "events"}) {
		t.Errorf("tables in order %v", c.tables)
	}
	// b's 2030 birth date and negative income are invalid, not bad; so is
	// the later version's "abc". c signed up after D; d's version has an
	// unparsable updated_at.
	wantCust := []string{"a@19723 birth=true income=50000", "b@19754 birth=false income=NaN", "b@19889 birth=false income=NaN"}
	if !reflect.DeepEqual(c.customers, wantCust) {
		t.Errorf("customers %q", c.customers)
	}
	wantOrders := []string{"a 10 false", "a 5 false", "a 20 false", "b 7.5 false", "b -2.5 true", "d 3 false"}
	if !reflect.DeepEqual(c.orders, wantOrders) {
		t.Errorf("orders %q", c.orders)
	}
	if !reflect.DeepEqual(c.events, []string{"a"}) {
		t.Errorf("events %q", c.events)
	}
	q := ds.Quality
	want := map[string]map[string]int64{
		"orders": {ReasonMissingCustomerID: 1, ReasonBadTimestamp: 1, ReasonBadAmount: 1, ReasonNegativeAmount: 1,
			ReasonMissingTimestamp: 1, ReasonMissingAmount: 1},
		"customers": {ReasonMissingCustomerID: 1, ReasonBadTimestamp: 1},
		"events":    {ReasonMissingCustomerID: 1, ReasonMissingEventType: 1},
	}
	if !reflect.DeepEqual(q.Bad, want) {
		t.Errorf("bad %v", q.Bad)
	}
	if q.Duplicates["orders"] != 1 || ds.Orders != 6 {
		t.Errorf("duplicates %v, orders %d", q.Duplicates, ds.Orders)
	}
	if !reflect.DeepEqual(q.Excluded, map[string]map[string]int64{
		"orders": {ExcludedAfterAsOf: 1}, "customers": {ExcludedSignupAfterAsOf: 1}, "events": {ExcludedAfterAsOf: 1}}) {
		t.Errorf("excluded %v", q.Excluded)
	}
	if !reflect.DeepEqual(q.Invalid, map[string]map[string]int64{"customers": {"birth_date": 1, "income": 2}}) {
		t.Errorf("invalid %v", q.Invalid)
	}
	if q.RowsRead["orders"] != 14 || q.RowsRead["customers"] != 6 || q.RowsRead["events"] != 4 {
		t.Errorf("rows read %v", q.RowsRead)
	}
	// The quarantine is in table, object, row order; the duplicate keeps
	// its row number and names its order.
	qr := ds.Quarantine
	if qr.Len() != 11 {
		t.Fatalf("quarantine has %d rows", qr.Len())
	}
	if qr.Table[0] != "customers" || qr.Table[qr.Len()-1] != "events" {
		t.Errorf("tables %v", qr.Table)
	}
	for i := range qr.Len() {
		if qr.Reason[i] == ReasonDuplicateOrder && (qr.Row[i] != 4 || !strings.Contains(qr.Detail[i], `order_id="o4"`) || qr.CustomerID[i] != "b") {
			t.Errorf("duplicate record: row %d %q %q", qr.Row[i], qr.CustomerID[i], qr.Detail[i])
		}
		if qr.Reason[i] == ReasonBadAmount && !strings.Contains(qr.Detail[i], `amount="abc"`) {
			t.Errorf("bad amount detail %q", qr.Detail[i])
		}
	}
	if len(ds.Inputs) != 3 || ds.Inputs[0].Table != "customers" {
		t.Errorf("inputs %+v", ds.Inputs)
	}
	if c.info.IntIDs || c.info.AsOfDay != 19904 || c.info.Cutoff != time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC).UnixMicro() {
		t.Errorf("info %+v", c.info)
	}
}

func TestSchemaErrorBeforeAnyRow(t *testing.T) {
	spec := fixture(t)
	spec.Orders.Columns["amount"] = "no_such_column"
	var c collector
	_, err := Stream(context.Background(), spec, 1, &c)
	var se *tables.SchemaError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), `"no_such_column"`) {
		t.Fatalf("got %v", err)
	}
	if c.tables != nil || c.info.Tables != nil {
		t.Error("rows were delivered before the schema error")
	}
}

type failing struct{ collector }

func (f *failing) Orders(b *OrderBlock) error { b.Release(); return errors.New("sink full") }

func TestSinkErrorStops(t *testing.T) {
	_, err := Stream(context.Background(), fixture(t), 3, &failing{})
	if err == nil || !strings.Contains(err.Error(), "sink full") {
		t.Fatalf("got %v", err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Stream(ctx, fixture(t), 2, &collector{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestHashes(t *testing.T) {
	seen := map[uint64]string{}
	for i := range 200_000 {
		for _, s := range []string{fmt.Sprint(i), fmt.Sprintf("C%08d", i), fmt.Sprintf("customer-%d@example.com", i)} {
			h := HashString(s, 0)
			if prev, dup := seen[h]; dup {
				t.Fatalf("%q and %q collide", prev, s)
			}
			seen[h] = s
		}
	}
	if HashString("abc", 0) == HashString("abc", 1) {
		t.Error("seed ignored")
	}
	var set idSet
	for i := range 10_000 {
		if !set.add(orderHash(fmt.Sprint(i))) {
			t.Fatalf("%d seen before", i)
		}
	}
	if set.add(orderHash("42")) {
		t.Error("duplicate not found")
	}
}

// TestDictCodes: for a dictionary-encoded column without nulls, the codes
// dictCodes gives by dictionary index are those row gives row by row; for
// one with nulls, or not dictionary-encoded, there are none.
func TestDictCodes(t *testing.T) {
	lv := newLevelReader(&Levels{})
	col := &tables.Column{Present: true, Kind: tables.String, Dict: []string{"b", " ", "a"}, Codes: []int32{2, 0, 1, 2, 0}}
	col.Str = []string{"a", "b", " ", "a", "b"}
	if lv.dictCodes(col) != nil {
		t.Fatal("codes before row mapped the dictionary")
	}
	first := lv.row(col, 0)
	dc := lv.dictCodes(col)
	if dc == nil || dc[col.Codes[0]] != first {
		t.Fatalf("dictCodes %v, row 0 %d", dc, first)
	}
	for i := range col.Codes {
		if g, w := dc[col.Codes[i]], lv.row(col, i); g != w {
			t.Errorf("row %d: %d, want %d", i, g, w)
		}
	}
	col.Null = []bool{false, true, false, false, false}
	if lv.dictCodes(col) != nil {
		t.Error("codes for a column with nulls")
	}
	plain := &tables.Column{Present: true, Kind: tables.String, Str: []string{"a"}}
	lv.row(plain, 0)
	if lv.dictCodes(plain) != nil {
		t.Error("codes for a column without a dictionary")
	}
}
