package tables

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// windowRow is a typical orders file without a list column: text ids and
// channels dictionary-encoded, optional amounts, flags and epoch seconds
// (some beyond what microseconds hold, so bad cells too), millisecond
// timestamps.
type windowRow struct {
	CustID   string    `parquet:"cust_id,dict"`
	OrderTS  time.Time `parquet:"order_ts,timestamp(millisecond)"`
	Amount   *float64  `parquet:"amount,optional"`
	Quantity int32     `parquet:"quantity"`
	IsRefund *bool     `parquet:"is_refund,optional"`
	Signup   *int64    `parquet:"signup_epoch,optional"`
	Channel  *string   `parquet:"channel,dict,optional"`
}

var windowFields = []Field{
	{Name: "customer_id", Kind: Key, Required: true},
	{Name: "order_ts", Kind: Time, Required: true},
	{Name: "amount", Kind: Float},
	{Name: "quantity", Kind: Int},
	{Name: "is_refund", Kind: Bool},
	{Name: "signup", Kind: Time},
	{Name: "channel", Kind: String},
}

// renderRows reads src and renders every row's cells (value, null, bad
// and raw text) by its row number in the object, checking on the way that
// batches hold at most max rows, follow each other without a gap, and
// that dictionary codes name the row's text.
func renderRows(t *testing.T, src *Source, max int) (rows []string, batches, coded int) {
	t.Helper()
	next := int64(0)
	err := src.Scan(context.Background(), func(b *Batch) error {
		batches++
		if b.N > max {
			return fmt.Errorf("batch of %d rows, at most %d wanted", b.N, max)
		}
		if b.FirstRow != next {
			return fmt.Errorf("batch starts at row %d, want %d", b.FirstRow, next)
		}
		next += int64(b.N)
		for i := range b.N {
			for f := range b.Cols {
				c := &b.Cols[f]
				if c.Codes != nil {
					coded++
					switch code := c.Codes[i]; {
					case code < 0 && !c.IsNull(i), code >= 0 && c.Dict[code] != c.Str[i]:
						return fmt.Errorf("row %d %s: code %d for %q", b.FirstRow+int64(i), windowFields[f].Name, code, c.Str[i])
					}
				}
			}
			rows = append(rows, rowText(b, i))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows, batches, coded
}

// rowText renders row i of b's cells: null, bad, text and raw text each.
func rowText(b *Batch, i int) string {
	r := ""
	for f := range b.Cols {
		c := &b.Cols[f]
		raw := ""
		if c.IsBad(i) {
			raw = c.BadRaw[i]
		}
		r += fmt.Sprintf("|%v %v %q %q", c.IsNull(i), c.IsBad(i), c.Text(i), raw)
	}
	return r
}

// TestWindowsEqualWholeRowGroups: a row group larger than BatchRows is
// decoded in windows whose pages straddle their edges; the rows, cells,
// nulls, bad cells and dictionary codes are those of reading each group
// whole, for windows of 1, 7, 100 and 1000 rows.
func TestWindowsEqualWholeRowGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var rows []windowRow
	channels := []string{"web", "store", "app", "phone"}
	for i := range 5000 {
		r := windowRow{
			CustID:   fmt.Sprintf("c%04d", rng.IntN(700)),
			OrderTS:  time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(1e6)) * time.Second),
			Quantity: int32(rng.IntN(9)),
		}
		if i%11 != 0 {
			a := float64(rng.IntN(100000)) / 100
			r.Amount = &a
		}
		if i%5 != 0 {
			f := i%3 == 0
			r.IsRefund = &f
		}
		if i%7 != 0 {
			s := int64(1.7e9 + rng.IntN(1e7))
			if i%97 == 0 {
				s = 1 << 62 // beyond what microseconds can hold: a bad cell
			}
			r.Signup = &s
		}
		if i%13 != 0 {
			r.Channel = &channels[rng.IntN(len(channels))]
		}
		rows = append(rows, r)
	}
	// Small pages, so that every window edge falls inside one; groups
	// of 1,800 rows, the last one shorter.
	data := writeParquet(t, rows, parquet.MaxRowsPerRowGroup(1800), parquet.PageBufferSize(700), parquet.Compression(&parquet.Zstd))
	b := objstore.NewMem()
	upload(t, b, "orders/part-0.parquet", data)
	source := func(batch int) *Source {
		return &Source{Bucket: b, Columns: fuzzParquetColumns, Fields: windowFields, BatchRows: batch}
	}
	whole, wholeBatches, wholeCoded := renderRows(t, source(1<<20), 1<<20)
	if len(whole) != len(rows) || wholeBatches != 3 {
		t.Fatalf("whole groups: %d rows in %d batches, want %d in 3", len(whole), wholeBatches, len(rows))
	}
	all := strings.Join(whole, "")
	if nulls, bads := strings.Count(all, "|true false"), strings.Count(all, "|true true"); nulls < 1000 || bads < 20 || wholeCoded < len(rows) {
		t.Fatalf("the file tests too little: %d null cells, %d bad, %d with dictionary codes", nulls, bads, wholeCoded)
	}
	for _, w := range []int{1, 7, 100, 1000} {
		got, batches, coded := renderRows(t, source(w), w)
		if batches < len(rows)/w {
			t.Errorf("window %d: %d batches for %d rows", w, batches, len(rows))
		}
		if coded < len(rows) {
			t.Errorf("window %d: %d cells with dictionary codes, want at least %d", w, coded, len(rows))
		}
		if len(got) != len(whole) {
			t.Fatalf("window %d: %d rows, want %d", w, len(got), len(whole))
		}
		for i := range got {
			if got[i] != whole[i] {
				t.Fatalf("window %d, row %d:\n got %s\nwant %s", w, i, got[i], whole[i])
			}
		}
	}
}

// TestListColumnGroupsAreWhole: a row group with a list column is one
// batch whatever BatchRows says (lists are read through parquet-go's
// values, a group at a time).
func TestListColumnGroupsAreWhole(t *testing.T) {
	var rows []fuzzRow
	for i := range 50 {
		rows = append(rows, fuzzRow{CustID: fmt.Sprint(i), OrderTS: time.Unix(int64(1.7e9)+int64(i), 0), Interests: []string{"a", "b"}[:i%3%2+1], Channel: "web"})
	}
	b := objstore.NewMem()
	upload(t, b, "orders/part-0.parquet", writeParquet(t, rows, parquet.MaxRowsPerRowGroup(20), parquet.PageBufferSize(64)))
	batches := scanAll(t, &Source{Bucket: b, Columns: fuzzParquetColumns, Fields: fuzzFields, BatchRows: 3})
	var ns []int
	for _, bt := range batches {
		ns = append(ns, bt.N)
	}
	if !slices.Equal(ns, []int{20, 20, 10}) {
		t.Errorf("batches of %v rows, want the groups' 20, 20, 10", ns)
	}
}

// scanUnits reads src unit by unit, as the extract stream does, decoding
// up to workers columns of each whole row group at once.
func scanUnits(ctx context.Context, src *Source, workers int, fn func(*Batch) error) error {
	batch := &Batch{ColumnWorkers: workers}
	var units []Unit
	if err := src.Units(ctx, func(u Unit) error { units = append(units, u); return nil }); err != nil {
		return err
	}
	for i, u := range units {
		if err := src.ReadUnit(ctx, u, batch, fn); err != nil {
			for _, rest := range units[i+1:] {
				rest.Release()
			}
			return err
		}
	}
	return nil
}

// TestColumnWorkersEqualOneAtATime: decoding a row group's columns at
// once, on goroutines of their own, gives the cells of decoding them one
// at a time, for groups read whole below BatchRows and above it (pages
// too large for windows).
func TestColumnWorkersEqualOneAtATime(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var rows []windowRow
	for i := range 3000 {
		r := windowRow{CustID: fmt.Sprintf("c%04d", rng.IntN(500)), Quantity: int32(i % 7),
			OrderTS: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)}
		if i%4 != 0 {
			a := float64(i) / 4
			r.Amount = &a
		}
		if i%9 != 0 {
			s := int64(1.7e9 + i)
			if i%101 == 0 {
				s = 1 << 62
			}
			r.Signup = &s
		}
		rows = append(rows, r)
	}
	data := writeParquet(t, rows, parquet.MaxRowsPerRowGroup(1000), parquet.PageBufferSize(1<<20), parquet.Compression(&parquet.Zstd))
	b := objstore.NewMem()
	upload(t, b, "orders/part-0.parquet", data)
	for _, batchRows := range []int{1 << 20, 400} {
		src := &Source{Bucket: b, Columns: fuzzParquetColumns, Fields: windowFields, BatchRows: batchRows}
		want, _, _ := renderRows(t, src, 1<<20) // pages this large are decoded whole
		var got []string
		err := scanUnits(context.Background(), src, 3, func(bt *Batch) error {
			for i := range bt.N {
				got = append(got, rowText(bt, i))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rows) || !slices.Equal(got, want) {
			t.Fatalf("batch rows %d: %d rows decoded column-parallel differ from %d one column at a time", batchRows, len(got), len(want))
		}
	}
}
