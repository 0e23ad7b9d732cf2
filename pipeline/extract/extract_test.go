package extract

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
)

const customersCSV = `id,signup,updated
a,2024-01-01,2024-01-01
b,2024-02-01,2024-02-01
c,2024-07-01,2024-07-01
b,2024-02-01,2024-06-15
,2024-01-01,2024-01-01
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
`

func fixture(t *testing.T, extraOrders string) Spec {
	t.Helper()
	b := objstore.NewMem()
	ctx := context.Background()
	if err := b.Upload(ctx, "customers/c.csv", bytes.NewReader([]byte(customersCSV))); err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(ctx, "orders/o.csv", bytes.NewReader([]byte(ordersCSV+extraOrders))); err != nil {
		t.Fatal(err)
	}
	return Spec{
		AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC),
		Orders: Table{Bucket: b, Prefix: "orders",
			Columns: map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt", "is_refund": "refund"}},
		Customers: &Table{Bucket: b, Prefix: "customers",
			Columns: map[string]string{"customer_id": "id", "signup_ts": "signup", "updated_at": "updated"}},
	}
}

func TestExtract(t *testing.T) {
	ds, err := Run(context.Background(), fixture(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	// c signed up after the as-of date; d is known from an order only.
	if want := []string{"a", "b", "d"}; !reflect.DeepEqual(ds.IDs, want) {
		t.Errorf("ids %v, want %v", ds.IDs, want)
	}
	if want := []bool{true, true, false}; !reflect.DeepEqual(ds.Known, want) {
		t.Errorf("known %v", ds.Known)
	}
	if got := len(ds.TxCust); got != 6 {
		t.Errorf("%d transactions, want 6 (o1 o2 o3 o4 o5 o10)", got)
	}
	wantBad := map[string]int64{ReasonMissingCustomerID: 1, ReasonBadTimestamp: 1, ReasonBadAmount: 1, ReasonNegativeAmount: 1}
	if !reflect.DeepEqual(ds.Quality.Bad["orders"], wantBad) {
		t.Errorf("bad orders %v, want %v", ds.Quality.Bad["orders"], wantBad)
	}
	if ds.Quality.Duplicates["orders"] != 1 {
		t.Errorf("duplicates %v", ds.Quality.Duplicates)
	}
	if ds.Quality.Bad["customers"][ReasonMissingCustomerID] != 1 {
		t.Errorf("bad customers %v", ds.Quality.Bad["customers"])
	}
	if ds.Quality.Excluded["customers"]["signup_after_as_of"] != 1 || ds.Quality.Excluded["customers"]["version_after_as_of"] != 0 {
		t.Errorf("excluded customers %v", ds.Quality.Excluded["customers"])
	}
	// Quarantine keeps every rejected row with where it came from.
	if ds.Quarantine.Len() != 6 {
		t.Fatalf("%d quarantined, want 6", ds.Quarantine.Len())
	}
	for i, r := range ds.Quarantine.Reason {
		if r == ReasonBadAmount && (ds.Quarantine.Row[i] != 8 || ds.Quarantine.Key[i] != "orders/o.csv" || ds.Quarantine.CustomerID[i] != "a") {
			t.Errorf("bad-amount record: row %d key %s id %s", ds.Quarantine.Row[i], ds.Quarantine.Key[i], ds.Quarantine.CustomerID[i])
		}
	}
	// The refund is stored negative and flagged.
	var refunds int
	for i, r := range ds.TxRefund {
		if r {
			refunds++
			if ds.TxAmount[i] != -2.5 {
				t.Errorf("refund amount %v", ds.TxAmount[i])
			}
		}
	}
	if refunds != 1 {
		t.Errorf("%d refunds", refunds)
	}
}

// TestPointInTime: records after the as-of date change nothing — not the
// customers, not the transactions, not the counts of bad rows.
func TestPointInTime(t *testing.T) {
	base, err := Run(context.Background(), fixture(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	later := "o11,a,2024-07-01T00:00:00Z,100,false\n" + // first instant after the as-of day
		"o12,e,2024-08-01T00:00:00Z,50,false\n" + // a customer who only exists later
		"o13,b,2024-07-05T00:00:00Z,-3,true\n"
	ds, err := Run(context.Background(), fixture(t, later))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(base.IDs, ds.IDs) || !reflect.DeepEqual(base.TxAmount, ds.TxAmount) ||
		!reflect.DeepEqual(base.TxTime, ds.TxTime) || !reflect.DeepEqual(base.Quality.Bad, ds.Quality.Bad) {
		t.Error("orders after the as-of date changed the dataset")
	}
	if ds.Quality.Excluded["orders"]["after_as_of"] != 3 {
		t.Errorf("excluded %v", ds.Quality.Excluded["orders"])
	}
	// The last microsecond of the as-of day is inside the window (o10).
	if _, ok := ds.Index("d"); !ok {
		t.Error("order at 23:59:59 on the as-of day was excluded")
	}
}

func TestTimezoneMovesTheCutoff(t *testing.T) {
	spec := fixture(t, "")
	// In Tokyo the as-of day ends at 15:00 UTC: o10 (23:59:59 UTC) is after it.
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	spec.Location = tokyo
	ds, err := Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ds.Index("d"); ok {
		t.Error("order after the end of the as-of day in the run's zone was included")
	}
}
