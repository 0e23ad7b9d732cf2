package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Parquet order files of the shapes the bad-input cases need.
type (
	pqOrder struct {
		Cust   string    `parquet:"customer_id"`
		TS     time.Time `parquet:"order_ts,timestamp(microsecond)"`
		Amount float64   `parquet:"amount"`
	}
	pqTextAmount struct {
		Cust   string    `parquet:"customer_id"`
		TS     time.Time `parquet:"order_ts,timestamp(microsecond)"`
		Amount string    `parquet:"amount"`
	}
	pqIntTS struct {
		Cust   string  `parquet:"customer_id"`
		TS     int64   `parquet:"order_ts"`
		Amount float64 `parquet:"amount"`
	}
	pqDoubleTS struct {
		Cust   string  `parquet:"customer_id"`
		TS     float64 `parquet:"order_ts"`
		Amount float64 `parquet:"amount"`
	}
	pqMillisTS struct {
		Cust   string  `parquet:"customer_id"`
		TS     int64   `parquet:"order_ts,timestamp(millisecond)"`
		Amount float64 `parquet:"amount"`
	}
	pqBoolID struct {
		Cust   bool      `parquet:"customer_id"`
		TS     time.Time `parquet:"order_ts,timestamp(microsecond)"`
		Amount float64   `parquet:"amount"`
	}
	pqCustomer struct {
		Cust   string `parquet:"customer_id"`
		Signup int32  `parquet:"signup_ts,date"`
	}
)

func pq[T any](t *testing.T, rows ...T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBadInput feeds each kind of bad input through Stream and checks the
// outcome README's "Data quality" section documents for it: a schema
// problem is a *tables.SchemaError naming the object and column, returned
// before any row reaches the sink (jobs.ExitCode makes it exit 2, and
// nothing is published); an unreadable object is an error naming it
// (exit 1); a bad row is quarantined with its reason; anything else is
// accepted, as documented.
func TestBadInput(t *testing.T) {
	asOf := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	day := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", 100_000)
	const hdr = "customer_id,order_ts,amount\n"
	cases := []struct {
		name      string
		orders    map[string][]byte // key → content
		customers map[string][]byte // optional customers table
		columns   map[string]string // orders mapping; nil: own names
		rules     *Rules            // nil: as a Spec without rules reads

		// One of: an error (schema or not) ...
		err    string // in the error, with the object's key
		schema bool   // the error is a SchemaError
		// ... or the accepted orders and counts.
		orderRows []string // "id amount"
		bad       map[string]int64
		excluded  map[string]int64
		detail    string // in some quarantine record
	}{
		// Wrong column types.
		{name: "csv text amount", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,2024-06-01,abc\na,2024-06-01,12.5\n")},
			orderRows: []string{"a 12.5"}, bad: map[string]int64{ReasonBadAmount: 1}, detail: `amount="abc"`},
		{name: "parquet text amount", orders: map[string][]byte{"orders/o.parquet": pq(t,
			pqTextAmount{"a", day, "12.5"}, pqTextAmount{"a", day, "twelve"}, pqTextAmount{"b", day, " 3 "})},
			orderRows: []string{"a 12.5", "b 3"}, bad: map[string]int64{ReasonBadAmount: 1}, detail: `amount="twelve"`},
		{name: "parquet number where a timestamp is expected", orders: map[string][]byte{"orders/o.parquet": pq(t, pqIntTS{"a", 1717243200, 1})},
			schema: true, err: `column "order_ts" (for order_ts): is INT64, not a timestamp`},
		{name: "parquet epoch number mapped with its unit", orders: map[string][]byte{"orders/o.parquet": pq(t, pqIntTS{"a", 1717243200, 1})},
			columns: map[string]string{"order_ts": "order_ts:epoch_s"}, orderRows: []string{"a 1"}},
		{name: "parquet double where a timestamp is expected", orders: map[string][]byte{"orders/o.parquet": pq(t, pqDoubleTS{"a", 1.7e9, 1})},
			schema: true, err: `column "order_ts" (for order_ts): is DOUBLE, not a timestamp`},
		{name: "parquet bool customer id", orders: map[string][]byte{"orders/o.parquet": pq(t, pqBoolID{true, day, 1})},
			schema: true, err: `column "customer_id" (for customer_id): is BOOLEAN, not text`},
		{name: "csv number where a timestamp is expected", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,1717243200,1\n")},
			bad: map[string]int64{ReasonBadTimestamp: 1}, detail: `order_ts="1717243200"`},
		{name: "parquet millisecond timestamp beyond int64 microseconds", orders: map[string][]byte{"orders/o.parquet": pq(t,
			pqMillisTS{"a", day.UnixMilli(), 1}, pqMillisTS{"a", math.MaxInt64 / 10, 2}, pqMillisTS{"a", math.MinInt64 + 1, 3})},
			orderRows: []string{"a 1"}, bad: map[string]int64{ReasonBadTimestamp: 2}},
		{name: "csv epoch seconds beyond int64 microseconds", columns: map[string]string{"order_ts": "order_ts:epoch_s"},
			orders:    map[string][]byte{"orders/o.csv": []byte(hdr + "a,1717243200,1\na,-9223372036854775,2\na,9000000000000,3\n")},
			orderRows: []string{"a 1"}, bad: map[string]int64{ReasonBadTimestamp: 1}, excluded: map[string]int64{ExcludedAfterAsOf: 1}},

		// Empty objects.
		{name: "csv of 0 bytes", orders: map[string][]byte{"orders/o.csv": nil},
			schema: true, err: "empty file: no header row"},
		{name: "csv header only", orders: map[string][]byte{"orders/o.csv": []byte(hdr)}},
		{name: "csv header only beside a good object", orders: map[string][]byte{
			"orders/a.csv": []byte(hdr), "orders/b.csv": []byte(hdr + "a,2024-06-01,1\n")}, orderRows: []string{"a 1"}},
		{name: "parquet of 0 bytes", orders: map[string][]byte{"orders/o.parquet": nil}, err: "0 bytes is too short for a Parquet file"},
		{name: "parquet truncated", orders: map[string][]byte{"orders/o.parquet": pq(t, pqOrder{"a", day, 1})[:100]},
			err: "truncated or not Parquet"},
		{name: "parquet without rows", orders: map[string][]byte{"orders/o.parquet": pq[pqOrder](t)}},

		// Amounts.
		{name: "billion-dollar order", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,2024-06-01,1000000000\nb,2024-06-01,999999999999999\n")},
			orderRows: []string{"a 1e+09", "b 9.99999999999999e+14"}},
		{name: "amount beyond MaxAmount", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,2024-06-01,1e16\na,2024-06-01,-1e300\na,2024-06-01,1e999\n")},
			bad: map[string]int64{ReasonAmountOutOfRange: 2, ReasonBadAmount: 1}, detail: `amount="1e16"`},
		{name: "amounts in Go's syntax", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,2024-06-01,1_000\na,2024-06-01,0x1p4\na,2024-06-01, 2.50 \n")},
			orderRows: []string{"a 2.5"}, bad: map[string]int64{ReasonBadAmount: 2}, detail: `amount="1_000"`},
		{name: "quarantine shows the text as written", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,not-a-date,12.50\n")},
			bad: map[string]int64{ReasonBadTimestamp: 1}, detail: `amount="12.50"`},
		{name: "csv NaN and Inf amounts", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,2024-06-01,NaN\na,2024-06-01,Inf\na,2024-06-01,-Infinity\na,2024-06-01,2\n")},
			orderRows: []string{"a 2"}, bad: map[string]int64{ReasonMissingAmount: 1, ReasonAmountOutOfRange: 2}},
		{name: "parquet NaN and Inf amounts", orders: map[string][]byte{"orders/o.parquet": pq(t,
			pqOrder{"a", day, math.NaN()}, pqOrder{"a", day, math.Inf(1)}, pqOrder{"a", day, math.Inf(-1)}, pqOrder{"a", day, 2})},
			orderRows: []string{"a 2"}, bad: map[string]int64{ReasonMissingAmount: 1, ReasonAmountOutOfRange: 2}},
		{name: "quantity times price overflows", columns: map[string]string{"unit_price": "price"},
			orders:    map[string][]byte{"orders/o.csv": []byte("customer_id,order_ts,quantity,price\na,2024-06-01,1e200,1e200\na,2024-06-01,0,Inf\na,2024-06-01,2,1.5\n")},
			orderRows: []string{"a 3"}, bad: map[string]int64{ReasonAmountOutOfRange: 1, ReasonBadAmount: 1}},

		// Dates far from the as-of day.
		{name: "orders in 1900 and 2100", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,1900-01-01,5\na,2100-01-01,6\na,2024-06-01,7\n")},
			customers: map[string][]byte{"customers/c.csv": []byte("customer_id,signup_ts\na,2024-01-01\n")},
			orderRows: []string{"a 5", "a 7"}, excluded: map[string]int64{ExcludedAfterAsOf: 1}},

		// Identifiers.
		{name: "unicode and very long customer ids", orders: map[string][]byte{"orders/o.csv": []byte(hdr +
			"客户-一,2024-06-01,1\nÜnïcödé,2024-06-01,2\n🙂,2024-06-01,3\n" + long + ",2024-06-01,4\n\"a,b\",2024-06-01,5\n")},
			orderRows: []string{"客户-一 1", "Ünïcödé 2", "🙂 3", long + " 4", "a,b 5"}},
		{name: "customer ids with surrounding spaces", orders: map[string][]byte{"orders/o.csv": []byte(hdr + " a ,2024-06-01,1\n\"b\t\",2024-06-01,2\n")},
			rules: &Rules{IDs: DefaultIDs, GuestsBad: true, ZeroPurchases: true}, orderRows: []string{"a 1", "b 2"}},
		{name: "blank customer id", orders: map[string][]byte{"orders/o.csv": []byte(hdr + " ,2024-06-01,1\n\"\",2024-06-01,2\n")},
			bad: map[string]int64{ReasonMissingCustomerID: 2}},

		// Columns.
		{name: "duplicate mapped csv column", orders: map[string][]byte{"orders/o.csv": []byte("customer_id,order_ts,amount,amount\na,2024-06-01,1,2\n")},
			schema: true, err: `column "amount" (for amount) appears 2 times in the header`},
		{name: "duplicate unmapped csv column", orders: map[string][]byte{"orders/o.csv": []byte("customer_id,note,order_ts,note,amount\na,x,2024-06-01,y,1\n")},
			orderRows: []string{"a 1"}},
		{name: "required column missing", orders: map[string][]byte{"orders/o.csv": []byte("customer_id,amount\na,1\n")},
			schema: true, err: `required column "order_ts" (for order_ts) not found; columns are: customer_id, amount`},
		{name: "BOM and CRLF", orders: map[string][]byte{"orders/o.csv": []byte("\ufeffcustomer_id,order_ts,amount\r\na,2024-06-01,1\r\n")},
			orderRows: []string{"a 1"}},
		{name: "BOM before a quoted header", orders: map[string][]byte{"orders/o.csv": []byte("\ufeff\"customer_id\",\"order_ts\",\"amount\"\r\n\"a\",\"2024-06-01\",\"1\"\r\n")},
			orderRows: []string{"a 1"}},
		{name: "ragged row", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,2024-06-01\na,2024-06-01,1\n")},
			orderRows: []string{"a 1"}, bad: map[string]int64{ReasonMalformedRow: 1}, detail: "CSV row has 2 fields, header has 3"},
		{name: "stray quote", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,2024-06-01,1\nb,\"2024-06-01,2\nc,2024-06-01,3\nd,2024-06-01,4\n")},
			orderRows: []string{"a 1", "c 3", "d 4"}, bad: map[string]int64{ReasonMalformedRow: 1}, detail: "(line 3)"},
		{name: "line longer than a row may be", orders: map[string][]byte{"orders/o.csv": []byte(hdr + "a,2024-06-01,1\nb," + strings.Repeat("9", 2<<20) + ",2\nc,2024-06-01,3\n")},
			orderRows: []string{"a 1", "c 3"}, bad: map[string]int64{ReasonMalformedRow: 1}, detail: fmt.Sprintf("[truncated, %d bytes]", 2<<20+5)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := objstore.NewMem()
			put := func(files map[string][]byte) {
				for k, v := range files {
					if err := b.Upload(context.Background(), k, bytes.NewReader(v)); err != nil {
						t.Fatal(err)
					}
				}
			}
			put(tc.orders)
			put(tc.customers)
			spec := Spec{AsOf: asOf, Orders: Table{Bucket: b, Prefix: "orders", Columns: tc.columns}, Rules: tc.rules}
			if tc.customers != nil {
				spec.Customers = &Table{Bucket: b, Prefix: "customers"}
			}
			var c collector
			ds, err := Stream(context.Background(), spec, 2, &c)
			if tc.err != "" {
				var se *tables.SchemaError
				switch {
				case err == nil:
					t.Fatalf("no error, want %q", tc.err)
				case !strings.Contains(err.Error(), tc.err):
					t.Fatalf("error %q, want it to contain %q", err, tc.err)
				case errors.As(err, &se) != tc.schema:
					t.Fatalf("error %q: schema error %v, want %v", err, !tc.schema, tc.schema)
				}
				for k := range tc.orders {
					if !strings.Contains(err.Error(), k) {
						t.Errorf("error %q does not name %s", err, k)
					}
				}
				if c.tables != nil || c.info.Tables != nil {
					t.Error("rows reached the sink before the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range c.orders {
				id, amount, _ := strings.Cut(o, " ")
				amount, _, _ = strings.Cut(amount, " ")
				got = append(got, id+" "+amount)
			}
			if !reflect.DeepEqual(got, tc.orderRows) {
				t.Errorf("orders %q, want %q", got, tc.orderRows)
			}
			if bad := ds.Quality.Bad["orders"]; !reflect.DeepEqual(bad, tc.bad) && (len(bad) > 0 || len(tc.bad) > 0) {
				t.Errorf("bad %v, want %v", bad, tc.bad)
			}
			if ex := ds.Quality.Excluded["orders"]; !reflect.DeepEqual(ex, tc.excluded) && (len(ex) > 0 || len(tc.excluded) > 0) {
				t.Errorf("excluded %v, want %v", ex, tc.excluded)
			}
			if tc.detail != "" && !slicesContain(ds.Quarantine.Detail, tc.detail) {
				t.Errorf("no quarantine detail contains %q: %q", tc.detail, ds.Quarantine.Detail)
			}
		})
	}
}

// TestBadInputCustomerDates: a signup in 1900 is kept; one in 2100 is
// after the as-of day (the customer does not exist yet); a DATE whose
// instant overflows int64 microseconds is a bad timestamp, quarantined.
func TestBadInputCustomerDates(t *testing.T) {
	b := objstore.NewMem()
	files := map[string][]byte{
		"orders/o.csv":        []byte("customer_id,order_ts,amount\na,2024-06-01,1\n"),
		"customers/c.parquet": pq(t, pqCustomer{"a", -25567}, pqCustomer{"b", 47482}, pqCustomer{"c", math.MaxInt32}),
	}
	for k, v := range files {
		if err := b.Upload(context.Background(), k, bytes.NewReader(v)); err != nil {
			t.Fatal(err)
		}
	}
	spec := Spec{AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), Orders: Table{Bucket: b, Prefix: "orders"},
		Customers: &Table{Bucket: b, Prefix: "customers"}}
	var c collector
	ds, err := Stream(context.Background(), spec, 1, &c)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{fmt.Sprintf("a@%d birth=false income=NaN", NoTime/86_400_000_000)}; !reflect.DeepEqual(c.customers, want) {
		t.Errorf("customers %q, want %q", c.customers, want)
	}
	q := ds.Quality
	if q.Excluded["customers"][ExcludedSignupAfterAsOf] != 1 || q.Bad["customers"][ReasonBadTimestamp] != 1 {
		t.Errorf("excluded %v, bad %v", q.Excluded, q.Bad)
	}
	if !slicesContain(ds.Quarantine.Detail, `signup_ts="2147483647"`) {
		t.Errorf("quarantine %q", ds.Quarantine.Detail)
	}
}

func slicesContain(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
