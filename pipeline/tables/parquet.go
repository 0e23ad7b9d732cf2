package tables

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// parquetFile is an open Parquet object.
type parquetFile struct {
	file   *parquet.File
	closer io.Closer
}

func (p *parquetFile) Close() {
	if p.closer != nil {
		p.closer.Close()
	}
}

// openParquet opens key through ranged reads. A large read buffer and an
// optimistic footer read matter on S3: each small read is a round trip.
func openParquet(ctx context.Context, b objstore.Bucket, key string) (*parquetFile, error) {
	ra, size, err := b.ReaderAt(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	closer, _ := ra.(io.Closer)
	f, err := parquet.OpenFile(ra, size,
		parquet.ReadBufferSize(4<<20),
		parquet.OptimisticRead(true),
		parquet.SkipBloomFilters(true),
		parquet.SkipPageIndex(true),
	)
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return nil, fmt.Errorf("open parquet %s: %w", key, err)
	}
	return &parquetFile{file: f, closer: closer}, nil
}

// source describes how a Parquet leaf column's values convert.
type source struct {
	phys     parquet.Kind
	unit     int64 // for Int64 timestamps: divide (>0) or multiply (<0) to get micros
	isTime   bool
	isDate   bool
	scale    int32 // decimal scale, or -1
	repeated bool
	maxDef   int
}

type binding struct {
	field  int // index in Source.Fields
	column int // leaf column index
	src    source
}

// bindParquet maps the source's fields onto the file's leaf columns.
func (s *Source) bindParquet(f *parquet.File) ([]binding, []string) {
	schema := f.Schema()
	var binds []binding
	var probs []string
	cols := schema.Columns()
	for fi, fld := range s.Fields {
		name := s.physical(fld)
		idx := -1
		for ci, p := range cols {
			if p[0] == name {
				idx = ci
				break
			}
		}
		if idx < 0 {
			if fld.Required {
				probs = append(probs, fmt.Sprintf("required column %q (for %s) not found; columns are: %s",
					name, fld.Name, topLevel(cols)))
			}
			continue
		}
		leaf, _ := schema.Lookup(cols[idx]...)
		src := sourceOf(leaf)
		if err := checkConvertible(src, fld.Kind); err != nil {
			probs = append(probs, fmt.Sprintf("column %q (for %s): %v", name, fld.Name, err))
			continue
		}
		binds = append(binds, binding{field: fi, column: leaf.ColumnIndex, src: src})
	}
	return binds, probs
}

func topLevel(cols [][]string) string {
	var names []string
	seen := map[string]bool{}
	for _, c := range cols {
		if !seen[c[0]] {
			seen[c[0]] = true
			names = append(names, c[0])
		}
	}
	return strings.Join(names, ", ")
}

func sourceOf(leaf parquet.LeafColumn) source {
	t := leaf.Node.Type()
	src := source{phys: t.Kind(), scale: -1, repeated: leaf.MaxRepetitionLevel > 0, maxDef: leaf.MaxDefinitionLevel}
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *format.TimestampType:
			src.isTime = true
			src.unit = unitDivisor(v.Unit.Value.Duration())
		case *format.DateType:
			src.isDate = true
		case *format.DecimalType:
			src.scale = v.Scale
		}
	} else if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.TimestampMillis:
			src.isTime, src.unit = true, -1000
		case deprecated.TimestampMicros:
			src.isTime, src.unit = true, 1
		case deprecated.Date:
			src.isDate = true
		}
	}
	if src.phys == parquet.Int96 {
		src.isTime = true
	}
	return src
}

// unitDivisor turns a timestamp unit into the factor to microseconds:
// negative means multiply.
func unitDivisor(d time.Duration) int64 {
	switch d {
	case time.Millisecond:
		return -1000
	case time.Nanosecond:
		return 1000
	}
	return 1
}

func checkConvertible(src source, k Kind) error {
	switch k {
	case String:
		if src.phys == parquet.Boolean || src.repeated {
			return fmt.Errorf("is %s, not text", describe(src))
		}
	case Float, Int:
		if src.isTime || src.isDate || src.repeated || src.phys == parquet.Boolean || src.phys == parquet.FixedLenByteArray {
			return fmt.Errorf("is %s, not a number", describe(src))
		}
	case Time:
		if !(src.isTime || src.isDate || src.phys == parquet.ByteArray) || src.repeated {
			return fmt.Errorf("is %s, not a timestamp, date or text (an integer column has no unit: store it as TIMESTAMP)", describe(src))
		}
	case Bool:
		if src.repeated || src.phys == parquet.FixedLenByteArray || src.phys == parquet.Float || src.phys == parquet.Double {
			return fmt.Errorf("is %s, not a boolean", describe(src))
		}
	case StringList:
		if src.phys != parquet.ByteArray {
			return fmt.Errorf("is %s, not a list of text", describe(src))
		}
	}
	return nil
}

func describe(src source) string {
	d := src.phys.String()
	switch {
	case src.isDate:
		d = "DATE"
	case src.isTime:
		d = "TIMESTAMP"
	case src.scale >= 0:
		d = "DECIMAL"
	}
	if src.repeated {
		d = "a list of " + d
	}
	return d
}

func (s *Source) scanParquet(ctx context.Context, key string, fn func(*Batch) error) error {
	pf, err := openParquet(ctx, s.Bucket, key)
	if err != nil {
		return err
	}
	defer pf.Close()
	binds, probs := s.bindParquet(pf.file)
	if len(probs) > 0 {
		return &SchemaError{Key: key, Problems: probs}
	}
	batch := &Batch{Key: key, Cols: make([]Column, len(s.Fields))}
	vals := make([]parquet.Value, 4096)
	var first int64
	for gi, rg := range pf.file.RowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(rg.NumRows())
		batch.FirstRow, batch.N, batch.Malformed = first, n, nil
		for i := range batch.Cols {
			batch.Cols[i].Present = false
		}
		chunks := rg.ColumnChunks()
		for _, bd := range binds {
			col := &batch.Cols[bd.field]
			col.reset(s.Fields[bd.field].Kind, n)
			if err := s.readChunk(chunks[bd.column], bd.src, col, n, vals); err != nil {
				return fmt.Errorf("read %s row group %d column %s: %w", key, gi, s.physical(s.Fields[bd.field]), err)
			}
		}
		if err := fn(batch); err != nil {
			return err
		}
		first += int64(n)
	}
	return nil
}

func (s *Source) readChunk(chunk parquet.ColumnChunk, src source, col *Column, n int, vals []parquet.Value) error {
	pages := chunk.Pages()
	defer pages.Close()
	row := -1
	if !src.repeated {
		row = 0
	}
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		vr := page.Values()
		for {
			k, err := vr.ReadValues(vals)
			for _, v := range vals[:k] {
				if src.repeated {
					if v.RepetitionLevel() == 0 {
						row++
						if row >= n {
							parquet.Release(page)
							return fmt.Errorf("more rows than the row group declares (%d)", n)
						}
						col.L[row] = nil
					}
					if v.DefinitionLevel() == src.maxDef {
						if col.Kind == StringList {
							col.L[row] = append(col.L[row], string(v.ByteArray()))
						}
					}
					continue
				}
				if row >= n {
					parquet.Release(page)
					return fmt.Errorf("more values than the row group declares (%d)", n)
				}
				convert(v, src, col, row, n)
				row++
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(page)
				return err
			}
		}
		parquet.Release(page)
	}
	if src.repeated {
		row++
	}
	if row != n {
		return fmt.Errorf("read %d values for %d rows", row, n)
	}
	return nil
}

// convert stores value v, read from a column described by src, as row i of
// col.
func convert(v parquet.Value, src source, col *Column, i, n int) {
	if v.IsNull() {
		col.setNull(i, n)
		return
	}
	switch col.Kind {
	case String:
		switch src.phys {
		case parquet.ByteArray, parquet.FixedLenByteArray:
			col.Str[i] = string(v.ByteArray())
		case parquet.Int32:
			col.Str[i] = strconv.FormatInt(int64(v.Int32()), 10)
		case parquet.Int64:
			col.Str[i] = strconv.FormatInt(v.Int64(), 10)
		case parquet.Float:
			col.Str[i] = strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
		case parquet.Double:
			col.Str[i] = strconv.FormatFloat(v.Double(), 'g', -1, 64)
		}
	case Float, Int:
		var f float64
		ok := true
		switch src.phys {
		case parquet.Int32:
			f = float64(v.Int32())
		case parquet.Int64:
			f = float64(v.Int64())
		case parquet.Float:
			f = float64(v.Float())
		case parquet.Double:
			f = v.Double()
		case parquet.ByteArray:
			var err error
			f, err = strconv.ParseFloat(strings.TrimSpace(string(v.ByteArray())), 64)
			ok = err == nil
		}
		if !ok {
			col.setBad(i, n, string(v.ByteArray()))
			return
		}
		if src.scale > 0 {
			f /= math.Pow10(int(src.scale))
		}
		if col.Kind == Float {
			col.F[i] = f
		} else {
			if src.phys == parquet.Int64 && src.scale <= 0 {
				col.I[i] = v.Int64()
			} else if f != math.Trunc(f) || math.IsNaN(f) || math.Abs(f) > 1<<62 {
				col.setBad(i, n, fmt.Sprint(f))
				return
			} else {
				col.I[i] = int64(f)
			}
		}
	case Time:
		switch {
		case src.phys == parquet.Int96:
			col.I[i] = int96Micros(v.Int96())
		case src.isDate:
			col.I[i] = int64(v.Int32()) * 86_400_000_000
		case src.isTime:
			x := v.Int64()
			switch {
			case src.unit > 1:
				x = floorDiv(x, src.unit)
			case src.unit < 0:
				x *= -src.unit
			}
			col.I[i] = x
		default:
			raw := string(v.ByteArray())
			us, ok := parseTime(raw, nil)
			if !ok {
				col.setBad(i, n, raw)
				return
			}
			col.I[i] = us
		}
	case Bool:
		switch src.phys {
		case parquet.Boolean:
			col.B[i] = v.Boolean()
		case parquet.Int32:
			col.B[i] = v.Int32() != 0
		case parquet.Int64:
			col.B[i] = v.Int64() != 0
		default:
			raw := string(v.ByteArray())
			b, ok := parseBool(raw)
			if !ok {
				col.setBad(i, n, raw)
				return
			}
			col.B[i] = b
		}
	case StringList:
		col.L[i] = splitList(string(v.ByteArray()))
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// int96Micros decodes the legacy Impala/Spark INT96 timestamp: nanoseconds
// of the day in the low 8 bytes, the Julian day in the high 4.
func int96Micros(x deprecated.Int96) int64 {
	nanos := int64(uint64(x[1])<<32 | uint64(x[0]))
	day := int64(x[2]) - 2_440_588
	return day*86_400_000_000 + nanos/1000
}
