package tables

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// The fuzz targets below feed arbitrary bytes through the real read path —
// an objstore bucket, Source.Inspect, Scan, Units and ReadUnit — with a
// column mapping that asks for every kind of field. Whatever the bytes, a
// read must end, within a time and an allocation budget, either with an
// error that names the object or with batches that keep the Batch
// invariants. The seed corpora live in testdata/fuzz/<Fuzz name>/ and are
// written by TestWriteFuzzSeeds (STRATA_WRITE_FUZZ_SEEDS=1).

// fuzzFields asks for one field of each kind, two of them required.
var fuzzFields = []Field{
	{Name: "customer_id", Kind: Key, Required: true},
	{Name: "order_ts", Kind: Time, Required: true},
	{Name: "amount", Kind: Float},
	{Name: "quantity", Kind: Int},
	{Name: "is_refund", Kind: Bool},
	{Name: "interests", Kind: StringList},
	{Name: "signup", Kind: Time},
	{Name: "channel", Kind: String},
}

// The mappings rename the id and read signup as epoch seconds, so that
// mapped names and time units are on the fuzzed path too.
var (
	fuzzCSVColumns     = map[string]string{"customer_id": "Customer ID", "signup": "signup_epoch:epoch_s"}
	fuzzParquetColumns = map[string]string{"customer_id": "cust_id", "signup": "signup_epoch:epoch_s"}
)

const (
	// fuzzTimeout is how long one read of one small input may take: far
	// more than any seed needs, so only a hang reaches it.
	fuzzTimeout = 10 * time.Second
	// fuzzAllocBudget bounds what reading one input may allocate. The
	// inputs are kilobytes; a reader that sizes buffers by what a
	// corrupt file claims (a row count of 2^40) blows through it.
	fuzzAllocBudget = 256 << 20
)

func FuzzCSVSource(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, semicolon bool) {
		key := "orders/part-0.csv"
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			key += ".gz"
		}
		src := &Source{Format: "auto", Columns: fuzzCSVColumns, Fields: fuzzFields, BatchRows: 5}
		if semicolon {
			src.CSV = CSVOptions{Comma: ';', TimeLayouts: []string{"02/01/2006 15:04"}}
		}
		fuzzRead(t, src, key, data)
	})
}

func FuzzParquetSource(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &Source{Format: "auto", Columns: fuzzParquetColumns, Fields: fuzzFields}
		fuzzRead(t, src, "orders/dt=2024-05-06/part-0.parquet", data)
	})
}

// fuzzRead stores data under key and reads it every way the pipeline
// does, failing on a hang, an allocation past the budget, an error that
// does not name the object, or a batch that breaks the invariants.
func fuzzRead(t *testing.T, src *Source, key string, data []byte) {
	t.Helper()
	b := objstore.NewMem()
	if err := b.Upload(context.Background(), key, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	src.Bucket = b
	before := heapAllocs()
	done := make(chan string, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		done <- readEveryWay(src, key)
	}()
	select {
	case msg := <-done:
		if msg != "" {
			t.Fatal(msg)
		}
	case <-time.After(fuzzTimeout):
		t.Fatalf("reading %d bytes took more than %v", len(data), fuzzTimeout)
	}
	if n := heapAllocs() - before; n > fuzzAllocBudget {
		t.Fatalf("reading %d bytes allocated %d MiB", len(data), n>>20)
	}
}

// readEveryWay reads the object through Inspect, Scan and Units/ReadUnit
// and returns what is wrong, or "".
func readEveryWay(src *Source, key string) string {
	ctx := context.Background()
	in, err := src.Inspect(ctx)
	if err != nil {
		return checkErr("inspect", err, key)
	}
	scanned, err := countRows(src, key, func(fn func(*Batch) error) error { return src.Scan(ctx, fn) })
	if err != nil {
		return checkErr("scan", err, key)
	}
	var batch Batch
	united, err := countRows(src, key, func(fn func(*Batch) error) error {
		return src.Units(ctx, func(u Unit) error { return src.ReadUnit(ctx, u, &batch, fn) })
	})
	if err != nil {
		return checkErr("units", err, key)
	}
	if scanned != united {
		return fmt.Sprintf("Scan read %d rows, Units %d", scanned, united)
	}
	if in.Rows >= 0 && in.Rows != scanned {
		return fmt.Sprintf("footer declares %d rows, %d were read", in.Rows, scanned)
	}
	return ""
}

// checkErr accepts an error that says which object it is about; a
// SchemaError must also say what is wrong.
func checkErr(op string, err error, key string) string {
	if !strings.Contains(err.Error(), key) {
		return fmt.Sprintf("%s: error does not name %s: %v", op, key, err)
	}
	var se *SchemaError
	if errors.As(err, &se) && (se.Key != key || len(se.Problems) == 0) {
		return fmt.Sprintf("%s: schema error without problems: %v", op, err)
	}
	return ""
}

// countRows runs read, checking every batch, and returns the rows seen.
func countRows(src *Source, key string, read func(func(*Batch) error) error) (int64, error) {
	var rows int64
	var bad error
	err := read(func(b *Batch) error {
		if bad = checkBatch(src, key, b, rows); bad != nil {
			return nil
		}
		rows += int64(b.N)
		return nil
	})
	if bad != nil {
		panic(bad.Error()) // a broken invariant, not an input error
	}
	return rows, err
}

// checkBatch verifies what consumers of a batch rely on.
func checkBatch(src *Source, key string, b *Batch, first int64) error {
	if b.Key != key || b.N < 0 || b.FirstRow != first {
		return fmt.Errorf("batch of %s at row %d: key %q, first row %d, %d rows", key, first, b.Key, b.FirstRow, b.N)
	}
	if len(b.Cols) != len(src.Fields) {
		return fmt.Errorf("batch has %d columns for %d fields", len(b.Cols), len(src.Fields))
	}
	if b.Malformed != nil && len(b.Malformed) < b.N {
		return fmt.Errorf("malformed marks for %d of %d rows", len(b.Malformed), b.N)
	}
	for fi, f := range src.Fields {
		c := &b.Cols[fi]
		if !c.Present {
			continue
		}
		if want := f.Kind; c.Kind != want && !(want == Key && (c.Kind == Int || c.Kind == String)) {
			return fmt.Errorf("field %s (%v) read as %v", f.Name, f.Kind, c.Kind)
		}
		var n int
		switch c.Kind {
		case String:
			n = len(c.Str)
		case Float:
			n = len(c.F)
		case Int, Time:
			n = len(c.I)
		case Bool:
			n = len(c.B)
		case StringList:
			n = len(c.L)
		}
		if n < b.N || (c.Null != nil && len(c.Null) < b.N) || (c.Bad != nil && (len(c.Bad) < b.N || len(c.BadRaw) < b.N)) {
			return fmt.Errorf("field %s: %d values, %d null marks, %d bad marks for %d rows", f.Name, n, len(c.Null), len(c.Bad), b.N)
		}
		if c.Codes != nil && len(c.Codes) < b.N {
			return fmt.Errorf("field %s: %d codes for %d rows", f.Name, len(c.Codes), b.N)
		}
		for i := range b.N {
			if c.IsBad(i) && !c.IsNull(i) {
				return fmt.Errorf("field %s row %d: bad but not null", f.Name, i)
			}
			if c.Codes != nil {
				code := c.Codes[i]
				if code < -1 || int(code) >= len(c.Dict) {
					return fmt.Errorf("field %s row %d: code %d of a %d-entry dictionary", f.Name, i, code, len(c.Dict))
				}
				if code >= 0 && (c.IsNull(i) || c.Str[i] != c.Dict[code]) {
					return fmt.Errorf("field %s row %d: code %d does not match %q", f.Name, i, code, c.Str[i])
				}
			}
			_ = c.Text(i)
		}
	}
	return nil
}

func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestWriteFuzzSeeds writes the seed corpora of the fuzz targets above.
// They are committed; rerun with STRATA_WRITE_FUZZ_SEEDS=1 after changing
// the seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("STRATA_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set STRATA_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	for name, data := range csvSeeds() {
		writeSeed(t, "FuzzCSVSource", name, data, false)
		if strings.Contains(name, "semicolon") {
			writeSeed(t, "FuzzCSVSource", name, data, true)
		}
	}
	for name, data := range parquetSeeds(t) {
		writeSeed(t, "FuzzParquetSource", name, data)
	}
}

// writeSeed writes one corpus file in the format of go test -fuzz.
func writeSeed(t *testing.T, target, name string, args ...any) {
	t.Helper()
	var buf strings.Builder
	buf.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&buf, "[]byte(%s)\n", strconv.Quote(string(v)))
		case bool:
			fmt.Fprintf(&buf, "bool(%v)\n", v)
		case string:
			fmt.Fprintf(&buf, "string(%s)\n", strconv.Quote(v))
		default:
			t.Fatalf("seed argument of type %T", a)
		}
	}
	if len(args) == 2 && args[1] == true {
		name += "-semicolon"
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(buf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// csvSeeds are realistic CSV inputs and the ways they go wrong.
func csvSeeds() map[string][]byte {
	const header = "Customer ID,order_ts,amount,quantity,is_refund,interests,signup_epoch,channel\n"
	good := header +
		"C1,2024-05-06T07:08:09Z,12.50,1,false,books|music,1700000000,web\n" +
		"C2,2024-05-06 10:00:00,3,2,true,,1700000001,store\n" +
		"1234567890123,20240506,0.01,,no,\"garden;cooking\",,app\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(good))
	zw.Close()
	s := map[string][]byte{
		"valid":           []byte(good),
		"valid-gzip":      gz.Bytes(),
		"empty":           nil,
		"header-only":     []byte(header),
		"header-no-nl":    []byte(strings.TrimSuffix(header, "\n")),
		"bom-crlf":        []byte("\ufeff" + strings.ReplaceAll(good, "\n", "\r\n")),
		"bom-quoted":      []byte("\ufeff\"" + strings.ReplaceAll(strings.TrimSuffix(header, "\n"), ",", "\",\"") + "\"\r\n\"C1\",\"2024-05-06\",\"1\",\"1\",\"f\",\"\",\"1\",\"web\"\r\n"),
		"truncated":       []byte(good[:len(good)-30]),
		"wrong-types":     []byte(header + "C1,yesterday,twelve,1.5,maybe,,soon,web\nC2,1714979289,1e999,9223372036854775808,2,,abc,\n"),
		"odd-quoting":     []byte(header + "\"C\"\"1\",\"2024-05-06\",\"1,5\",1,false,\"a|b\",1,\"multi\nline\"\n\"unterminated,2024-05-06,1,1,f,,1,x\n"),
		"ragged":          []byte(header + "C1,2024-05-06\nC2,2024-05-06,1,1,f,,1,x,extra,fields\n,,,,,,,\n"),
		"huge-numbers":    []byte(header + "C1,2024-05-06,1e308,4611686018427387904,true,,9223372036854775807,web\nC2,9999-12-31T23:59:59Z,-1e308,-9223372036854775808,false,,-9223372036854775808,\nC3,0001-01-01,NaN,1e19,1,,Inf,\n"),
		"unicode":         []byte(header + "客户-一,2024-05-06,¥12,1,false,книги|音乐,1700000000,тест\n\"" + strings.Repeat("é", 300) + "\",2024-05-06,1,1,false,🙂,1,\U0001F600\nC\x00\xff\xfe,2024-05-06,1,1,false,,1,\x80\n"),
		"dup-columns":     []byte("Customer ID,order_ts,amount,amount,Customer ID\nC1,2024-05-06,1,2,C9\n"),
		"missing-ts":      []byte("Customer ID,amount\nC1,1\n"),
		"dates-1900-2100": []byte(header + "C1,1900-01-01,1,1,false,,-2208988800,\nC2,2100-12-31 23:59:59,1,1,false,,4133980799,\n"),
		"semicolon":       []byte(strings.NewReplacer(",", ";").Replace(header) + "C1;06/05/2024 07:08;12,50;1;f;a,b;1700000000;web\nC2;2024-05-06;3.5;2;t;;;\n"),
	}
	return s
}

// fuzzRow is a typical orders file: text ids, millisecond timestamps,
// optional and dictionary-encoded columns, a list.
type fuzzRow struct {
	CustID    string    `parquet:"cust_id,dict"`
	OrderTS   time.Time `parquet:"order_ts,timestamp(millisecond)"`
	Amount    *float64  `parquet:"amount,optional"`
	Quantity  int32     `parquet:"quantity"`
	IsRefund  *bool     `parquet:"is_refund,optional"`
	Interests []string  `parquet:"interests,list"`
	Signup    *int64    `parquet:"signup_epoch,optional"`
	Channel   string    `parquet:"channel,dict"`
}

// fuzzIntRow has integer ids, microsecond timestamps, a decimal amount
// and a DATE for the epoch-mapped signup.
type fuzzIntRow struct {
	CustID   int64     `parquet:"cust_id"`
	OrderTS  time.Time `parquet:"order_ts,timestamp(microsecond)"`
	Amount   int64     `parquet:"amount,decimal(2:18)"`
	Quantity *int64    `parquet:"quantity,optional"`
	IsRefund int32     `parquet:"is_refund"`
	Signup   int32     `parquet:"signup_epoch,date"`
}

// fuzzLegacyRow has what older writers produce: INT96 timestamps, text
// amounts and flags, float quantities.
type fuzzLegacyRow struct {
	CustID   string           `parquet:"cust_id"`
	OrderTS  deprecated.Int96 `parquet:"order_ts"`
	Amount   string           `parquet:"amount"`
	Quantity float32          `parquet:"quantity"`
	IsRefund string           `parquet:"is_refund"`
	Signup   string           `parquet:"signup_epoch"`
	Channel  *string          `parquet:"channel,optional"`
}

// fuzzWrongRow maps columns that can never convert: an integer order_ts
// without a unit, a double flag, integer interests.
type fuzzWrongRow struct {
	CustID    bool    `parquet:"cust_id"`
	OrderTS   int64   `parquet:"order_ts"`
	IsRefund  float64 `parquet:"is_refund"`
	Interests int32   `parquet:"interests"`
}

func writeParquet[T any](t *testing.T, rows []T, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parquetSeeds are small valid Parquet files of each shape, and the same
// files truncated or with a footer that lies.
func parquetSeeds(t *testing.T) map[string][]byte {
	base := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	var rows []fuzzRow
	for i := range 12 {
		r := fuzzRow{CustID: fmt.Sprintf("C%d", i%5), OrderTS: base.Add(time.Duration(i) * time.Hour),
			Quantity: int32(i), Channel: []string{"web", "store", "app"}[i%3]}
		if i%4 != 3 {
			a := float64(i) * 1.25
			r.Amount, r.IsRefund = &a, new(bool)
			s := base.Unix() - int64(i)*86400
			r.Signup = &s
		}
		if i%2 == 0 {
			r.Interests = []string{"books", "музыка"}[:1+i%3%2]
		}
		rows = append(rows, r)
	}
	rows[7].CustID = "客户-" + strings.Repeat("x", 200)
	var ints []fuzzIntRow
	for i := range 9 {
		q := int64(i)
		ints = append(ints, fuzzIntRow{CustID: 1000 + int64(i), OrderTS: base.Add(time.Duration(i) * time.Minute),
			Amount: int64(i)*100 + 99, Quantity: &q, IsRefund: int32(i % 2), Signup: int32(19000 + i)})
	}
	ints[8].Amount = 100_000_000_000 // a billion dollars, in cents
	legacy := []fuzzLegacyRow{
		{CustID: "L1", OrderTS: deprecated.Int96{0, 0, 2460437}, Amount: "12.5", Quantity: 1.5, IsRefund: "yes", Signup: "1700000000"},
		{CustID: "L2", OrderTS: deprecated.Int96{1 << 31, 5, 2415021}, Amount: "abc", Quantity: -1, IsRefund: "maybe", Signup: "2024-05-06"},
		{CustID: "", OrderTS: deprecated.Int96{}, Amount: "NaN", Quantity: 3, IsRefund: "", Signup: "soon"},
	}
	good := writeParquet(t, rows, parquet.MaxRowsPerRowGroup(5), parquet.PageBufferSize(64), parquet.Compression(&parquet.Snappy))
	s := map[string][]byte{
		"valid-text-ids":   good,
		"valid-int-ids":    writeParquet(t, ints, parquet.MaxRowsPerRowGroup(4), parquet.Compression(&parquet.Zstd), parquet.DataPageVersion(1)),
		"valid-legacy":     writeParquet(t, legacy, parquet.Compression(&parquet.Gzip)),
		"valid-no-rows":    writeParquet(t, []fuzzRow{}),
		"wrong-types":      writeParquet(t, []fuzzWrongRow{{CustID: true, OrderTS: 1714979289, IsRefund: 1, Interests: 3}}),
		"empty":            nil,
		"magic-only":       []byte("PAR1"),
		"two-magics":       []byte("PAR1PAR1"),
		"truncated-half":   good[:len(good)/2],
		"truncated-footer": good[:len(good)-20],
		"truncated-tail":   good[:len(good)-1],
		"no-footer":        good[:len(good)-8],
	}
	// Footers that lie, each derived from the valid file.
	lie := func(name string, data []byte, edit func(*format.FileMetaData)) {
		s[name] = rewriteFooter(t, data, edit)
	}
	lie("footer-rows-2e40", good, func(m *format.FileMetaData) {
		m.NumRows = 1 << 40
		m.RowGroups[0].NumRows = 1 << 40
	})
	lie("footer-rows-2e40-consistent", good, func(m *format.FileMetaData) {
		m.NumRows += 1<<40 - m.RowGroups[0].NumRows
		m.RowGroups[0].NumRows = 1 << 40
	})
	lie("footer-file-rows-only", good, func(m *format.FileMetaData) { m.NumRows = 3 })
	lie("footer-rows-negative", good, func(m *format.FileMetaData) { m.RowGroups[1].NumRows = -7 })
	lie("footer-rows-short", good, func(m *format.FileMetaData) { m.RowGroups[0].NumRows = 2 })
	lie("footer-rows-long", good, func(m *format.FileMetaData) { m.RowGroups[0].NumRows = 9 })
	lie("footer-offsets-past-end", good, func(m *format.FileMetaData) {
		for i := range m.RowGroups[0].Columns {
			md := &m.RowGroups[0].Columns[i].MetaData
			md.DataPageOffset += 1 << 30
			md.DictionaryPageOffset += 1 << 30
		}
	})
	lie("footer-offsets-negative", good, func(m *format.FileMetaData) {
		md := &m.RowGroups[0].Columns[0].MetaData
		md.DataPageOffset, md.DictionaryPageOffset = -100, -100
	})
	lie("footer-sizes-huge", good, func(m *format.FileMetaData) {
		for i := range m.RowGroups[0].Columns {
			md := &m.RowGroups[0].Columns[i].MetaData
			md.TotalCompressedSize, md.TotalUncompressedSize, md.NumValues = 1<<40, 1<<41, 1<<40
		}
	})
	lie("footer-codec-wrong", good, func(m *format.FileMetaData) {
		for i := range m.RowGroups[0].Columns {
			m.RowGroups[0].Columns[i].MetaData.Codec = format.Zstd
		}
	})
	lie("footer-type-int64-as-double", s["valid-int-ids"], func(m *format.FileMetaData) {
		for i := range m.Schema {
			if m.Schema[i].Type.Valid && m.Schema[i].Type.V == format.Int64 {
				m.Schema[i].Type.V = format.Double
			}
		}
	})
	lie("footer-type-string-as-int32", good, func(m *format.FileMetaData) {
		for i := range m.Schema {
			if m.Schema[i].Name == "cust_id" {
				m.Schema[i].Type.V = format.Int32
				m.Schema[i].LogicalType = format.LogicalType{}
				m.Schema[i].ConvertedType = thrift.Null[deprecated.ConvertedType]{}
			}
		}
	})
	lie("footer-type-fixed-len", good, func(m *format.FileMetaData) {
		for i := range m.Schema {
			if m.Schema[i].Name == "channel" {
				m.Schema[i].Type.V = format.FixedLenByteArray
				m.Schema[i].TypeLength = thrift.New[int32](1 << 30)
			}
		}
	})
	lie("footer-children-lie", good, func(m *format.FileMetaData) { m.Schema[0].NumChildren = thrift.New[int32](1 << 20) })
	lie("footer-no-row-groups", good, func(m *format.FileMetaData) { m.RowGroups = nil })
	lie("footer-missing-chunks", good, func(m *format.FileMetaData) {
		m.RowGroups[0].Columns = m.RowGroups[0].Columns[:2]
	})
	// Page headers that lie; column 0 starts with a dictionary page,
	// column 1 (order_ts) with a data page.
	page := func(name string, col int, edit func(*format.PageHeader)) {
		s[name] = rewritePageHeader(t, good, col, edit)
	}
	page("page-identity", 1, func(*format.PageHeader) {})
	page("page-compressed-size-2gib", 1, func(h *format.PageHeader) { h.CompressedPageSize = math.MaxInt32 })
	page("page-uncompressed-size-2gib", 1, func(h *format.PageHeader) { h.UncompressedPageSize = math.MaxInt32 })
	page("page-num-values-2e31", 1, func(h *format.PageHeader) {
		h.DataPageHeader.V.NumValues = math.MaxInt32 // v1, if the page is one
		h.DataPageHeaderV2.V.NumValues, h.DataPageHeaderV2.V.NumRows = math.MaxInt32, math.MaxInt32
	})
	page("dict-compressed-size-2gib", 0, func(h *format.PageHeader) { h.CompressedPageSize = math.MaxInt32 })
	page("dict-num-values-2e31", 0, func(h *format.PageHeader) { h.DictionaryPageHeader.V.NumValues = math.MaxInt32 })
	// A footer length that claims 4 GiB.
	big := bytes.Clone(good)
	binary.LittleEndian.PutUint32(big[len(big)-8:], 0xFFFFFFF0)
	s["footer-length-4gib"] = big
	return s
}

// rewriteFooter decodes data's footer, lets edit change it and writes it
// back in place of the original.
func rewriteFooter(t *testing.T, data []byte, edit func(*format.FileMetaData)) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	footer := data[len(data)-8-n : len(data)-8]
	var md format.FileMetaData
	if err := thrift.Unmarshal(&thrift.CompactProtocol{}, footer, &md); err != nil {
		t.Fatal(err)
	}
	edit(&md)
	enc, err := thrift.Marshal(&thrift.CompactProtocol{}, &md)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(data[:len(data)-8-n])
	out = append(out, enc...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(enc)))
	return append(out, "PAR1"...)
}

// rewritePageHeader decodes the first page header of column col in row
// group 0, lets edit change it and writes it back, moving every later
// offset the footer holds by the change in the header's length.
func rewritePageHeader(t *testing.T, data []byte, col int, edit func(*format.PageHeader)) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	var md format.FileMetaData
	if err := thrift.Unmarshal(&thrift.CompactProtocol{}, data[len(data)-8-n:len(data)-8], &md); err != nil {
		t.Fatal(err)
	}
	cm := &md.RowGroups[0].Columns[col].MetaData
	off := cm.DataPageOffset
	if cm.DictionaryPageOffset > 0 {
		off = cm.DictionaryPageOffset
	}
	proto := &thrift.CompactProtocol{}
	pr := proto.NewReaderFromBytes(data[off:])
	var h format.PageHeader
	if err := thrift.NewDecoder(pr).Decode(&h); err != nil {
		t.Fatal(err)
	}
	hlen := int64(pr.BytesRead())
	edit(&h)
	enc, err := thrift.Marshal(proto, &h)
	if err != nil {
		t.Fatal(err)
	}
	delta := int64(len(enc)) - hlen
	cm.TotalCompressedSize += delta
	for i := range md.RowGroups {
		for j := range md.RowGroups[i].Columns {
			m := &md.RowGroups[i].Columns[j].MetaData
			if m.DataPageOffset > off {
				m.DataPageOffset += delta
			}
			if m.DictionaryPageOffset > off {
				m.DictionaryPageOffset += delta
			}
		}
	}
	out := append(bytes.Clone(data[:off]), enc...)
	out = append(out, data[off+hlen:len(data)-8-n]...)
	foot, err := thrift.Marshal(proto, &md)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, foot...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(foot)))
	return append(out, "PAR1"...)
}
