package extract

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// TestQualityCountsBytes: the bytes of CSV rows read, and of the
// quarantined ones, are counted by their text in the file — a line too
// long to hold counts in full — so the gate can weigh them; Parquet
// rows, which have no size of their own, count none.
func TestQualityCountsBytes(t *testing.T) {
	const hdr = "customer_id,order_ts,amount\n"
	long := "b," + strings.Repeat("9", 2<<20) + ",2\n"
	rows := "a,2024-06-01,1\n" + long + "c,2024-06-01,abc\n" + "d,2024-06-01,4\n"
	day := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		key       string
		body      string
		read, bad int64
		badRows   int64
	}{
		{"csv", "orders/o.csv", hdr + rows, int64(len(rows)), int64(len(long) + len("c,2024-06-01,abc\n")), 2},
		{"parquet", "orders/o.parquet", string(pq(t, pqTextAmount{"a", day, "1"}, pqTextAmount{"c", day, "abc"})), 0, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := objstore.NewMem()
			upload(t, b, c.key, c.body)
			spec := Spec{AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), Orders: Table{Bucket: b, Prefix: "orders"}}
			ds, err := Stream(context.Background(), spec, 2, &collector{})
			if err != nil {
				t.Fatal(err)
			}
			q := ds.Quality
			if q.BytesRead["orders"] != c.read || q.BadBytes["orders"] != c.bad || q.BadRows("orders") != c.badRows {
				t.Errorf("bytes read %d, bad %d, bad rows %d; want %d, %d, %d",
					q.BytesRead["orders"], q.BadBytes["orders"], q.BadRows("orders"), c.read, c.bad, c.badRows)
			}
			if q.Published().BytesRead != nil || q.Published().BadBytes != nil {
				t.Error("byte counts in model.json")
			}
		})
	}
}
