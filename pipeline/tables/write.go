package tables

import (
	"fmt"
	"io"
	"reflect"
	"runtime"
	"sort"
	"sync"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
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
type OutColumn struct {
	Name     string
	Type     OutType
	Optional bool
	Str      []string
	I32      []int32
	I64      []int64 // also timestamps, in microseconds
	F64      []float64
	B        []bool
	Null     []bool
}

func (c *OutColumn) len() int {
	switch c.Type {
	case OutString:
		return len(c.Str)
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

func (c *OutColumn) node() parquet.Node {
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
	if c.Optional {
		return parquet.Optional(n)
	}
	return parquet.Required(n)
}

func (c *OutColumn) value(i int) parquet.Value {
	if c.Null != nil && c.Null[i] {
		return parquet.NullValue()
	}
	switch c.Type {
	case OutString:
		// The writer copies the bytes into its page buffer before the
		// next value: no copy of the string is needed.
		return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(c.Str[i]), len(c.Str[i])))
	case OutInt32, OutDate:
		return parquet.Int32Value(c.I32[i])
	case OutInt64, OutTimestamp:
		return parquet.Int64Value(c.I64[i])
	case OutDouble:
		return parquet.DoubleValue(c.F64[i])
	case OutBool:
		return parquet.BooleanValue(c.B[i])
	}
	return parquet.NullValue()
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
}

// WriteParquet writes the columns as one Parquet file to w, zstd-compressed,
// with row groups of a bounded size. The output is a pure function of the
// inputs: the same columns give the same bytes.
func WriteParquet(w io.Writer, cols []OutColumn, opt WriteOptions) error {
	if len(cols) == 0 {
		return fmt.Errorf("write parquet: no columns")
	}
	n := cols[0].len()
	fields := make([]parquet.Field, len(cols))
	for i := range cols {
		if l := cols[i].len(); l != n {
			return fmt.Errorf("write parquet: column %s has %d rows, %s has %d", cols[i].Name, l, cols[0].Name, n)
		}
		fields[i] = namedField{Node: cols[i].node(), name: cols[i].Name}
	}
	schema := parquet.NewSchema("strata", orderedGroup{Group: parquet.Group{}, fields: fields})
	rows := opt.RowsPerGroup
	if rows <= 0 {
		rows = 131072
	}
	wopts := []parquet.WriterOption{
		schema,
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
		parquet.MaxRowsPerRowGroup(int64(rows)),
		parquet.CreatedBy("strata", "", ""),
	}
	keys := make([]string, 0, len(opt.Metadata))
	for k := range opt.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		wopts = append(wopts, parquet.KeyValueMetadata(k, opt.Metadata[k]))
	}
	pw := parquet.NewWriter(w, wopts...)
	// Row groups are encoded and compressed in parallel, a batch of as
	// many as there are workers at a time, and committed in order, so the
	// bytes do not depend on the workers. Within a group, column by column:
	// each column's values go straight to its writer, without assembling
	// rows, which costs a slice per row and scatters every column.
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	for start := 0; start < n; start += rows * workers {
		var groups []*parquet.ConcurrentRowGroupWriter
		for lo := start; lo < min(start+rows*workers, n); lo += rows {
			groups = append(groups, pw.BeginRowGroup())
		}
		errs := make([]error, len(groups))
		var wg sync.WaitGroup
		for g, rg := range groups {
			lo := start + g*rows
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[g] = writeGroup(rg, cols, lo, min(lo+rows, n))
			}()
		}
		wg.Wait()
		for g, rg := range groups {
			if errs[g] != nil {
				return errs[g]
			}
			if _, err := rg.Commit(); err != nil {
				return fmt.Errorf("write parquet row group: %w", err)
			}
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("close parquet writer: %w", err)
	}
	return nil
}

// writeGroup writes rows [lo, hi) of cols into the row group rg.
func writeGroup(rg *parquet.ConcurrentRowGroupWriter, cols []OutColumn, lo, hi int) error {
	const chunk = 8192
	vals := make([]parquet.Value, chunk)
	cws := rg.ColumnWriters()
	for c := range cols {
		col := &cols[c]
		for a := lo; a < hi; a += chunk {
			b := min(a+chunk, hi)
			for i := a; i < b; i++ {
				v := col.value(i)
				def := 0
				if col.Optional && !v.IsNull() {
					def = 1
				}
				vals[i-a] = v.Level(0, def, c)
			}
			if _, err := cws[c].WriteRowValues(vals[:b-a]); err != nil {
				return fmt.Errorf("write parquet column %s: %w", col.Name, err)
			}
		}
	}
	if err := rg.Flush(); err != nil {
		return fmt.Errorf("write parquet row group: %w", err)
	}
	return nil
}
