// Package tables reads Strata's input tables and writes its output tables.
//
// Inputs are Parquet or CSV objects under a prefix of an object store. A
// column mapping names the user's columns for each logical column, so any
// schema works without code changes. Reading is streaming and columnar: a
// Scan hands out one Batch per Parquet row group (or per block of CSV rows),
// each a set of typed slices, so memory is bounded by the largest row group,
// not the table.
//
// Values that cannot be converted to the logical type (a CSV amount of
// "abc", a timestamp of "not-a-date") are not errors of the scan: the cell is
// marked Bad with its raw text, and the caller decides whether the row is
// quarantined. A schema that lacks a required column, has a column whose
// type can never convert, or holds a mapped column twice, is an error
// before any row is read. So is a corrupt Parquet object — a footer or page
// header whose claims contradict the object, each other or its codec —
// when it is found: no buffer is sized by such a claim before it is
// checked, and a panic of the Parquet decoder becomes an error naming the
// object.
//
// Parquet pages are decoded typed, straight from parquet-go's page buffers
// (no boxed parquet.Value per cell on the common paths); a row group whose
// column is one page of numbers (as DuckDB writes them) is decompressed
// into a buffer the column views, without parquet-go's page reader
// (direct.go). A string column
// that is dictionary-encoded keeps its dictionary codes beside the strings,
// so a consumer can do per-value work (hashing a customer id) once per
// dictionary entry instead of once per row. Units and ReadUnit let callers
// read the row groups of a table in parallel.
package tables

import (
	"fmt"
	"math"
	"strings"

	"github.com/strata-oss/strata/pipeline/tables/hugemem"
)

// Kind is the logical type of a column, independent of its storage type.
type Kind uint8

const (
	String     Kind = iota // UTF-8 text; numbers are formatted
	Float                  // float64; integers and decimals convert
	Int                    // int64
	Time                   // instant, as microseconds since the Unix epoch (UTC)
	Bool                   // boolean
	StringList             // list of strings (Parquet LIST, or a delimited string)
	// Key is an identifier: a Parquet integer column (not a timestamp,
	// date or decimal) is read as Int, anything else as String; the
	// batch's Column.Kind says which. Integer ids are never formatted.
	Key
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Float:
		return "float"
	case Int:
		return "int"
	case Time:
		return "timestamp"
	case Bool:
		return "bool"
	case StringList:
		return "string list"
	case Key:
		return "identifier"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Field is one logical column a reader wants.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
}

// TimeUnit says how a numeric column holds instants: as a count of units
// since the Unix epoch. A column mapping names it after the column, as in
// "ts:epoch_s" (see SplitColumn).
type TimeUnit uint8

const (
	NoUnit TimeUnit = iota
	EpochSeconds
	EpochMillis
	EpochMicros
	EpochNanos
)

var unitNames = [...]string{EpochSeconds: "epoch_s", EpochMillis: "epoch_ms", EpochMicros: "epoch_us", EpochNanos: "epoch_ns"}

func (u TimeUnit) String() string {
	if u > NoUnit && int(u) < len(unitNames) {
		return unitNames[u]
	}
	return ""
}

// SplitColumn splits a column mapping value into the column name and an
// optional time unit suffix: "ts:epoch_s" is column ts holding seconds since
// the epoch; likewise epoch_ms, epoch_us and epoch_ns. Any other value is a
// plain column name, colons included.
func SplitColumn(spec string) (string, TimeUnit) {
	if i := strings.LastIndexByte(spec, ':'); i > 0 {
		for u := EpochSeconds; u <= EpochNanos; u++ {
			if spec[i+1:] == unitNames[u] {
				return spec[:i], u
			}
		}
	}
	return spec, NoUnit
}

// micros converts a count of u since the epoch to microseconds, flooring
// nanoseconds, or reports false when the instant is beyond what int64
// microseconds hold (about 292,000 years either side of 1970).
func (u TimeUnit) micros(v int64) (int64, bool) {
	switch u {
	case EpochSeconds:
		return mulMicros(v, 1_000_000)
	case EpochMillis:
		return mulMicros(v, 1000)
	case EpochNanos:
		return floorDiv(v, 1000), true
	}
	return v, true
}

// mulMicros is v×f, or false when it overflows. An instant that overflows
// is not a timestamp anyone meant: wrapped around, it would land on some
// arbitrary day — possibly inside the run's window — so it is a bad value
// instead.
func mulMicros(v, f int64) (int64, bool) {
	if v > math.MaxInt64/f || v < math.MinInt64/f {
		return 0, false
	}
	return v * f, true
}

const dayMicros = 86_400_000_000

// dateMicros is the start of day d since the epoch (Parquet DATE).
func dateMicros(d int64) (int64, bool) { return mulMicros(d, dayMicros) }

func (u TimeUnit) microsFloat(v float64) (int64, bool) {
	f := v
	switch u {
	case EpochSeconds:
		f *= 1e6
	case EpochMillis:
		f *= 1e3
	case EpochNanos:
		f /= 1e3
	}
	if math.IsNaN(f) || math.Abs(f) > 9e18 {
		return 0, false
	}
	return int64(math.Floor(f)), true
}

// Column holds one field's values for the rows of a batch. Exactly one of the
// value slices is used, by Kind. Null and Bad are nil when no row is null or
// bad; a bad cell is also null and keeps its raw text in BadRaw. A null
// row's value is the zero value of its kind.
//
// Strings read from Parquet share one allocation per page (or per
// dictionary): keeping one alive keeps its page's bytes alive, so a consumer
// that keeps a few strings of many batches should strings.Clone them.
type Column struct {
	Present bool // false when an optional field is absent from the input
	Kind    Kind
	Str     []string
	F       []float64
	I       []int64
	B       []bool
	L       [][]string
	Null    []bool
	Bad     []bool
	BadRaw  []string
	// Codes and Dict are set for a String column whose every page in the
	// batch was dictionary-encoded: Str[i] == Dict[Codes[i]], and Codes[i]
	// is -1 where the row is null. Nil otherwise.
	Codes []int32
	Dict  []string

	// Buffers kept across batches so that nulls cost no allocation.
	nullBuf, badBuf []bool
	rawBuf          []string
	codesBuf        []int32

	// viewed says F or I views a decoded page (directPage) instead of the
	// column's own buffers, set aside in ownF and ownI until the next
	// reset gives them back.
	viewed bool
	ownF   []float64
	ownI   []int64
}

// view sets aside the column's own value buffers, for F or I to view
// another's.
func (c *Column) view() {
	if !c.viewed {
		c.ownF, c.ownI = c.F, c.I
	}
	c.viewed = true
}

// IsNull reports whether row i has no usable value.
func (c *Column) IsNull(i int) bool {
	return !c.Present || (c.Null != nil && c.Null[i])
}

// IsBad reports whether row i held a value that could not be converted.
func (c *Column) IsBad(i int) bool { return c.Bad != nil && c.Bad[i] }

func (c *Column) reset(kind Kind, n int) {
	if c.viewed {
		c.viewed = false
		c.F, c.I = c.ownF, c.ownI
		c.ownF, c.ownI = nil, nil
	}
	c.Present = true
	c.Kind = kind
	c.Null, c.Bad, c.BadRaw = nil, nil, nil
	c.Codes, c.Dict = nil, nil
	switch kind {
	case String:
		c.Str = resize(c.Str, n)
	case Float:
		c.F = resize(c.F, n)
	case Int, Time:
		c.I = resize(c.I, n)
	case Bool:
		c.B = resize(c.B, n)
	case StringList:
		c.L = resize(c.L, n)
	}
}

// grow lengthens the column to n rows, keeping its rows and clearing the
// new ones; its buffers never grow past limit. Parquet columns grow page
// by page with the values actually decoded, not to the row count a footer
// declares: a corrupt footer claiming 2^40 rows is found out at its first
// page instead of allocating for all of them.
//
// The new values are not cleared: the caller writes every one of them
// (decodePage does). Clearing them first was a pass over every decoded
// value, 3% of a read's time on numbers that are overwritten at once.
func (c *Column) grow(n, limit int) {
	switch c.Kind {
	case String:
		c.Str = extendRaw(c.Str, n, limit)
	case Float:
		c.F = extendRaw(c.F, n, limit)
	case Int, Time:
		c.I = extendRaw(c.I, n, limit)
	case Bool:
		c.B = extendRaw(c.B, n, limit)
	case StringList:
		c.L = extendRaw(c.L, n, limit)
	}
	if c.Null != nil {
		c.nullBuf = extend(c.Null, n, limit)
		c.Null = c.nullBuf
	}
	if c.Bad != nil {
		c.badBuf, c.rawBuf = extend(c.Bad, n, limit), extend(c.BadRaw, n, limit)
		c.Bad, c.BadRaw = c.badBuf, c.rawBuf
	}
	if c.Codes != nil {
		c.codesBuf = extend(c.Codes, n, limit)
		c.Codes = c.codesBuf
	}
}

// clearRows zeroes the values of rows [lo, hi).
func (c *Column) clearRows(lo, hi int) {
	switch c.Kind {
	case String:
		clear(c.Str[lo:hi])
	case Float:
		clear(c.F[lo:hi])
	case Int, Time:
		clear(c.I[lo:hi])
	case Bool:
		clear(c.B[lo:hi])
	case StringList:
		clear(c.L[lo:hi])
	}
}

// rows is the number of rows the column's values hold.
func (c *Column) rows() int {
	switch c.Kind {
	case String:
		return len(c.Str)
	case Float:
		return len(c.F)
	case Int, Time:
		return len(c.I)
	case Bool:
		return len(c.B)
	case StringList:
		return len(c.L)
	}
	return 0
}

// copyRows copies k rows of src from row from on into rows [row, row+k) of
// c, which has n rows: values, nulls, bad cells and dictionary codes.
func (c *Column) copyRows(row int, src *Column, from, k, n int) {
	switch c.Kind {
	case String:
		copy(c.Str[row:row+k], src.Str[from:from+k])
	case Float:
		copy(c.F[row:row+k], src.F[from:from+k])
	case Int, Time:
		copy(c.I[row:row+k], src.I[from:from+k])
	case Bool:
		copy(c.B[row:row+k], src.B[from:from+k])
	}
	if src.Null != nil {
		c.nulls(n)
		copy(c.Null[row:row+k], src.Null[from:from+k])
	}
	if src.Bad != nil {
		c.bads(n)
		copy(c.Bad[row:row+k], src.Bad[from:from+k])
		copy(c.BadRaw[row:row+k], src.BadRaw[from:from+k])
	}
	if src.Codes != nil {
		c.codes(n)
		copy(c.Codes[row:row+k], src.Codes[from:from+k])
	}
}

// nulls, bads and codes give a column of n rows its null flags, bad
// cells or dictionary codes, cleared, from the buffers it keeps across
// batches, unless it has them already.
func (c *Column) nulls(n int) {
	if c.Null == nil {
		c.nullBuf = resize(c.nullBuf, n)
		c.Null = c.nullBuf
	}
}

func (c *Column) bads(n int) {
	if c.Bad == nil {
		c.badBuf, c.rawBuf = resize(c.badBuf, n), resize(c.rawBuf, n)
		c.Bad, c.BadRaw = c.badBuf, c.rawBuf
	}
}

func (c *Column) codes(n int) {
	if c.Codes == nil {
		c.codesBuf = resize(c.codesBuf, n)
		c.Codes = c.codesBuf
	}
}

func (c *Column) setNull(i, n int) {
	c.nulls(n)
	c.Null[i] = true
}

func (c *Column) setBad(i, n int, raw string) {
	c.setNull(i, n)
	c.bads(n)
	c.Bad[i] = true
	c.BadRaw[i] = raw
}

// Text renders row i of the column for humans (quarantine records, errors).
func (c *Column) Text(i int) string {
	switch {
	case !c.Present:
		return ""
	case c.IsBad(i):
		return c.BadRaw[i]
	case c.IsNull(i):
		return ""
	}
	switch c.Kind {
	case String:
		return c.Str[i]
	case Float:
		return fmt.Sprint(c.F[i])
	case Int:
		return fmt.Sprint(c.I[i])
	case Time:
		return formatMicros(c.I[i])
	case Bool:
		return fmt.Sprint(c.B[i])
	case StringList:
		return strings.Join(c.L[i], "|")
	}
	return ""
}

// Batch is a block of rows of one input object.
type Batch struct {
	Key      string // the object the rows came from
	FirstRow int64  // 0-based index of the batch's first row in the object
	N        int    // number of rows
	Cols     []Column
	// Malformed holds, per row, why a whole row could not be parsed (a CSV
	// row with the wrong number of fields); nil when every row parsed.
	Malformed []string

	// ColumnWorkers, when above 1, lets a Parquet row group decoded
	// whole decode that many of its columns at once, on goroutines of
	// their own: a reader that would otherwise wait, idle, for the first
	// group sets it for that group alone.
	ColumnWorkers int

	// chunk is the reused buffer Parquet column chunks are read into: a
	// fresh one per chunk was most of a read's garbage (450 MB on 50M
	// rows), and the garbage is what the collector lets the heap grow by.
	chunk []byte
	// chunks are the buffers of a row group read in windows, a column
	// chunk each: their columns' pages are read in step.
	chunks [][]byte
	// direct holds each column's state for decoding single-page row
	// groups (directPage).
	direct []directPage
	// csv holds a CSV batch's row texts; nil for Parquet.
	csv *csvText
}

// Text renders field fi of row i for humans (quarantine records, errors)
// as the input holds it: a CSV cell's own text, else the value formatted
// (Column.Text).
func (b *Batch) Text(fi, i int) string {
	if b.csv != nil {
		if s, ok := b.csv.cell(fi, i); ok {
			return s
		}
	}
	return b.Cols[fi].Text(i)
}

// Bytes is the number of bytes of input row i stands for; 0 when the
// format does not say (Parquet).
func (b *Batch) Bytes(i int) int64 {
	if b.csv == nil || i >= len(b.csv.sizes) {
		return 0
	}
	return b.csv.sizes[i]
}

// TotalBytes is the number of bytes of input the batch's rows stand for;
// 0 for Parquet.
func (b *Batch) TotalBytes() int64 {
	if b.csv == nil {
		return 0
	}
	return b.csv.total
}

// resize returns s with length n, cleared, reusing its memory when it
// can. It grows with headroom: row groups of one file differ by a few
// rows, and an exact fit would reallocate every buffer on every group.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		s = s[:n]
		clear(s)
		return s
	}
	return hugemem.Fresh(make([]T, n, n+n/8))
}

// extendRaw is extend without clearing the new rows when s has room for
// them: they hold whatever the buffer held before.
func extendRaw[T any](s []T, n, limit int) []T {
	if n <= len(s) {
		return s
	}
	if cap(s) >= n {
		return s[:n]
	}
	t := hugemem.Fresh(make([]T, n, max(n, min(2*cap(s), limit))))
	copy(t, s)
	return t
}

// extend returns s with length n (never less than it has), its first rows
// kept and the new ones cleared. A new array doubles the old one, up to
// limit, so that growing page by page costs amortised constant time.
func extend[T any](s []T, n, limit int) []T {
	old, reused := len(s), cap(s) >= n
	s = extendRaw(s, n, limit)
	if reused { // a new array is zero already
		clear(s[old:])
	}
	return s
}

// SchemaError says an input's columns do not fit the mapping. It is
// returned before any row is read, so a run fails before publishing.
type SchemaError struct {
	Key      string
	Problems []string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("schema of %s: %s", e.Key, strings.Join(e.Problems, "; "))
}
