package extract

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// pqLine is an order line as Shopify writes it: customer and time on an
// order's first line only.
type pqLine struct {
	Inv  string  `parquet:"inv"`
	Cust *string `parquet:"cust,optional"`
	TS   *string `parquet:"ts,optional"`
	Amt  float64 `parquet:"amt"`
}

// fillDownRun streams the objects with line grain and returns the orders
// and the quarantined rows, each as text, sorted.
func fillDownRun(t *testing.T, objects map[string][]byte, workers int) (orders, quarantined []string, bad map[string]int64) {
	t.Helper()
	b := objstore.NewMem()
	for key, body := range objects {
		if err := b.Upload(context.Background(), key, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	cols := map[string]string{"order_id": "inv", "customer_id": "cust", "order_ts": "ts", "amount": "amt"}
	spec := Spec{AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC),
		Orders: Table{Bucket: b, Prefix: "orders", Columns: cols}, Rules: &Rules{Lines: true}}
	var c lineSink
	ds, err := Stream(context.Background(), spec, workers, &c)
	if err != nil {
		t.Fatal(err)
	}
	q := &ds.Quarantine
	for i := range q.Len() {
		quarantined = append(quarantined, fmt.Sprintf("%s:%d %s", q.Key[i], q.Row[i], q.Reason[i]))
	}
	slices.Sort(c.rows)
	slices.Sort(quarantined)
	return c.rows, quarantined, ds.Quality.Bad["orders"]
}

// TestFillDownAcrossUnits: order-level fields are filled down within a
// Parquet row group and a CSV object, never across units, which workers
// read in parallel: a line that starts a row group or an object with
// neither customer nor time is quarantined as unfilled_order_line (not
// taken for a guest order), and every worker count gives the same orders
// and quarantine. Before, a worker that happened to read the row group
// before carried its last line over, so the result depended on timing.
func TestFillDownAcrossUnits(t *testing.T) {
	s := func(v string) *string { return &v }
	ts := s("2024-03-01T10:00:00Z")
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[pqLine](&buf, parquet.MaxRowsPerRowGroup(3))
	rows := []pqLine{
		{"A", s("1"), ts, 1}, {"A", nil, nil, 2}, {"B", s("2"), ts, 3}, // group 0: A's second line filled
		{"B", nil, nil, 4}, {"B", nil, nil, 5}, {"C", s("3"), ts, 6}, // group 1 opens with B's lines
		{"D", s("4"), ts, 7}, {"D", nil, nil, 8}, {"G", nil, s("2024-03-02T10:00:00Z"), 9}, // G: a guest
		{"E", nil, s("2024-03-03T10:00:00Z"), 10}, // group 3 opens with a guest: has its time
	}
	for _, r := range rows {
		// One row a write, so that row groups end where MaxRowsPerRowGroup says.
		if _, err := w.Write([]pqLine{r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil || len(f.RowGroups()) != 4 {
		t.Fatalf("fixture: %v row groups, err %v; want 4", len(f.RowGroups()), err)
	}
	// Two CSV objects: the second opens with a line of the first's last
	// order, and a later order's second line is filled within it.
	a := "inv,cust,ts,amt\nF,5,2024-03-04T10:00:00Z,11\nF,,,12\n"
	b := "inv,cust,ts,amt\nF,,,13\nH,6,2024-03-05T10:00:00Z,14\nH,,,15\n"
	objects := map[string][]byte{"orders/lines.parquet": buf.Bytes(), "orders/more/a.csv": []byte(a), "orders/more/b.csv": []byte(b)}

	wantOrders := []string{"1 3 false 03-01T10", "2 3 false 03-01T10", "3 6 false 03-01T10", "4 15 false 03-01T10",
		"5 23 false 03-04T10", "6 29 false 03-05T10"}
	wantQuar := []string{"orders/lines.parquet:3 unfilled_order_line", "orders/lines.parquet:4 unfilled_order_line",
		"orders/more/b.csv:0 unfilled_order_line"}
	for _, workers := range []int{1, 2, 4} {
		orders, quar, bad := fillDownRun(t, objects, workers)
		if !slices.Equal(orders, wantOrders) {
			t.Errorf("workers %d: orders\n%s\nwant\n%s", workers, strings.Join(orders, "\n"), strings.Join(wantOrders, "\n"))
		}
		if !slices.Equal(quar, wantQuar) || bad[ReasonUnfilledLine] != 3 {
			t.Errorf("workers %d: quarantined %v (bad %v), want %v", workers, quar, bad, wantQuar)
		}
	}
}

// TestFillDownAcrossBatches: within one unit, a CSV object or a Parquet
// row group larger than a batch (65,536 rows), a line whose order began
// in the batch before is filled from it.
func TestFillDownAcrossBatches(t *testing.T) {
	const n = 1 << 16 // the first batch's rows: the last order straddles it
	s := func(v string) *string { return &v }
	var csv strings.Builder
	csv.WriteString("inv,cust,ts,amt\n")
	var lines []pqLine
	for i := range n - 1 {
		fmt.Fprintf(&csv, "O%d,%d,2024-03-01T10:00:00Z,1\n", i, i)
		lines = append(lines, pqLine{fmt.Sprintf("O%d", i), s(fmt.Sprint(i)), s("2024-03-01T10:00:00Z"), 1})
	}
	csv.WriteString("S,straddler,2024-03-02T10:00:00Z,5\nS,,,7\nS,,,9\n")
	lines = append(lines, pqLine{"S", s("straddler"), s("2024-03-02T10:00:00Z"), 5}, pqLine{"S", nil, nil, 7}, pqLine{"S", nil, nil, 9})
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[pqLine](&buf, parquet.MaxRowsPerRowGroup(1<<20))
	if _, err := w.Write(lines); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for name, obj := range map[string][]byte{"orders/o.csv": []byte(csv.String()), "orders/o.parquet": buf.Bytes()} {
		for _, workers := range []int{1, 3} {
			orders, quar, _ := fillDownRun(t, map[string][]byte{name: obj}, workers)
			if len(orders) != n || len(quar) != 0 || !slices.Contains(orders, "straddler 21 false 03-02T10") {
				t.Errorf("%s, workers %d: %d orders, quarantined %v; want %d, none, and straddler's 5+7+9", name, workers, len(orders), quar, n)
			}
		}
	}
}
