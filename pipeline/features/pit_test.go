package features

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
)

func memSpec(t *testing.T, files map[string]string, asOf time.Time, loc *time.Location) extract.Spec {
	t.Helper()
	b := objstore.NewMem()
	for k, v := range files {
		if err := b.Upload(context.Background(), k, bytes.NewReader([]byte(v))); err != nil {
			t.Fatal(err)
		}
	}
	spec := extract.Spec{AsOf: asOf, Location: loc,
		Orders: extract.Table{Bucket: b, Prefix: "orders", Columns: map[string]string{"order_ts": "ts", "amount": "amt"}}}
	if _, ok := files["customers/a.csv"]; ok {
		spec.Customers = &extract.Table{Bucket: b, Prefix: "customers", Columns: map[string]string{"updated_at": "updated"}}
	}
	return spec
}

// TestLatestVersionWins: of a customer's rows, the one with the latest
// updated_at at or before the as-of date wins, wherever it is in the
// input; a tie goes to the later row (file order, then row order); rows
// updated after the date are never seen.
func TestLatestVersionWins(t *testing.T) {
	files := map[string]string{
		"customers/a.csv": "customer_id,updated,city,income\n" +
			"x,2024-05-01,Late,500\n" + // latest before D, but first in the input
			"x,2024-02-01,Early,100\n" +
			"y,2024-03-01,First,1\n" +
			"z,2024-03-01,Z1,1\n" +
			"z,2024-08-01,Future,1\n", // after D
		"customers/b.csv": "customer_id,updated,city,income\n" +
			"y,2024-03-01,Second,2\n", // same instant as y's first row, later file
		"orders/o.csv": "customer_id,ts,amt\nx,2024-01-01T00:00:00Z,1\n",
	}
	ds, set, err := Run(context.Background(), memSpec(t, files, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	inc, _ := set.Table.Col("income")
	want := map[string]float64{"x": 500, "y": 2, "z": 1}
	for id, w := range want {
		i, ok := ds.Index(id)
		if !ok || inc.Value(int(i)) != w {
			t.Errorf("%s: income %v, want %v", id, inc.Value(int(i)), w)
		}
	}
	if ds.Quality.Excluded["customers"][extract.ExcludedVersionAfter] != 1 {
		t.Errorf("excluded %v", ds.Quality.Excluded)
	}
	// Frequency encoding counts current versions only: Late, Second, Z1.
	city, _ := set.Table.Col("city_freq")
	for id := range want {
		i, _ := ds.Index(id)
		if v := city.Value(int(i)); v != 1.0/3 {
			t.Errorf("%s: city_freq %v, want 1/3", id, v)
		}
	}
}

// TestTimeZone: the as-of day ends at midnight in the run's zone, and days
// (recency, windows, gaps) are that zone's calendar days.
func TestTimeZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"orders/o.csv": "customer_id,ts,amt\n" +
		"a,2024-07-01T02:00:00Z,10\n" + // 22:00 on June 30 in New York: in, recency 0
		"a,2024-07-01T05:00:00Z,99\n" + // 01:00 on July 1 in New York: after D
		"a,2024-06-01T03:00:00Z,5\n" + // 23:00 on May 31 in New York
		"b,2024-06-01T05:00:00Z,1\n"} // 01:00 on June 1 in New York: 29 days before D
	ds, set, err := Run(context.Background(), memSpec(t, files, time.Date(2024, 6, 30, 0, 0, 0, 0, ny), ny), Options{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name, id string, want float64) {
		t.Helper()
		col, _ := set.Table.Col(name)
		i, _ := ds.Index(id)
		if got := col.Value(int(i)); got != want {
			t.Errorf("%s[%s] = %v, want %v", name, id, got, want)
		}
	}
	check("frequency", "a", 2)
	check("recency_days", "a", 0)
	check("gap_mean_days", "a", 30) // May 31 to June 30
	check("orders_30d", "a", 1)     // the window is June 1 to 30 in New York
	check("orders_30d", "b", 1)
	check("recency_days", "b", 29)
	if ds.Quality.Excluded["orders"][extract.ExcludedAfterAsOf] != 1 {
		t.Errorf("excluded %v", ds.Quality.Excluded)
	}
}
