package extract

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

func upload(t *testing.T, b objstore.Bucket, key, body string) {
	t.Helper()
	if err := b.Upload(context.Background(), key, bytes.NewReader([]byte(body))); err != nil {
		t.Fatal(err)
	}
}

// quarantineText is every string of the quarantine, for "appears nowhere"
// checks.
func quarantineText(q *Quarantine) string {
	return strings.Join(q.CustomerID, "\n") + "\n" + strings.Join(q.Detail, "\n")
}

// TestSuppressionDropsRowsBeforeAnyRule: the fixture with b and d
// suppressed. b has customer versions (one with invalid values) and orders
// (one a duplicate); d has a customer row with a bad timestamp and orders
// that are bad in three ways. None of it is quarantined or delivered; the
// rows are counted as suppressed, and the rest of the run is unchanged.
func TestSuppressionDropsRowsBeforeAnyRule(t *testing.T) {
	spec := fixture(t)
	b := spec.Orders.Bucket
	upload(t, b, "erasure/list.csv", "id\n b \nd\nnobody\n")
	spec.Suppression = &Table{Bucket: b, Prefix: "erasure", Columns: map[string]string{"customer_id": "id"}}
	var c collector
	ds, err := Stream(context.Background(), spec, 2, &c)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a@19723 birth=true income=50000"}; !reflect.DeepEqual(c.customers, want) {
		t.Errorf("customers %q", c.customers)
	}
	if want := []string{"a 10 false", "a 5 false", "a 20 false"}; !reflect.DeepEqual(c.orders, want) {
		t.Errorf("orders %q", c.orders)
	}
	q := ds.Quality
	// customers: b twice, d once; orders: b's three (the duplicate too),
	// d's four (o10 in time, o11 after it, o12 and o13 bad).
	if got := q.Excluded["customers"][ExcludedSuppressed]; got != 3 {
		t.Errorf("suppressed customer rows %d, want 3", got)
	}
	if got := q.Excluded["orders"][ExcludedSuppressed]; got != 7 {
		t.Errorf("suppressed order rows %d, want 7", got)
	}
	if q.Duplicates["orders"] != 0 || q.Bad["orders"][ReasonMissingTimestamp] != 0 || q.Bad["orders"][ReasonMissingAmount] != 0 ||
		q.Bad["customers"][ReasonBadTimestamp] != 0 || q.Invalid["customers"]["income"] != 0 {
		t.Errorf("suppressed rows went through the rules: %+v", q)
	}
	// a's bad rows and the id-less ones are still quarantined.
	if q.Bad["orders"][ReasonBadTimestamp] != 1 || q.Bad["orders"][ReasonMissingCustomerID] != 1 || q.Bad["customers"][ReasonMissingCustomerID] != 1 {
		t.Errorf("other bad rows: %+v", q.Bad)
	}
	for _, id := range []string{`"b"`, `"d"`} {
		if strings.Contains(quarantineText(&ds.Quarantine), id) {
			t.Errorf("suppressed %s in the quarantine:\n%s", id, quarantineText(&ds.Quarantine))
		}
	}
	last := ds.Inputs[len(ds.Inputs)-1]
	if last.Table != "suppression" || last.Key != "erasure/list.csv" || last.ETag == "" {
		t.Errorf("the list is not fingerprinted: %+v", ds.Inputs)
	}
}

// TestSuppressionInRowText: a row that cannot be split into columns is
// dropped when a suppressed id is one of its tokens, and so is any
// rejected row whose values mention one; others are quarantined.
func TestSuppressionInRowText(t *testing.T) {
	b := objstore.NewMem()
	upload(t, b, "orders/o.csv", `order_id,cust,ts,amt
o1,C17,2024-03-01T10:00:00Z,10
o2,C17,2024-03-01T10:00:00Z,1,extra
o3,C170,2024-03-01T10:00:00Z,1,extra
o4,C2,not-a-date,C17
o5,C2,2024-03-02T10:00:00Z,4
`)
	upload(t, b, "erasure/ids.csv", "customer_id\nC17\n")
	spec := Spec{AsOf: mustDay("2024-06-30"),
		Orders:      Table{Bucket: b, Prefix: "orders", Columns: map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt"}},
		Suppression: &Table{Bucket: b, Prefix: "erasure"}}
	var c collector
	ds, err := Stream(context.Background(), spec, 1, &c)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"C2 4 false"}; !reflect.DeepEqual(c.orders, want) {
		t.Errorf("orders %q", c.orders)
	}
	// o1 by its id, o2 by its text, o4 by a value; o3's C170 is another id.
	if got := ds.Quality.Excluded["orders"][ExcludedSuppressed]; got != 3 {
		t.Errorf("suppressed %d rows, want 3", got)
	}
	if ds.Quarantine.Len() != 1 || ds.Quarantine.Reason[0] != ReasonMalformedRow || !strings.Contains(ds.Quarantine.Detail[0], "C170") {
		t.Errorf("quarantine %+v", ds.Quarantine)
	}
}

func TestSuppressionMatch(t *testing.T) {
	s := NewSuppression([]string{"C17", " 42 ", "007", "", "x-1"})
	for id, want := range map[string]bool{"C17": true, "42": true, "007": true, "7": true, "C1": false, "x-1": true, " 42 ": false} {
		if s.Has(id) != want {
			t.Errorf("Has(%q) = %v", id, !want)
		}
	}
	for v, want := range map[int64]bool{7: true, 42: true, 17: false} {
		if s.HasInt(v) != want {
			t.Errorf("HasInt(%d) = %v", v, !want)
		}
	}
	for text, want := range map[string]bool{
		`customer_id="C17"`:        true,
		"o2,C17,2024":              true,
		"C170,C171":                false,
		"AC17":                     false,
		"id 42.":                   true,
		"420":                      false,
		"at 2024-07-01":            false, // 07 is not 007, and 7 is no token here
		"7":                        true,
		"x-1 and more":             true,
		"ünïcode C17ü is one word": false,
	} {
		if got := s.matchText(text); got != want {
			t.Errorf("matchText(%q) = %v, want %v", text, got, want)
		}
	}
	var none *Suppression
	if none.Has("C17") || none.HasInt(7) || none.matchText("C17") || none.Len() != 0 {
		t.Error("a nil list suppresses")
	}
}

// TestSuppressionIntegerIDs: integer customer ids (Parquet INT64, the
// reader's fast path) are suppressed by value.
func TestSuppressionIntegerIDs(t *testing.T) {
	b := objstore.NewMem()
	day := mustDay("2024-03-01").UnixMicro()
	cols := []tables.OutColumn{
		{Name: "cust", Type: tables.OutInt64, I64: []int64{5, 7, 9, 7, 9}},
		{Name: "ts", Type: tables.OutTimestamp, I64: []int64{day, day, day, day, day}},
		{Name: "amt", Type: tables.OutDouble, F64: []float64{1, 2, 3, -4, -7}},
	}
	var buf bytes.Buffer
	if err := tables.WriteParquet(&buf, cols, tables.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	upload(t, b, "orders/o.parquet", buf.String())
	upload(t, b, "erasure/ids.csv", "customer_id\n007\n")
	spec := Spec{AsOf: mustDay("2024-06-30"),
		Orders:      Table{Bucket: b, Prefix: "orders", Columns: map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt"}},
		Suppression: &Table{Bucket: b, Prefix: "erasure"}}
	var c collector
	ds, err := Stream(context.Background(), spec, 1, &c)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"5 1 false", "9 3 false"}; !reflect.DeepEqual(c.orders, want) || !c.info.IntIDs {
		t.Errorf("orders %q (integer ids %v)", c.orders, c.info.IntIDs)
	}
	// 7's negative amount is not quarantined: 7 is suppressed first. 9's
	// is, although its amount is -7: a number is no mention of an id.
	if ds.Quality.Excluded["orders"][ExcludedSuppressed] != 2 || ds.Quarantine.Len() != 1 || ds.Quarantine.CustomerID[0] != "9" {
		t.Errorf("excluded %v, quarantine %+v", ds.Quality.Excluded, ds.Quarantine)
	}
}

// TestUnreadableSuppressionList: a list that is missing, lacks its column
// or has a row that does not parse fails the stream before the sink sees
// anything; a missing column is a schema error (the config's to fix).
func TestUnreadableSuppressionList(t *testing.T) {
	cases := []struct {
		name, key, body string
		schema          bool
		want            string
	}{
		{"no objects", "elsewhere/ids.csv", "customer_id\nC1\n", false, `no parquet or csv input objects under "erasure/"`},
		{"no id column", "erasure/ids.csv", "id\nC1\n", true, "customer_id"},
		{"a malformed row", "erasure/ids.csv", "customer_id\nC1\nC2,C3\n", false, "erasure/ids.csv row 1: CSV row has 2 fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := fixture(t)
			upload(t, spec.Orders.Bucket, tc.key, tc.body)
			spec.Suppression = &Table{Bucket: spec.Orders.Bucket, Prefix: "erasure"}
			var c collector
			_, err := Stream(context.Background(), spec, 2, &c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			var se *tables.SchemaError
			if errors.As(err, &se) != tc.schema {
				t.Errorf("schema error = %v, want %v: %v", !tc.schema, tc.schema, err)
			}
			if c.tables != nil {
				t.Errorf("the sink was given %v", c.tables)
			}
			if tc.schema {
				if err := CheckSchemas(context.Background(), spec); !errors.As(err, &se) {
					t.Errorf("CheckSchemas: %v", err)
				}
			}
		})
	}
}

// TestQuarantineView: with pseudonyms and personal attributes withheld,
// quarantine records show neither the ids as read nor the attributes, and
// the raw text of malformed rows is left out; the reasons stay.
func TestQuarantineView(t *testing.T) {
	b := objstore.NewMem()
	upload(t, b, "customers/c.csv", `id,signup,birth,city,postal_code,gender
k1,bad-date,1980-05-17,Springfield,12345,f
k2,2024-01-01,1990-01-01,Shelbyville,54321,m,extra
,2024-01-01,1970-01-01,Ogdenville,99999,x
`)
	upload(t, b, "orders/o.csv", "order_id,cust,ts,amt\no1,k1,2024-03-01T10:00:00Z,10\no1,k1,2024-03-01T10:00:00Z,10\no2,k3,,1\n")
	spec := Spec{AsOf: mustDay("2024-06-30"),
		Orders: Table{Bucket: b, Prefix: "orders",
			Columns: map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt", "order_id": "order_id"}},
		Customers: &Table{Bucket: b, Prefix: "customers",
			Columns: map[string]string{"customer_id": "id", "signup_ts": "signup", "birth_date": "birth"}},
		Quarantine: QuarantineView{
			ID:       func(s string) string { return "pseudo(" + strings.ToUpper(s) + ")" },
			Withhold: map[string]bool{"birth_date": true, "city": true, "postal_code": true},
		},
	}
	var c collector
	ds, err := Stream(context.Background(), spec, 1, &c)
	if err != nil {
		t.Fatal(err)
	}
	q := &ds.Quarantine
	if reasons := strings.Join(q.Reason, ","); reasons != "unparsable_timestamp,malformed_row,missing_customer_id,duplicate_order_id,missing_timestamp" {
		t.Fatalf("reasons %s", reasons)
	}
	text := quarantineText(q)
	for _, leak := range []string{`"k1"`, `"k3"`, "k2", "Springfield", "Shelbyville", "Ogdenville", "12345", "1980-05-17", "1970"} {
		if strings.Contains(text, leak) {
			t.Errorf("%s in the quarantine:\n%s", leak, text)
		}
	}
	for _, want := range []string{`customer_id="pseudo(K1)"`, `customer_id="pseudo(K3)"`, "birth_date=" + Withheld, "city=" + Withheld,
		`gender="f"`, "CSV row has 7 fields, header has 6: row text " + Withheld} {
		if !strings.Contains(text, want) {
			t.Errorf("%q not in the quarantine:\n%s", want, text)
		}
	}
	if got := strings.Join(q.CustomerID, ","); got != "pseudo(K1),,,pseudo(K1),pseudo(K3)" {
		t.Errorf("customer ids %s", got)
	}

	// The zero view shows rows as read, cells as written.
	spec.Quarantine = QuarantineView{}
	ds, err = Stream(context.Background(), spec, 1, &collector{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`customer_id="k1"`, `city="Springfield"`, `birth_date="1980-05-17"`, "Shelbyville"} {
		if !strings.Contains(quarantineText(&ds.Quarantine), want) {
			t.Errorf("%q not in the plain quarantine:\n%s", want, quarantineText(&ds.Quarantine))
		}
	}

	// HideRaw withholds one table's malformed rows (contact fields may be
	// in them) and nothing else.
	spec.Quarantine = QuarantineView{HideRaw: map[string]bool{"customers": true}}
	ds, err = Stream(context.Background(), spec, 1, &collector{})
	if err != nil {
		t.Fatal(err)
	}
	text = quarantineText(&ds.Quarantine)
	if strings.Contains(text, "Shelbyville") || !strings.Contains(text, "row text "+Withheld) || !strings.Contains(text, `city="Springfield"`) {
		t.Errorf("HideRaw customers:\n%s", text)
	}
}

func mustDay(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}
