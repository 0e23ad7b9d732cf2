package extract

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
)

type pqDictOrder struct {
	Cust   string    `parquet:"customer_id,dict"`
	TS     time.Time `parquet:"order_ts,timestamp(microsecond)"`
	Amount float64   `parquet:"amount"`
}

// TestSpacedIDsAreErased: with the default id normalisation (what a
// configuration gets), ids are trimmed of surrounding whitespace in the
// data as in the suppression list, so " b" and "b\t" in the inputs
// (CSV and Parquet, plain and dictionary-coded) are the suppressed "b",
// and " a " is the customer "a" of another table.
func TestSpacedIDsAreErased(t *testing.T) {
	day := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		key    string
		orders func(t *testing.T) []byte
	}{
		{"csv", "orders/o.csv", func(*testing.T) []byte {
			return []byte("customer_id,order_ts,amount\n a ,2024-06-01,1\n b,2024-06-01,2\n\"b\t\",2024-06-01,3\na,2024-06-01,4\n")
		}},
		{"parquet", "orders/o.parquet", func(t *testing.T) []byte {
			return pq(t, pqOrder{" a ", day, 1}, pqOrder{" b", day, 2}, pqOrder{"b\t", day, 3}, pqOrder{"a", day, 4})
		}},
		{"parquet dictionary", "orders/o.parquet", func(t *testing.T) []byte {
			return pq(t, pqDictOrder{" a ", day, 1}, pqDictOrder{" b", day, 2}, pqDictOrder{"b\t", day, 3}, pqDictOrder{"a", day, 4})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := objstore.NewMem()
			upload(t, b, c.key, string(c.orders(t)))
			upload(t, b, "erasure/list.csv", "customer_id\nb\n")
			spec := Spec{AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), Orders: Table{Bucket: b, Prefix: "orders"},
				Suppression: &Table{Bucket: b, Prefix: "erasure"}, Rules: &Rules{IDs: DefaultIDs}}
			var col collector
			ds, err := Stream(context.Background(), spec, 1, &col)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, o := range col.orders {
				ids = append(ids, o[:1])
			}
			if want := []string{"a", "a"}; !reflect.DeepEqual(ids, want) {
				t.Errorf("orders of %q (%q), want %q", ids, col.orders, want)
			}
			if got := ds.Quality.Excluded["orders"][ExcludedSuppressed]; got != 2 {
				t.Errorf("suppressed %d rows, want 2", got)
			}
		})
	}
}
