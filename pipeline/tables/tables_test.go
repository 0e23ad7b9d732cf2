package tables

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/pipeline/objstore"
)

func upload(t *testing.T, b objstore.Bucket, key string, data []byte) {
	t.Helper()
	if err := b.Upload(context.Background(), key, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func scanAll(t *testing.T, s *Source) []Batch {
	t.Helper()
	var out []Batch
	err := s.Scan(context.Background(), func(b *Batch) error {
		// Batches are reused: keep a deep enough copy for the test.
		c := *b
		c.Cols = make([]Column, len(b.Cols))
		for i, col := range b.Cols {
			c.Cols[i] = col
			c.Cols[i].Str = append([]string(nil), col.Str...)
			c.Cols[i].F = append([]float64(nil), col.F...)
			c.Cols[i].I = append([]int64(nil), col.I...)
			c.Cols[i].B = append([]bool(nil), col.B...)
			c.Cols[i].Null = append([]bool(nil), col.Null...)
			c.Cols[i].Bad = append([]bool(nil), col.Bad...)
			c.Cols[i].BadRaw = append([]string(nil), col.BadRaw...)
			c.Cols[i].L = append([][]string(nil), col.L...)
		}
		c.Malformed = append([]string(nil), b.Malformed...)
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var fields = []Field{
	{Name: "customer_id", Kind: String, Required: true},
	{Name: "order_ts", Kind: Time, Required: true},
	{Name: "amount", Kind: Float, Required: true},
	{Name: "is_refund", Kind: Bool},
	{Name: "channel", Kind: String},
}

func TestParquetRoundTripThroughMapping(t *testing.T) {
	ts := time.Date(2024, 3, 1, 12, 30, 0, 123000, time.UTC).UnixMicro()
	cols := []OutColumn{
		{Name: "cust", Type: OutInt64, I64: []int64{7, 8, 9}}, // numeric ids read as text
		{Name: "when", Type: OutTimestamp, Optional: true, I64: []int64{ts, 0, ts + 1}, Null: []bool{false, true, false}},
		{Name: "amt", Type: OutDouble, Optional: true, F64: []float64{10.5, 0, -3}, Null: []bool{false, true, false}},
		{Name: "refund", Type: OutBool, B: []bool{false, false, true}},
	}
	var buf bytes.Buffer
	if err := WriteParquet(&buf, cols, WriteOptions{RowsPerGroup: 2, Metadata: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	// Independent check of the written schema: column order, logical types.
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fl := range f.Schema().Fields() {
		names = append(names, fl.Name())
	}
	if strings.Join(names, ",") != "cust,when,amt,refund" {
		t.Errorf("column order %v", names)
	}
	if lt := f.Schema().Fields()[1].Type().LogicalType(); lt == nil || !strings.Contains(lt.String(), "TIMESTAMP") {
		t.Errorf("when is %v, want TIMESTAMP", lt)
	}
	if v, _ := f.Lookup("k"); v != "v" {
		t.Errorf("metadata k=%q", v)
	}
	if len(f.RowGroups()) != 2 {
		t.Errorf("%d row groups, want 2", len(f.RowGroups()))
	}

	b := objstore.NewMem()
	upload(t, b, "orders/part-0.parquet", buf.Bytes())
	upload(t, b, "orders/_SUCCESS", []byte("{}"))
	src := &Source{Bucket: b, Prefix: "orders", Fields: fields,
		Columns: map[string]string{"customer_id": "cust", "order_ts": "when", "amount": "amt", "is_refund": "refund"}}
	batches := scanAll(t, src)
	if len(batches) != 2 || batches[0].N != 2 || batches[1].N != 1 || batches[1].FirstRow != 2 {
		t.Fatalf("batches: %d", len(batches))
	}
	b0, b1 := batches[0], batches[1]
	if b0.Cols[0].Str[0] != "7" || b1.Cols[0].Str[0] != "9" {
		t.Errorf("ids %v %v", b0.Cols[0].Str, b1.Cols[0].Str)
	}
	if b0.Cols[1].I[0] != ts || !b0.Cols[1].IsNull(1) || b1.Cols[1].I[0] != ts+1 {
		t.Errorf("timestamps %v nulls %v", b0.Cols[1].I, b0.Cols[1].Null)
	}
	if b0.Cols[2].F[0] != 10.5 || !b0.Cols[2].IsNull(1) || b1.Cols[2].F[0] != -3 {
		t.Errorf("amounts %v", b0.Cols[2].F)
	}
	if !b1.Cols[3].B[0] || b0.Cols[3].B[0] {
		t.Errorf("refund flags")
	}
	if b0.Cols[4].Present {
		t.Error("absent optional column reported present")
	}
}

func TestParquetSchemaErrors(t *testing.T) {
	cols := []OutColumn{
		{Name: "customer_id", Type: OutString, Str: []string{"a"}},
		{Name: "order_ts", Type: OutInt64, I64: []int64{1}}, // no unit: refused
	}
	var buf bytes.Buffer
	if err := WriteParquet(&buf, cols, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	b := objstore.NewMem()
	upload(t, b, "o/a.parquet", buf.Bytes())
	src := &Source{Bucket: b, Prefix: "o", Fields: fields}
	err := src.CheckSchema(context.Background())
	var se *SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("want SchemaError, got %v", err)
	}
	msg := se.Error()
	for _, want := range []string{`column "order_ts" (for order_ts): is INT64, not a timestamp`, `required column "amount" (for amount) not found`} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q missing from %q", want, msg)
		}
	}
	// Scanning fails the same way before calling fn.
	called := false
	if err := src.Scan(context.Background(), func(*Batch) error { called = true; return nil }); !errors.As(err, &se) || called {
		t.Errorf("scan: err %v, called %v", err, called)
	}
}

func TestCSVBadCellsAndMalformedRows(t *testing.T) {
	csv := "\ufeffcust;ts;amt;is_refund\n" +
		"a;2024-01-02T03:04:05Z;12.5;false\n" +
		"b;not-a-date;abc;maybe\n" +
		";2024-01-02;1;\n" +
		"c;20240103;3\n" + // too few fields
		"d;2024-01-03 10:00:00;7;1\n"
	b := objstore.NewMem()
	upload(t, b, "in/orders.csv", []byte(csv))
	src := &Source{Bucket: b, Prefix: "in", Fields: fields, BatchRows: 2, CSV: CSVOptions{Comma: ';'},
		Columns: map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt"}}
	batches := scanAll(t, src)
	if len(batches) != 3 {
		t.Fatalf("%d batches, want 3", len(batches))
	}
	row := func(i int) (*Batch, int) { return &batches[i/2], i % 2 }
	bt, i := row(0)
	if bt.Cols[1].I[i] != time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro() || bt.Cols[2].F[i] != 12.5 {
		t.Error("row 0 values")
	}
	bt, i = row(1)
	if !bt.Cols[1].IsBad(i) || bt.Cols[1].BadRaw[i] != "not-a-date" || !bt.Cols[2].IsBad(i) || !bt.Cols[3].IsBad(i) {
		t.Error("row 1 bad cells not marked")
	}
	bt, i = row(2)
	if !bt.Cols[0].IsNull(i) || bt.Cols[0].IsBad(i) || !bt.Cols[3].IsNull(i) {
		t.Error("row 2: empty id must be null, not bad")
	}
	bt, i = row(3)
	if bt.Malformed == nil || !strings.Contains(bt.Malformed[i], "3 fields, header has 4") {
		t.Errorf("row 3 malformed: %q", bt.Malformed)
	}
	bt, i = row(4)
	if bt.FirstRow != 4 || bt.Cols[0].Str[i] != "d" || !bt.Cols[3].B[i] || bt.Cols[1].I[i] != time.Date(2024, 1, 3, 10, 0, 0, 0, time.UTC).UnixMicro() {
		t.Error("row 4 values")
	}
}

func TestParseTimeLayouts(t *testing.T) {
	want := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).UnixMicro()
	for _, s := range []string{"2024-02-29", "20240229", "2024-02-29T00:00:00Z", "2024-02-29 00:00:00", "2024-02-29T01:00:00+01:00"} {
		got, ok := parseTime(s, nil)
		if !ok || got != want {
			t.Errorf("%q: %v %v", s, got, ok)
		}
	}
	if _, ok := parseTime("02/29/2024", nil); ok {
		t.Error("US date parsed without a layout")
	}
	if got, ok := parseTime("02/29/2024", []string{"01/02/2006"}); !ok || got != want {
		t.Error("extra layout not used")
	}
	if _, ok := parseTime("2024-02-30", nil); ok {
		t.Error("impossible date parsed")
	}
}

func TestEmptyCSVIsSchemaError(t *testing.T) {
	b := objstore.NewMem()
	upload(t, b, "x/empty.csv", nil)
	src := &Source{Bucket: b, Prefix: "x", Fields: fields}
	var se *SchemaError
	if err := src.CheckSchema(context.Background()); !errors.As(err, &se) {
		t.Fatalf("got %v", err)
	}
}

func TestNoInputObjects(t *testing.T) {
	src := &Source{Bucket: objstore.NewMem(), Prefix: "nothing", Fields: fields}
	if err := src.Scan(context.Background(), func(*Batch) error { return nil }); err == nil || !strings.Contains(err.Error(), "no parquet or csv input objects") {
		t.Fatalf("got %v", err)
	}
}

// TestLargeFooter: a footer larger than the optimistic read of an
// object's tail (readBufferSize) is read whole, and the file with it.
func TestLargeFooter(t *testing.T) {
	type row struct {
		ID  int64   `parquet:"id"`
		Amt float64 `parquet:"amt"`
	}
	rows := make([]row, 4000)
	for i := range rows {
		rows[i] = row{int64(i), float64(i) / 2}
	}
	// A row group a row: a footer of some hundred bytes each.
	data := writeParquet(t, rows, parquet.MaxRowsPerRowGroup(1))
	if span := footerSpan(data); span <= readBufferSize {
		t.Fatalf("footer of %d bytes, want more than %d", span, readBufferSize)
	}
	b := objstore.NewMem()
	upload(t, b, "t/part-0.parquet", data)
	src := &Source{Bucket: b, Prefix: "t/", Fields: []Field{{Name: "id", Kind: Int, Required: true}, {Name: "amt", Kind: Float}}}
	n := 0
	err := src.Scan(context.Background(), func(bt *Batch) error {
		for i := range bt.N {
			if id := bt.Cols[0].I[i]; id != int64(n) || bt.Cols[1].F[i] != float64(n)/2 {
				return fmt.Errorf("row %d: id %d amount %v", n, id, bt.Cols[1].F[i])
			}
			n++
		}
		return nil
	})
	if err != nil || n != len(rows) {
		t.Fatalf("read %d rows, want %d: %v", n, len(rows), err)
	}
}
