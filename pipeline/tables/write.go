package tables

import (
	"fmt"
	"io"
	"math/bits"
	"reflect"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
	"golang.org/x/sync/errgroup"

	"github.com/strata-oss/strata/internal/strcol"
)

// OutType is the Parquet type of an output column.
type OutType uint8

const (
	OutString    OutType = iota // BYTE_ARRAY (STRING)
	OutInt32                    // INT32
	OutInt64                    // INT64
	OutDouble                   // DOUBLE; money is DOUBLE in the published tables
	OutBool                     // BOOLEAN
	OutDate                     // INT32 (DATE), days since the epoch
	OutTimestamp                // INT64 TIMESTAMP(MICROS, UTC)
)

// OutColumn is one column of an output table. Exactly one value slice is
// set, matching Type; Null marks missing values of an optional column.
// A string column is Str, StrCol, or Codes into Dict; the last two hold
// no pointer per row, which matters for columns of every customer that
// live while the garbage collector runs: each string header in Str is
// scanned by every collection.
type OutColumn struct {
	Name     string
	Type     OutType
	Optional bool
	Str      []string
	// StrCol is a string column's values held without pointers (the
	// customer ids), written as Str's would be.
	StrCol strcol.Column
	// Codes index Dict: a string column of few distinct values (segment
	// and cluster names), written as Str's would be.
	Codes []int32
	Dict  []string
	I32   []int32
	I64   []int64 // also timestamps, in microseconds
	F64   []float64
	B     []bool
	Null  []bool
}

// StrAt is string value i, from Str, StrCol or Codes.
func (c *OutColumn) StrAt(i int) string {
	switch {
	case c.Str != nil:
		return c.Str[i]
	case c.Codes != nil:
		return c.Dict[c.Codes[i]]
	}
	return c.StrCol.At(i)
}

// Len is the number of rows the column holds.
func (c *OutColumn) Len() int {
	switch c.Type {
	case OutString:
		switch {
		case c.Str != nil:
			return len(c.Str)
		case c.Codes != nil:
			return len(c.Codes)
		}
		return c.StrCol.Len()
	case OutInt32, OutDate:
		return len(c.I32)
	case OutInt64, OutTimestamp:
		return len(c.I64)
	case OutDouble:
		return len(c.F64)
	case OutBool:
		return len(c.B)
	}
	return 0
}

// encodingChoice is what WriteParquet settles for all columns before it
// chooses each one's encoding: its row groups' size, opt.PlainIntegers,
// and, when the file is zstd-compressed, the codec at zstd's fastest level
// for the columns whose bytes are mostly noise (nil otherwise).
type encodingChoice struct {
	groupRows     int
	plainIntegers bool
	noisy         compress.Codec
	ownTypes      bool // WriteOptions.ownTypes
}

// node is the column's Parquet type, encoding and, where it differs from
// the file's, codec.
func (c *OutColumn) node(ch encodingChoice) parquet.Node {
	var n parquet.Node
	switch c.Type {
	case OutString:
		n = parquet.String()
	case OutInt32:
		n = parquet.Leaf(parquet.Int32Type)
	case OutInt64:
		n = parquet.Leaf(parquet.Int64Type)
	case OutDouble:
		n = parquet.Leaf(parquet.DoubleType)
	case OutBool:
		n = parquet.Leaf(parquet.BooleanType)
	case OutDate:
		n = parquet.Date()
	case OutTimestamp:
		n = parquet.TimestampAdjusted(parquet.Microsecond, true)
	}
	if !ch.ownTypes && !c.mayOutgrowDictionary() {
		n = withOnceBounds(n)
	}
	switch {
	case c.Type == OutBool:
	case c.repeats(ch.groupRows):
		n = parquet.Encoded(n, &parquet.RLEDictionary)
	case c.Type == OutDouble:
		// Doubles that do not repeat, money and model outputs: the low
		// bytes of their mantissas are noise, and what zstd's default
		// level finds beyond its fastest one is mostly not there. At 1M
		// customers (the segments table's five such columns, one core):
		// 368 ms at the default level, 211 ms at the fastest, 27.1 MB
		// against 28.3 MB; clv and monetary_value come out the same size,
		// max_order_value smaller.
		if ch.noisy != nil {
			n = parquet.Compressed(n, ch.noisy)
		}
	case c.Type != OutString && !ch.plainIntegers:
		// Integers whose values do not repeat (timestamps above all)
		// are written as deltas, DELTA_BINARY_PACKED: each run of 32
		// differences bit-packed at the width of its range. PLAIN, zstd
		// hunts for matches in their low bytes slowly and keeps ~85% of
		// them (first_order_at at 1M customers: 80 ms a column, one
		// core); as deltas they take ~75% before compression, which then
		// finds nothing more, in an eighth of the time. The encoding has
		// been in the format since parquet-format 2.0 (2013) and DuckDB,
		// Arrow, Trino and parquet-mr read it; Spark's vectorized reader
		// learnt it only in 3.3, hence WriteOptions.PlainIntegers. What
		// the deltas leave is noise too (the default level: 5.85 MB in
		// 13 ms, the fastest: the same in 10 ms).
		n = parquet.Encoded(n, &parquet.DeltaBinaryPacked)
		if ch.noisy != nil {
			n = parquet.Compressed(n, ch.noisy)
		}
	}
	if c.Optional {
		return parquet.Optional(n)
	}
	return parquet.Required(n)
}

// mayOutgrowDictionary reports whether a string column holds 1 GiB or
// more: parquet-go turns a string dictionary of more than 1 GiB into PLAIN
// for the rest of its row group, by unwrapping a type of its own, which
// onceType's dictionary is not. A column of fewer bytes cannot have such
// a dictionary, and no table we write has such a column; one that did is
// written with parquet-go's own types.
func (c *OutColumn) mayOutgrowDictionary() bool {
	if c.Type != OutString {
		return false
	}
	if c.Str == nil && c.Codes == nil {
		return c.StrCol.Size() >= 1<<30
	}
	if c.Codes != nil && maxLen(c.Dict)*len(c.Codes) < 1<<30 {
		return false // no need to add up the rows' lengths
	}
	total := 0
	for i := range c.Len() {
		if total += len(c.StrAt(i)); total >= 1<<30 {
			return true
		}
	}
	return false
}

func maxLen(s []string) int {
	n := 0
	for _, x := range s {
		n = max(n, len(x))
	}
	return n
}

// repeats reports whether a column repeats its values enough for a
// dictionary to pay: segment and channel names, RFM scores and quintiles,
// cluster ids, day counts, the as-of date, and model outputs that take few
// values (P(alive) is 1 for everyone when no one dropped out; expected
// purchases depend on three day counts only). Their pages then hold small
// indexes rather than the values, which makes the column several times
// smaller and cheaper to compress (an RFM quintile: 3 bits a row instead
// of 32 for zstd to work through), and lets readers decode each string
// once.
//
// A dictionary is per row group, so the test is too: the non-null values
// of the first row group must come back 8 times on average; below that
// the dictionary page is most of the column and saves little. The first
// group stands for the rest, as the first page does in parquet-mr's
// writer: the tables we write are in customer order, which the values do
// not follow, and a wrong guess costs size and time, never a value.
// Numbers are counted exactly (by bits, as parquet-go keys them: -0 and 0,
// and NaNs with different payloads, are different entries), and the count
// stops as soon as it passes the bound, so a column of distinct values
// costs an eighth of a group. Strings are judged on a sample of the whole
// column, which is cheaper than hashing them and tells the two kinds of
// string column we write apart (names and codes against ids).
func (c *OutColumn) repeats(groupRows int) bool {
	var null []bool
	if c.Optional {
		null = c.Null
	}
	switch c.Type {
	case OutString:
		return sampleFew(null, c.Len(), c.StrAt)
	case OutInt32, OutDate:
		return fewDistinct(firstGroup(null, unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(c.I32))), len(c.I32)), groupRows))
	case OutInt64, OutTimestamp:
		return fewDistinct(firstGroup(null, unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(c.I64))), len(c.I64)), groupRows))
	case OutDouble:
		return fewDistinct(firstGroup(null, unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(c.F64))), len(c.F64)), groupRows))
	}
	return false
}

// firstGroup is the first row group's part of a column's values and nulls.
func firstGroup[T any](null []bool, v []T, groupRows int) ([]bool, []T) {
	v = v[:min(len(v), max(groupRows, 1))]
	if null != nil {
		null = null[:len(v)]
	}
	return null, v
}

// fewDistinct reports whether the distinct non-null values of v are at
// most an eighth of them (and there is at least one).
func fewDistinct[T uint32 | uint64](null []bool, v []T) bool {
	rows := len(v)
	if null != nil {
		rows = 0
		for _, isNull := range null {
			if !isNull {
				rows++
			}
		}
	}
	budget := rows / 8
	if budget == 0 {
		return false
	}
	// An open-addressing set that doubles when half full: a column of a
	// few values probes a few cache lines, one of many stops at the
	// budget. 0 marks an empty slot; the value 0 has a flag of its own.
	set := make([]T, 64)
	held, distinct, zero := 0, 0, false
	insert := func(x T) bool {
		mask, shift := uint64(len(set)-1), 64-bits.TrailingZeros(uint(len(set)))
		for h := (uint64(x) * 0x9e3779b97f4a7c15) >> shift; ; h = (h + 1) & mask {
			switch set[h] {
			case x:
				return false
			case 0:
				set[h] = x
				return true
			}
		}
	}
	for i, x := range v {
		if null != nil && null[i] {
			continue
		}
		if x == 0 {
			if zero {
				continue
			}
			zero = true
		} else if !insert(x) {
			continue
		} else if held++; 2*held > len(set) {
			old := set
			set = make([]T, 2*len(old))
			for _, y := range old {
				if y != 0 {
					insert(y)
				}
			}
		}
		if distinct++; distinct > budget {
			return false
		}
	}
	return true
}

func sampleFew[T comparable](null []bool, rows int, v func(int) T) bool {
	const samples = 4096
	step := max(1, rows/samples)
	seen := make(map[T]struct{})
	n := 0
	for i := 0; i < rows; i += step {
		if null != nil && null[i] {
			continue // not written, not in the dictionary
		}
		seen[v(i)] = struct{}{}
		n++
	}
	// Values must come back 8 times on average: below that, the
	// dictionary page is most of the column and saves little.
	return n > 0 && len(seen)*8 <= n
}

// orderedGroup is a Parquet group whose fields keep the order they were
// given in; parquet.Group sorts them by name, and people reading a table
// expect customer_id first.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g orderedGroup) Fields() []parquet.Field { return g.fields }

type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string { return f.name }

// Value is only used by reflection-based writers, which we never use.
func (f namedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }

// WriteOptions are the knobs of WriteParquet.
type WriteOptions struct {
	RowsPerGroup int               // default 131072
	Workers      int               // row groups encoded at once; ≤ 0: GOMAXPROCS
	Metadata     map[string]string // file key-value metadata
	// Compression is the codec: "zstd" (also ""), "snappy" or
	// "uncompressed".
	Compression string
	// PlainIntegers writes integer, date and timestamp columns whose
	// values do not repeat as PLAIN rather than DELTA_BINARY_PACKED, for
	// readers that predate the delta encoding (Spark's vectorized reader
	// before 3.3).
	PlainIntegers bool
	// ownTypes writes with parquet-go's own column types, not onceType:
	// the tests compare the bytes of both.
	ownTypes bool
}

// codec returns the parquet-go codec of a WriteOptions.Compression. zstd
// is at its default level: at 1M customers the fastest level writes the
// segments table in ~60% of the time but 16% larger, about what snappy
// gives at the same speed, and snappy is the better known of the two.
func codec(name string) (compress.Codec, error) {
	switch name {
	case "", "zstd":
		return &zstd.Codec{Level: zstd.SpeedDefault}, nil
	case "snappy":
		return &snappy.Codec{}, nil
	case "uncompressed":
		return &uncompressed.Codec{}, nil
	}
	return nil, fmt.Errorf("write parquet: unknown compression %q (zstd, snappy or uncompressed)", name)
}

// WriteParquet writes the columns as one Parquet file to w, compressed as
// opt says (zstd by default), with row groups of a bounded size. The output
// is a pure function of the inputs: the same columns give the same bytes.
func WriteParquet(w io.Writer, cols []OutColumn, opt WriteOptions) error {
	if len(cols) == 0 {
		return fmt.Errorf("write parquet: no columns")
	}
	cc, err := codec(opt.Compression)
	if err != nil {
		return err
	}
	n := cols[0].Len()
	rows := opt.RowsPerGroup
	if rows <= 0 {
		rows = 131072
	}
	for i := range cols {
		if l := cols[i].Len(); l != n {
			return fmt.Errorf("write parquet: column %s has %d rows, %s has %d", cols[i].Name, l, cols[0].Name, n)
		}
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ch := encodingChoice{groupRows: rows, plainIntegers: opt.PlainIntegers, ownTypes: opt.ownTypes}
	if cc.CompressionCodec() == format.Zstd {
		ch.noisy = &zstd.Codec{Level: zstd.SpeedFastest}
	}
	schema := parquet.NewSchema("strata", orderedGroup{Group: parquet.Group{}, fields: chooseFields(cols, ch, workers)})
	wopts := []parquet.WriterOption{
		schema,
		parquet.Compression(cc),
		parquet.MaxRowsPerRowGroup(int64(rows)),
		parquet.CreatedBy("strata", "", ""),
	}
	wopts = append(wopts, boundStatistics(cols)...)
	keys := make([]string, 0, len(opt.Metadata))
	for k := range opt.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		wopts = append(wopts, parquet.KeyValueMetadata(k, opt.Metadata[k]))
	}
	pw := parquet.NewWriter(w, wopts...)
	// Row groups are encoded and compressed in parallel, as many at a
	// time as there are workers, and committed in order, so the bytes do
	// not depend on the workers. The oldest group is committed as soon as
	// it is done, while the others carry on, and its slot goes to the next
	// group: no worker waits for the slowest of a batch, and writing to w
	// overlaps encoding. Within a group, column by column: each column's
	// values go straight to its writer, without assembling rows, which
	// costs a slice per row and scatters every column.
	type pending struct {
		rg   *parquet.ConcurrentRowGroupWriter
		done chan error
	}
	var inflight []pending
	commitOldest := func() error {
		p := inflight[0]
		inflight = inflight[1:]
		if err := <-p.done; err != nil {
			return err
		}
		if _, err := p.rg.Commit(); err != nil {
			return fmt.Errorf("write parquet row group: %w", err)
		}
		return nil
	}
	for lo := 0; lo < n && err == nil; lo += rows {
		if len(inflight) == workers {
			if err = commitOldest(); err != nil {
				break
			}
		}
		rg, done := pw.BeginRowGroup(), make(chan error, 1)
		go func() { done <- writeGroup(rg, cols, lo, min(lo+rows, n), workers) }()
		inflight = append(inflight, pending{rg, done})
	}
	for err == nil && len(inflight) > 0 {
		err = commitOldest()
	}
	// The groups still running read cols, which the caller owns again
	// once we return.
	for _, p := range inflight {
		<-p.done
	}
	if err != nil {
		return err
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("close parquet writer: %w", err)
	}
	return nil
}

// MaxStatisticsBytes bounds a string statistic (a min or max) in the
// files WriteParquet writes.
const MaxStatisticsBytes = 1024

// boundStatistics keeps the statistics of the files written bounded in
// size: parquet-go writes a column chunk's min and max, and each page's,
// untruncated, so one 200 MB value made a 200 MB footer. A string column
// holding a value longer than MaxStatisticsBytes is written without
// min/max (in its footer, page headers and column index); its null
// counts stay. parquet-go cannot truncate them (a truncated max must be
// rounded up to stay a bound), and no reader needs them: the columns are
// ids, names and quarantine text. Other columns' statistics, and those of
// every table of short strings, are as before.
func boundStatistics(cols []OutColumn) []parquet.WriterOption {
	var opts []parquet.WriterOption
	for i := range cols {
		c := &cols[i]
		if c.Type != OutString {
			continue
		}
		for r := range c.Len() {
			if len(c.StrAt(r)) > MaxStatisticsBytes {
				opts = append(opts, parquet.SkipPageBounds(c.Name), parquet.SkipPageStatistics(c.Name))
				break
			}
		}
	}
	return opts
}

// chooseFields are the columns' Parquet fields. Choosing an encoding reads
// a column's first row group (about a millisecond each at the default
// group size), and no row can be written before every column's is chosen,
// so the columns are shared out among the workers.
func chooseFields(cols []OutColumn, ch encodingChoice, workers int) []parquet.Field {
	fs := make([]parquet.Field, len(cols))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(cols)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(cols); i = int(next.Add(1)) - 1 {
				fs[i] = namedField{Node: cols[i].node(ch), name: cols[i].Name}
			}
		})
	}
	wg.Wait()
	return fs
}

// writeGroup writes rows [lo, hi) of cols into the row group rg, its
// columns shared out among up to workers goroutines: a column's writer is
// its own, so they can go at once, and then the last groups of a table,
// which there are fewer of than workers, keep every worker busy (at 1M
// customers, eight groups on two cores left one idle for the last
// group's half). Which goroutine writes a column does not change its
// bytes.
func writeGroup(rg *parquet.ConcurrentRowGroupWriter, cols []OutColumn, lo, hi, workers int) error {
	cws := rg.ColumnWriters()
	var next atomic.Int64
	var g errgroup.Group
	for range min(workers, len(cols)) {
		g.Go(func() error {
			vals := make([]parquet.Value, writeChunk)
			defer clear(vals) // drop references to the strings of cols
			for c := int(next.Add(1)) - 1; c < len(cols); c = int(next.Add(1)) - 1 {
				if err := writeColumn(cws[c], &cols[c], lo, hi, vals); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := rg.Flush(); err != nil {
		return fmt.Errorf("write parquet row group: %w", err)
	}
	return nil
}

// writeChunk is how many values go to a column writer at a time. The
// writer checks whether a page is full after each call, so the chunk size
// decides page boundaries and thus the bytes of the file (the tests place
// nulls around its multiples, where one call ends and the next begins).
const writeChunk = 8192

// writeColumn writes rows [lo, hi) of col to cw, a chunk at a time
// through vals.
//
// A ColumnWriter only takes parquet.Value (its typed column buffer is not
// exported), so the cost that is ours is building those values: each column
// is filled a chunk at a time by a loop specialised to its type, and levels
// are set in place, which the compiler inlines, rather than through
// Value.Level, which it does not.
func writeColumn(cw *parquet.ColumnWriter, col *OutColumn, lo, hi int, vals []parquet.Value) error {
	for a := lo; a < hi; a += writeChunk {
		b := min(a+writeChunk, hi)
		v := vals[:b-a]
		col.fill(v, a, b)
		if _, err := cw.WriteRowValues(v); err != nil {
			return fmt.Errorf("write parquet column %s: %w", col.Name, err)
		}
	}
	return nil
}

// fill sets dst to the values of rows [a, b) of c.
func (c *OutColumn) fill(dst []parquet.Value, a, b int) {
	switch c.Type {
	case OutString:
		// The writer copies the bytes into its page buffer: no copy of
		// the string is needed.
		switch {
		case c.Str != nil:
			for i, s := range c.Str[a:b] {
				dst[i] = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
			}
		case c.Codes != nil:
			for i, k := range c.Codes[a:b] {
				s := c.Dict[k]
				dst[i] = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
			}
		default:
			for i := range b - a {
				s := c.StrCol.At(a + i)
				dst[i] = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
			}
		}
	case OutInt32, OutDate:
		for i, x := range c.I32[a:b] {
			dst[i] = parquet.Int32Value(x)
		}
	case OutInt64, OutTimestamp:
		for i, x := range c.I64[a:b] {
			dst[i] = parquet.Int64Value(x)
		}
	case OutDouble:
		for i, x := range c.F64[a:b] {
			dst[i] = parquet.DoubleValue(x)
		}
	case OutBool:
		for i, x := range c.B[a:b] {
			dst[i] = parquet.BooleanValue(x)
		}
	}
	var null []bool
	if c.Null != nil {
		null = c.Null[a:b]
	}
	switch {
	case c.Optional && null == nil:
		for i := range dst {
			dst[i].SetDefinitionLevel(1)
		}
	case c.Optional:
		for i, isNull := range null[:len(dst)] {
			if isNull {
				dst[i] = parquet.Value{}
			} else {
				dst[i].SetDefinitionLevel(1)
			}
		}
	case null != nil:
		// A null in a required column is written as the zero value, as
		// it always has been.
		for i, isNull := range null[:len(dst)] {
			if isNull {
				dst[i] = parquet.Value{}
			}
		}
	}
}
