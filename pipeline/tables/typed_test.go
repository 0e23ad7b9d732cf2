package tables

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// typedRow covers the physical types and encodings the typed decoder has
// fast paths for, each with nulls where the type allows.
type typedRow struct {
	IDInt   int64   `parquet:"id_int"`
	IDDict  string  `parquet:"id_dict,dict"`
	IDPlain string  `parquet:"id_plain"`
	OptStr  *string `parquet:"opt_str,optional,dict"`
	OptPlan *string `parquet:"opt_plain,optional"`
	Amount  float64 `parquet:"amount"`
	AmtDict float64 `parquet:"amt_dict,dict"`
	OptAmt  *float64
	F32     float32   `parquet:"f32"`
	I32     int32     `parquet:"i32"`
	Epoch   int64     `parquet:"epoch_s"`
	EpochMs *int64    `parquet:"epoch_ms,optional"`
	TsMilli time.Time `parquet:"ts_ms,timestamp(millisecond)"`
	Day     int32     `parquet:"day,date"`
	Flag    *bool     `parquet:"flag,optional"`
	Text    string    `parquet:"text_num"`
}

func sp(s string) *string     { return &s }
func fp(f float64) *float64   { return &f }
func ip(i int64) *int64       { return &i }
func bp(b bool) *bool         { return &b }
func (r typedRow) day() int64 { return int64(r.Day) * 86_400_000_000 }

func typedRows(n int) []typedRow {
	rows := make([]typedRow, n)
	base := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for i := range rows {
		r := typedRow{
			IDInt: int64(1000 + i), IDDict: fmt.Sprintf("C%03d", i%7), IDPlain: fmt.Sprintf("P%05d", i),
			Amount: float64(i) + 0.25, AmtDict: float64(i%5) * 1.5, F32: float32(i) / 4, I32: int32(-i),
			Epoch: base.Unix() + int64(i)*3600, TsMilli: base.Add(time.Duration(i) * time.Millisecond),
			Day: int32(19000 + i), Text: fmt.Sprint(i * 3),
		}
		if i%3 != 0 {
			r.OptStr, r.OptPlan, r.OptAmt = sp(fmt.Sprintf("lvl%d", i%4)), sp(fmt.Sprintf("x%d", i)), fp(float64(i)/8)
			r.EpochMs, r.Flag = ip(base.UnixMilli()+int64(i)), bp(i%2 == 0)
		}
		if i%10 == 9 {
			r.Text = "n/a"
		}
		rows[i] = r
	}
	return rows
}

func writeTyped(t *testing.T, rows []typedRow, perGroup int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[typedRow](&buf, parquet.MaxRowsPerRowGroup(int64(perGroup)), parquet.PageBufferSize(512))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var typedFields = []Field{
	{Name: "id_int", Kind: Key},
	{Name: "id_dict", Kind: Key},
	{Name: "id_plain", Kind: String},
	{Name: "opt_str", Kind: String},
	{Name: "opt_plain", Kind: String},
	{Name: "amount", Kind: Float},
	{Name: "amt_dict", Kind: Float},
	{Name: "OptAmt", Kind: Float},
	{Name: "f32", Kind: Float},
	{Name: "i32", Kind: Int},
	{Name: "epoch", Kind: Time},
	{Name: "epoch_ms", Kind: Time},
	{Name: "ts_ms", Kind: Time},
	{Name: "day", Kind: Time},
	{Name: "flag", Kind: Bool},
	{Name: "text_num", Kind: Float},
}

// TestTypedParquetDecoding reads every pairing through the typed paths,
// over row groups and pages of several sizes, and checks each cell
// against the rows written.
func TestTypedParquetDecoding(t *testing.T) {
	rows := typedRows(1000)
	b := objstore.NewMem()
	upload(t, b, "t/a.parquet", writeTyped(t, rows, 300))
	src := &Source{Bucket: b, Prefix: "t", Fields: typedFields,
		Columns: map[string]string{"epoch": "epoch_s:epoch_s", "epoch_ms": "epoch_ms:epoch_ms"}}
	i := 0
	sawCodes := false
	err := src.Scan(context.Background(), func(bt *Batch) error {
		c := bt.Cols
		if c[0].Kind != Int || c[1].Kind != String {
			t.Fatalf("key kinds %v %v, want int and string", c[0].Kind, c[1].Kind)
		}
		if c[1].Codes != nil {
			sawCodes = true
			for j := range bt.N {
				if c[1].Dict[c[1].Codes[j]] != c[1].Str[j] {
					t.Fatalf("dictionary code of row %d does not match its string", j)
				}
			}
		}
		for j := 0; j < bt.N; j, i = j+1, i+1 {
			r := rows[i]
			check := func(name string, got, want any) {
				if !reflect.DeepEqual(got, want) {
					t.Errorf("row %d %s: got %v, want %v", i, name, got, want)
				}
			}
			check("id_int", c[0].I[j], r.IDInt)
			check("id_dict", c[1].Str[j], r.IDDict)
			check("id_plain", c[2].Str[j], r.IDPlain)
			check("amount", c[5].F[j], r.Amount)
			check("amt_dict", c[6].F[j], r.AmtDict)
			check("f32", c[8].F[j], float64(r.F32))
			check("i32", c[9].I[j], int64(r.I32))
			check("epoch", c[10].I[j], r.Epoch*1_000_000)
			check("ts_ms", c[12].I[j], r.TsMilli.UnixMicro())
			check("day", c[13].I[j], r.day())
			if r.OptStr == nil {
				check("opt nulls", [5]bool{c[3].IsNull(j), c[4].IsNull(j), c[7].IsNull(j), c[11].IsNull(j), c[14].IsNull(j)}, [5]bool{true, true, true, true, true})
				if c[3].Codes != nil && c[3].Codes[j] != -1 {
					t.Errorf("row %d: null with code %d", i, c[3].Codes[j])
				}
			} else {
				check("opt_str", c[3].Str[j], *r.OptStr)
				check("opt_plain", c[4].Str[j], *r.OptPlan)
				check("OptAmt", c[7].F[j], *r.OptAmt)
				check("epoch_ms", c[11].I[j], *r.EpochMs*1000)
				check("flag", c[14].B[j], *r.Flag)
			}
			if r.Text == "n/a" {
				check("bad text", [2]any{c[15].IsBad(j), c[15].BadRaw[j]}, [2]any{true, "n/a"})
			} else {
				check("text_num", c[15].F[j], float64(3*(i)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != len(rows) {
		t.Errorf("read %d rows of %d", i, len(rows))
	}
	if !sawCodes {
		t.Error("a dictionary-encoded string column came without its codes")
	}
}

// TestUnitsInParallel: reading the units of a table concurrently gives
// every row once, with the right first-row numbers.
func TestUnitsInParallel(t *testing.T) {
	b := objstore.NewMem()
	rows := typedRows(700)
	upload(t, b, "t/a.parquet", writeTyped(t, rows[:400], 128))
	upload(t, b, "t/b.parquet", writeTyped(t, rows[400:], 128))
	src := &Source{Bucket: b, Prefix: "t", Fields: typedFields[:1]}
	var units []Unit
	if err := src.Units(context.Background(), func(u Unit) error { units = append(units, u); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(units) != 7 || units[4].Key != "t/b.parquet" || units[3].FirstRow != 384 || units[3].Rows != 16 || units[6].Rows != 44 {
		t.Fatalf("units %+v", units)
	}
	seen := make([]int, len(rows))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := src.ReadUnit(context.Background(), u, &Batch{}, func(bt *Batch) error {
				mu.Lock()
				defer mu.Unlock()
				for j := range bt.N {
					seen[bt.Cols[0].I[j]-1000]++
					if bt.Cols[0].I[j] != rows[int(bt.FirstRow)+j+map[string]int{"t/a.parquet": 0, "t/b.parquet": 400}[bt.Key]].IDInt {
						t.Errorf("%s row %d out of place", bt.Key, bt.FirstRow+int64(j))
					}
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("row %d read %d times", i, n)
		}
	}
}

func TestInspect(t *testing.T) {
	b := objstore.NewMem()
	upload(t, b, "t/a.parquet", writeTyped(t, typedRows(50), 20))
	in, err := (&Source{Bucket: b, Prefix: "t", Fields: typedFields[:2]}).Inspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in.Rows != 50 || !in.IntKeys["id_int"] || in.IntKeys["id_dict"] || in.KeyRange["id_int"] != [2]int64{1000, 1049} {
		t.Errorf("inspection %+v", in)
	}
	upload(t, b, "t/b.csv", []byte("id_int,id_dict\n7,x\n"))
	in, err = (&Source{Bucket: b, Prefix: "t", Fields: typedFields[:2]}).Inspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in.Rows != -1 || in.IntKeys["id_int"] || len(in.KeyRange) != 0 {
		t.Errorf("with a CSV object: %+v", in)
	}
}

func TestEpochUnits(t *testing.T) {
	for _, c := range []struct {
		spec string
		name string
		unit TimeUnit
	}{{"ts", "ts", NoUnit}, {"ts:epoch_s", "ts", EpochSeconds}, {"a:b:epoch_ms", "a:b", EpochMillis},
		{"ts:epoch_us", "ts", EpochMicros}, {"ts:epoch_ns", "ts", EpochNanos}, {"ts:epoch_h", "ts:epoch_h", NoUnit}} {
		if n, u := SplitColumn(c.spec); n != c.name || u != c.unit {
			t.Errorf("SplitColumn(%q) = %q, %v", c.spec, n, u)
		}
	}
	want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro()
	csv := "ts_s,ts_ms,ts_ns,text\n1704164645,1704164645000,1704164645000000999,2024-01-02T03:04:05Z\n"
	b := objstore.NewMem()
	upload(t, b, "c/x.csv", []byte(csv))
	src := &Source{Bucket: b, Prefix: "c", Fields: []Field{{Name: "a", Kind: Time}, {Name: "b", Kind: Time}, {Name: "c", Kind: Time}, {Name: "d", Kind: Time}},
		Columns: map[string]string{"a": "ts_s:epoch_s", "b": "ts_ms:epoch_ms", "c": "ts_ns:epoch_ns", "d": "text:epoch_s"}}
	for _, bt := range scanAll(t, src) {
		for k := range 4 {
			if bt.Cols[k].I[0] != want {
				t.Errorf("column %d: %v, want %v", k, time.UnixMicro(bt.Cols[k].I[0]).UTC(), time.UnixMicro(want).UTC())
			}
		}
	}
	// An integer column without a unit is refused, and the message says
	// how to give one.
	var buf bytes.Buffer
	if err := WriteParquet(&buf, []OutColumn{{Name: "ts", Type: OutInt64, I64: []int64{1}}}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	upload(t, b, "p/x.parquet", buf.Bytes())
	err := (&Source{Bucket: b, Prefix: "p", Fields: []Field{{Name: "ts", Kind: Time, Required: true}}}).CheckSchema(context.Background())
	var se *SchemaError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), `"column:epoch_s"`) {
		t.Errorf("got %v", err)
	}
	if err := (&Source{Bucket: b, Prefix: "p", Fields: []Field{{Name: "ts", Kind: Time, Required: true}},
		Columns: map[string]string{"ts": "ts:epoch_ms"}}).CheckSchema(context.Background()); err != nil {
		t.Errorf("with a unit: %v", err)
	}
}

func TestMicrosFloat(t *testing.T) {
	if us, ok := EpochSeconds.microsFloat(1.5); !ok || us != 1_500_000 {
		t.Errorf("1.5 s = %d µs", us)
	}
	if _, ok := EpochSeconds.microsFloat(math.NaN()); ok {
		t.Error("NaN accepted")
	}
}

// nullRow has optional columns read through each decoding path: plain
// values (spread over the nulls), dictionary codes, and text parsed as a
// number (the boxed path).
type nullRow struct {
	ID    int64    `parquet:"id"`
	Plain *float64 `parquet:"plain,optional"`
	Dict  *float64 `parquet:"dict,dict,optional"`
	Text  *string  `parquet:"text,optional"`
	Epoch *int64   `parquet:"epoch,optional"`
}

// TestNullsAfterValuesAreZero: decode buffers are reused from one row
// group to the next without being cleared first, so a null must be
// written as zero by every path, or it would show the value the previous
// group held in its row.
func TestNullsAfterValuesAreZero(t *testing.T) {
	const group = 64
	var rows []nullRow
	want := 0
	for i := range 2 * group {
		r := nullRow{ID: int64(i)}
		if i >= group && i%3 == 0 {
			want += 4
		} else {
			v, s, e := float64(i)+0.5, fmt.Sprint(i+1), int64(1.7e9+i)
			r.Plain, r.Dict, r.Text, r.Epoch = &v, fp(float64(i%4)+1), &s, &e
		}
		rows = append(rows, r)
	}
	data := writeParquet(t, rows, parquet.MaxRowsPerRowGroup(group))
	b := objstore.NewMem()
	upload(t, b, "t/part-0.parquet", data)
	src := &Source{Bucket: b, Prefix: "t/", Columns: map[string]string{"epoch": "epoch:epoch_s"}, Fields: []Field{
		{Name: "id", Kind: Int, Required: true}, {Name: "plain", Kind: Float}, {Name: "dict", Kind: Float},
		{Name: "text", Kind: Float}, {Name: "epoch", Kind: Time}}}
	nulls := 0
	err := src.Scan(context.Background(), func(bt *Batch) error {
		for i := range bt.N {
			id := bt.Cols[0].I[i]
			for f := 1; f < len(bt.Cols); f++ {
				c := &bt.Cols[f]
				null := id >= group && id%3 == 0
				if c.IsNull(i) != null {
					return fmt.Errorf("row %d column %d: null %v, want %v", id, f, c.IsNull(i), null)
				}
				if !null {
					continue
				}
				nulls++
				if c.Kind == Float && c.F[i] != 0 {
					return fmt.Errorf("row %d column %d: null holds %v, want 0", id, f, c.F[i])
				}
				if c.Kind == Time && c.I[i] != 0 {
					return fmt.Errorf("row %d column %d: null holds %v, want 0", id, f, c.I[i])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if nulls != want {
		t.Errorf("%d null cells checked, want %d", nulls, want)
	}
}

// directRow has the column kinds directPage decodes: integers, doubles
// (plain and dictionary-coded), epoch seconds and millisecond timestamps,
// every one optional so that some row groups have nulls (which parquet-go
// reads) between others that have none.
type directRow struct {
	ID    *int64     `parquet:"id,optional"`
	Amt   *float64   `parquet:"amt,optional"`
	Price *float64   `parquet:"price,dict,optional"`
	Qty   *int32     `parquet:"qty,optional"`
	Epoch *int64     `parquet:"epoch,optional"`
	TS    *time.Time `parquet:"ts,optional,timestamp(millisecond)"`
}

// TestDirectPagesEqualPageReader: row groups whose columns are one page
// each are decoded by directPage, the page's values viewed where the
// kinds agree; the cells are those parquet-go's page reader gives for the
// same rows in small pages, for data page versions 1 and 2, uncompressed
// and zstd, across groups that switch between the two readers (nulls),
// with a batch reused throughout. An epoch beyond what microseconds hold
// is a bad cell either way.
func TestDirectPagesEqualPageReader(t *testing.T) {
	const group = 500
	var rows []directRow
	for i := range 4 * group {
		id, amt, price, qty, ep := int64(7*i), float64(i)/3, float64(i%13)/4, int32(i%9), int64(1.7e9)+int64(i)
		if i == 3 {
			ep = 1 << 62 // a bad cell in a viewed page
		}
		ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
		r := directRow{ID: &id, Amt: &amt, Price: &price, Qty: &qty, Epoch: &ep, TS: &ts}
		if i/group%2 == 1 && i%5 == 0 { // groups 1 and 3 have nulls
			r = directRow{}
		}
		rows = append(rows, r)
	}
	fields := []Field{{Name: "id", Kind: Int}, {Name: "amt", Kind: Float}, {Name: "price", Kind: Float},
		{Name: "qty", Kind: Int}, {Name: "epoch", Kind: Time}, {Name: "ts", Kind: Time}}
	render := func(opts ...parquet.WriterOption) (cells []string, viewed int) {
		b := objstore.NewMem()
		upload(t, b, "t/part-0.parquet", writeParquet(t, rows, append(opts, parquet.MaxRowsPerRowGroup(group))...))
		src := &Source{Bucket: b, Prefix: "t/", Columns: map[string]string{"epoch": "epoch:epoch_s"}, Fields: fields}
		err := src.Scan(context.Background(), func(bt *Batch) error {
			for f := range bt.Cols {
				if bt.Cols[f].viewed {
					viewed++
				}
			}
			for i := range bt.N {
				cells = append(cells, rowText(bt, i))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return cells, viewed
	}
	for _, version := range []int{1, 2} {
		for _, codec := range []compress.Codec{&parquet.Uncompressed, &parquet.Zstd} {
			name := fmt.Sprintf("v%d %s", version, codec)
			small, none := render(parquet.DataPageVersion(version), parquet.Compression(codec), parquet.PageBufferSize(256))
			whole, viewed := render(parquet.DataPageVersion(version), parquet.Compression(codec), parquet.PageBufferSize(1<<20))
			// id, amt, epoch and ts are viewed in the groups without
			// nulls; price is dictionary-coded and qty int32, converted.
			if none != 0 || viewed != 2*4 {
				t.Fatalf("%s: %d columns viewed from small pages, %d from whole ones; want 0 and 8", name, none, viewed)
			}
			if len(whole) != len(rows) || !slices.Equal(whole, small) {
				for i := range min(len(whole), len(small)) {
					if whole[i] != small[i] {
						t.Fatalf("%s: row %d\n direct %s\n reader %s", name, i, whole[i], small[i])
					}
				}
				t.Fatalf("%s: %d rows decoded directly, %d by the page reader", name, len(whole), len(small))
			}
			if !strings.Contains(whole[3], `|true true "4611686018427387904" "4611686018427387904"`) {
				t.Errorf("%s: row 3: %s, want the epoch a bad cell", name, whole[3])
			}
		}
	}
}
