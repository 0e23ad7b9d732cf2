package tables

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/racetest"
)

// roundTripTable has a column of every OutType, required and optional, and
// strings of both kinds: few distinct values (dictionary-encoded) and all
// distinct (not). Optional columns are null where null says; nullAt and
// nullEvery pick which rows. A required column with Null set checks that
// its nulls are written as zero values. tame keeps values within what
// DuckDB can render (no NaN, no timestamp beyond year 294246).
func roundTripTable(n int, null func(i int) bool, tame bool) []OutColumn {
	r := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 { r ^= r << 13; r ^= r >> 7; r ^= r << 17; return r }
	nulls := make([]bool, n)
	for i := range nulls {
		nulls[i] = null(i)
	}
	specialsF := []float64{0, math.Copysign(0, -1), 1.5, -2.25, math.MaxFloat64, math.SmallestNonzeroFloat64}
	specialsI32 := []int32{0, -1, math.MinInt32, math.MaxInt32}
	specialsI64 := []int64{0, -1, 1_700_000_000_123_456}
	if !tame {
		specialsF = append(specialsF, math.NaN(), math.Inf(1), math.Inf(-1))
		specialsI64 = append(specialsI64, math.MinInt64, math.MaxInt64)
	}
	names := []string{"", "Champions", "Loyal", "At Risk", "Hibernating", "Ñew ✓"}
	var cols []OutColumn
	for _, opt := range []bool{false, true} {
		suffix := "_req"
		var nl []bool
		if opt {
			suffix, nl = "_opt", nulls
		}
		few, many := make([]string, n), make([]string, n)
		i32, fewI32, date := make([]int32, n), make([]int32, n), make([]int32, n)
		i64, ts, fewI64, fewTS := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		f64, b, fewF64 := make([]float64, n), make([]bool, n), make([]float64, n)
		// Few doubles, with the values a dictionary keyed by value rather
		// than by bits would merge: 0 and -0, two NaN payloads.
		fewF := []float64{0, math.Copysign(0, -1), 1.5, -2.25, math.MaxFloat64}
		if !tame {
			fewF = append(fewF, math.NaN(), math.Float64frombits(0x7ff8000000000bad), math.Inf(-1))
		}
		for i := range n {
			few[i] = names[next()%uint64(len(names))]
			if i%97 != 3 { // some empty strings among the distinct ones
				many[i] = "id-" + strconv.FormatUint(next()%1e12, 36)
			}
			i32[i], date[i] = int32(next()), int32(next()%40000)-10000
			// RFM quintiles, cluster ids, and the extremes in a dictionary.
			fewI32[i] = []int32{1, 2, 3, 4, 5, 0, -1, math.MinInt32, math.MaxInt32}[next()%9]
			i64[i], ts[i] = int64(next()), 1_500_000_000_000_000+int64(next()%(1<<50))
			fewI64[i] = specialsI64[next()%uint64(len(specialsI64))]
			fewTS[i] = 1_700_000_000_000_000 + int64(next()%7)*86_400_000_000
			fewF64[i] = fewF[next()%uint64(len(fewF))]
			f64[i], b[i] = math.Float64frombits(next()), next()%3 == 0
			if tame && (math.IsNaN(f64[i]) || math.IsInf(f64[i], 0)) {
				f64[i] = float64(next()%1e6) / 100
			}
			if k := next() % 16; k < 4 {
				i32[i], i64[i] = specialsI32[k%uint64(len(specialsI32))], specialsI64[k%uint64(len(specialsI64))]
				f64[i] = specialsF[next()%uint64(len(specialsF))]
			}
		}
		cols = append(cols,
			OutColumn{Name: "few" + suffix, Type: OutString, Optional: opt, Str: few, Null: nl},
			OutColumn{Name: "many" + suffix, Type: OutString, Optional: opt, Str: many, Null: nl},
			OutColumn{Name: "i32" + suffix, Type: OutInt32, Optional: opt, I32: i32, Null: nl},
			OutColumn{Name: "fewi32" + suffix, Type: OutInt32, Optional: opt, I32: fewI32, Null: nl},
			OutColumn{Name: "i64" + suffix, Type: OutInt64, Optional: opt, I64: i64, Null: nl},
			OutColumn{Name: "fewi64" + suffix, Type: OutInt64, Optional: opt, I64: fewI64, Null: nl},
			OutColumn{Name: "f64" + suffix, Type: OutDouble, Optional: opt, F64: f64, Null: nl},
			OutColumn{Name: "fewf64" + suffix, Type: OutDouble, Optional: opt, F64: fewF64, Null: nl},
			OutColumn{Name: "bool" + suffix, Type: OutBool, Optional: opt, B: b, Null: nl},
			OutColumn{Name: "date" + suffix, Type: OutDate, Optional: opt, I32: date, Null: nl},
			OutColumn{Name: "ts" + suffix, Type: OutTimestamp, Optional: opt, I64: ts, Null: nl},
			OutColumn{Name: "fewts" + suffix, Type: OutTimestamp, Optional: opt, I64: fewTS, Null: nl},
		)
	}
	zeroed := make([]float64, n)
	for i := range zeroed {
		zeroed[i] = float64(i) + 0.5
	}
	cols = append(cols, OutColumn{Name: "f64_req_nulls", Type: OutDouble, F64: zeroed, Null: nulls})
	return cols
}

// nullsNear is a null pattern: every row within one of a boundary (chunk
// or row group), the first and last rows, and every 13th row.
func nullsNear(n, group int) func(int) bool {
	return func(i int) bool {
		near := func(m int) bool { d := i % m; return d == 0 || d == m-1 || d == 1 }
		return i == n-1 || i%13 == 5 || near(writeChunk) || (group > 2 && near(group))
	}
}

func TestWriteParquetRoundTrip(t *testing.T) {
	racetest.Skip(t, "a check of values, not of concurrency")
	for _, tc := range []struct {
		name        string
		n, group, w int
		null        func(n, group int) func(int) bool
		plain       bool // WriteOptions.PlainIntegers
	}{
		{name: "zero rows", n: 0, group: 10},
		{name: "one row", n: 1, group: 10},
		{name: "one row null", n: 1, group: 10, null: func(int, int) func(int) bool { return func(int) bool { return true } }},
		{name: "tiny groups", n: 1001, group: 7, w: 3, null: nullsNear},
		{name: "groups across chunks", n: 3*writeChunk + 5, group: 10_000, w: 2, null: nullsNear},
		{name: "group of one chunk", n: 2*writeChunk + 1, group: writeChunk, null: nullsNear},
		{name: "default groups", n: 131072 + writeChunk + 3, w: 2, null: nullsNear},
		{name: "all null", n: writeChunk + 100, group: 5000, null: func(int, int) func(int) bool { return func(int) bool { return true } }},
		{name: "no nulls", n: writeChunk + 100, group: 5000, null: func(int, int) func(int) bool { return func(int) bool { return false } }},
		{name: "plain integers", n: 3*writeChunk + 5, group: 10_000, w: 2, null: nullsNear, plain: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			null := func(int) bool { return false }
			if tc.null != nil {
				null = tc.null(tc.n, tc.group)
			}
			cols := roundTripTable(tc.n, null, false)
			var buf bytes.Buffer
			meta := map[string]string{"strata.table": "segments", "b": "2"}
			if err := WriteParquet(&buf, cols, WriteOptions{RowsPerGroup: tc.group, Workers: tc.w, Metadata: meta, PlainIntegers: tc.plain}); err != nil {
				t.Fatal(err)
			}
			checkParquet(t, buf.Bytes(), cols, cmpOr(tc.group, 131072), meta, format.Zstd, tc.plain)
		})
	}
}

// TestWriteParquetCompression: every codec output.compression offers
// writes the same rows, marked with that codec in every column chunk.
func TestWriteParquetCompression(t *testing.T) {
	const n, group = 2*writeChunk + 77, 10_000
	cols := roundTripTable(n, nullsNear(n, group), false)
	sizes := map[string]int{}
	for name, want := range map[string]format.CompressionCodec{"": format.Zstd, "zstd": format.Zstd, "snappy": format.Snappy, "uncompressed": format.Uncompressed} {
		var buf bytes.Buffer
		if err := WriteParquet(&buf, cols, WriteOptions{RowsPerGroup: group, Compression: name}); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		checkParquet(t, buf.Bytes(), cols, group, nil, want, false)
		sizes[name] = buf.Len()
	}
	if !(sizes["zstd"] < sizes["snappy"] && sizes["snappy"] < sizes["uncompressed"]) {
		t.Errorf("sizes %v: want zstd < snappy < uncompressed", sizes)
	}
	err := WriteParquet(io.Discard, cols, WriteOptions{Compression: "lzo"})
	if err == nil || !strings.Contains(err.Error(), `unknown compression "lzo"`) {
		t.Errorf("lzo: %v, want an unknown-compression error", err)
	}
}

func isInteger(t OutType) bool {
	return t == OutInt32 || t == OutInt64 || t == OutDate || t == OutTimestamp
}

func cmpOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

// checkParquet reads data back with parquet-go's generic reader and checks
// the schema, the layout and every value and null against cols.
func checkParquet(t *testing.T, data []byte, cols []OutColumn, group int, meta map[string]string, codec format.CompressionCodec, plainIntegers bool) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	n := cols[0].Len()
	if f.NumRows() != int64(n) {
		t.Fatalf("%d rows, want %d", f.NumRows(), n)
	}
	for k, v := range meta {
		if got, _ := f.Lookup(k); got != v {
			t.Errorf("metadata %s=%q, want %q", k, got, v)
		}
	}
	fields := f.Schema().Fields()
	if len(fields) != len(cols) {
		t.Fatalf("%d columns, want %d", len(fields), len(cols))
	}
	for c, fl := range fields {
		col := &cols[c]
		kind, logical := map[OutType]parquet.Kind{OutString: parquet.ByteArray, OutInt32: parquet.Int32, OutInt64: parquet.Int64,
			OutDouble: parquet.Double, OutBool: parquet.Boolean, OutDate: parquet.Int32, OutTimestamp: parquet.Int64}[col.Type],
			map[OutType]string{OutString: "STRING", OutInt32: "INT(32,true)", OutInt64: "INT(64,true)", OutDate: "DATE", OutTimestamp: "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"}[col.Type]
		lt := ""
		if l := fl.Type().LogicalType(); l != nil {
			lt = l.String()
		}
		if fl.Name() != col.Name || fl.Type().Kind() != kind || lt != logical || fl.Optional() != col.Optional || fl.Required() == col.Optional {
			t.Errorf("column %d is %s %v %s optional=%v, want %s %v %s optional=%v",
				c, fl.Name(), fl.Type().Kind(), lt, fl.Optional(), col.Name, kind, logical, col.Optional)
		}
	}
	rgs := f.RowGroups()
	if want := (n + group - 1) / group; len(rgs) != want {
		t.Fatalf("%d row groups, want %d", len(rgs), want)
	}
	row := 0
	for g, rg := range rgs {
		if want := min(group, n-g*group); rg.NumRows() != int64(want) {
			t.Errorf("row group %d has %d rows, want %d", g, rg.NumRows(), want)
		}
		for c, cc := range f.Metadata().RowGroups[g].Columns {
			md := cc.MetaData
			enc := fmt.Sprint(md.Encoding)
			dict := strings.Contains(enc, "RLE_DICTIONARY")
			delta := strings.Contains(enc, "DELTA_BINARY_PACKED")
			wantDict := cols[c].repeats(group)
			wantDelta := !wantDict && !plainIntegers && isInteger(cols[c].Type)
			if md.Codec != codec || dict != wantDict || delta != wantDelta {
				t.Errorf("row group %d column %s: codec %v, encodings %v; want dictionary %v, delta %v",
					g, cols[c].Name, md.Codec, md.Encoding, wantDict, wantDelta)
			}
		}
		rows := rg.Rows()
		buf := make([]parquet.Row, 100)
		for {
			k, err := rows.ReadRows(buf)
			for _, r := range buf[:k] {
				checkRow(t, cols, row, r)
				row++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("row group %d: %v", g, err)
			}
		}
		rows.Close()
	}
	if row != n {
		t.Errorf("read %d rows, want %d", row, n)
	}
}

func checkRow(t *testing.T, cols []OutColumn, i int, r parquet.Row) {
	t.Helper()
	if len(r) != len(cols) {
		t.Fatalf("row %d has %d values, want %d", i, len(r), len(cols))
	}
	for c, v := range r {
		col := &cols[c]
		isNull := col.Null != nil && col.Null[i]
		if col.Optional && isNull {
			if !v.IsNull() || v.DefinitionLevel() != 0 {
				t.Fatalf("%s row %d: %v, want null", col.Name, i, v)
			}
			continue
		}
		want := 0
		if col.Optional {
			want = 1
		}
		ok := !v.IsNull() && v.DefinitionLevel() == want && v.Column() == c
		if ok {
			switch col.Type {
			case OutString:
				ok = string(v.ByteArray()) == col.Str[i]
			case OutInt32, OutDate:
				ok = v.Int32() == col.I32[i]
			case OutInt64, OutTimestamp:
				ok = v.Int64() == col.I64[i]
			case OutDouble:
				w := col.F64[i]
				if isNull { // a null in a required column
					w = 0
				}
				ok = math.Float64bits(v.Double()) == math.Float64bits(w)
			case OutBool:
				ok = v.Boolean() == col.B[i]
			}
		}
		if !ok {
			t.Fatalf("%s row %d: read %v (def %d), wrote %v", col.Name, i, v, v.DefinitionLevel(), cellString(col, i))
		}
	}
}

func cellString(col *OutColumn, i int) string {
	if col.Null != nil && col.Null[i] {
		return "null"
	}
	switch col.Type {
	case OutString:
		return strconv.Quote(col.Str[i])
	case OutInt32, OutDate:
		return strconv.Itoa(int(col.I32[i]))
	case OutInt64, OutTimestamp:
		return strconv.FormatInt(col.I64[i], 10)
	case OutDouble:
		return strconv.FormatFloat(col.F64[i], 'g', -1, 64)
	case OutBool:
		return strconv.FormatBool(col.B[i])
	}
	return "?"
}

// TestWriteParquetDuckDB has DuckDB, which shares no code with parquet-go,
// read a written file: its schema as DuckDB sees it, and every value.
func TestWriteParquetDuckDB(t *testing.T) {
	racetest.Skip(t, "a DuckDB cross-check of the written files")
	if testing.Short() {
		t.Skip("starts node")
	}
	if _, err := duckdbtest.Install(); err != nil {
		t.Skipf("duckdb not available: %v", err)
	}
	for _, compression := range []string{"zstd", "snappy"} {
		t.Run(compression, func(t *testing.T) { checkDuckDB(t, compression) })
	}
}

func checkDuckDB(t *testing.T, compression string) {
	const n, group = 2*writeChunk + 77, 10_000
	cols := roundTripTable(n, nullsNear(n, group), true)
	path := filepath.Join(t.TempDir(), "t.parquet")
	var buf bytes.Buffer
	if err := WriteParquet(&buf, cols, WriteOptions{RowsPerGroup: group, Metadata: map[string]string{"k": "v"}, Compression: compression}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("read_parquet('%s', file_row_number = true)", path)

	duckType := map[OutType]string{OutString: "VARCHAR", OutInt32: "INTEGER", OutInt64: "BIGINT", OutDouble: "DOUBLE",
		OutBool: "BOOLEAN", OutDate: "DATE", OutTimestamp: "TIMESTAMP WITH TIME ZONE"}
	desc := duckdbtest.Query(t, "DESCRIBE SELECT * EXCLUDE (file_row_number) FROM "+src)
	schema := duckdbtest.Query(t, fmt.Sprintf("SELECT name, repetition_type FROM parquet_schema('%s') WHERE num_children IS NULL", path))
	if len(desc) != len(cols) || len(schema) != len(cols) {
		t.Fatalf("duckdb sees %d / %d columns, want %d", len(desc), len(schema), len(cols))
	}
	for c := range cols {
		rep := "REQUIRED"
		if cols[c].Optional {
			rep = "OPTIONAL"
		}
		if desc[c]["column_name"] != cols[c].Name || desc[c]["column_type"] != duckType[cols[c].Type] || schema[c]["repetition_type"] != rep {
			t.Errorf("duckdb column %d: %v %v, want %s %s %s", c, desc[c], schema[c], cols[c].Name, duckType[cols[c].Type], rep)
		}
	}

	// Every value as text, so that nothing is lost to JSON numbers.
	var sel []string
	for _, col := range cols {
		q := `"` + col.Name + `"`
		switch col.Type {
		case OutDate:
			q = fmt.Sprintf("(%s - DATE '1970-01-01')", q)
		case OutTimestamp:
			q = fmt.Sprintf("epoch_us(%s)", q)
		}
		sel = append(sel, fmt.Sprintf("CAST(%s AS VARCHAR) AS %q", q, col.Name))
	}
	rows := duckdbtest.Query(t, fmt.Sprintf("SELECT %s FROM %s ORDER BY file_row_number", strings.Join(sel, ", "), src))
	if len(rows) != n {
		t.Fatalf("duckdb read %d rows, want %d", len(rows), n)
	}
	for i, r := range rows {
		for c := range cols {
			col := &cols[c]
			got, want := r[col.Name], any(nil)
			isNull := col.Null != nil && col.Null[i]
			switch {
			case col.Optional && isNull:
			case col.Type == OutString:
				want = col.Str[i]
			case col.Type == OutDouble:
				w := col.F64[i]
				if isNull {
					w = 0
				}
				s, _ := got.(string)
				if g, err := strconv.ParseFloat(s, 64); err == nil && math.Float64bits(g) == math.Float64bits(w) {
					got = w
				}
				want = w
			default:
				want = cellString(col, i)
				if col.Type == OutBool {
					// DuckDB renders booleans as true/false too.
					want = strconv.FormatBool(col.B[i])
				}
			}
			if got != want {
				t.Fatalf("duckdb %s row %d: %#v, want %#v", col.Name, i, got, want)
			}
		}
	}
}

func TestRepeats(t *testing.T) {
	cols := roundTripTable(50_000, nullsNear(50_000, 10_000), false)
	for c := range cols {
		if typ := cols[c].Type; typ != OutBool && cols[c].repeats(10_000) != strings.HasPrefix(cols[c].Name, "few") {
			t.Errorf("%s: dictionary %v", cols[c].Name, cols[c].repeats(10_000))
		}
	}
	for _, tc := range []struct {
		str  []string
		null []bool
		want bool
	}{
		{nil, nil, false},
		{[]string{"a"}, nil, false},
		{[]string{"a", "a", "a", "a", "a", "a", "a", "a"}, nil, true},
		{[]string{"a", "a", "a", "a", "a", "a", "a", "b"}, nil, false},
		{[]string{"a", "b"}, []bool{true, true}, false}, // all null
	} {
		c := OutColumn{Type: OutString, Optional: tc.null != nil, Str: tc.str, Null: tc.null}
		if got := c.repeats(10); got != tc.want {
			t.Errorf("%q nulls %v: %v, want %v", tc.str, tc.null, got, tc.want)
		}
	}
}

// TestFewDistinct checks the exact count of the numeric columns against a
// map over the first row group, at and around the bound (an eighth of its
// non-null rows), with the values a set keyed on zero could get wrong: 0
// itself, -0 and 0, NaN payloads, and values that differ only in the
// high bits the hash uses.
func TestFewDistinct(t *testing.T) {
	naive := func(v []uint64, null []bool, group int) bool {
		rows, seen := 0, map[uint64]bool{}
		for i := 0; i < min(group, len(v)); i++ {
			if null != nil && null[i] {
				continue
			}
			rows++
			seen[v[i]] = true
		}
		return rows > 0 && len(seen)*8 <= rows
	}
	r := uint64(42)
	next := func() uint64 { r ^= r << 13; r ^= r >> 7; r ^= r << 17; return r }
	specials := []uint64{0, math.Float64bits(math.Copysign(0, -1)), math.Float64bits(math.NaN()), 0x7ff8000000000bad, 1 << 63, 1}
	for _, n := range []int{1, 7, 8, 9, 64, 1000, 10_000, 100_003} {
		for _, group := range []int{1, 8, 100, 4096, 131072} {
			m := min(n, group)
			for _, distinct := range []int{1, 2, m/8 - 1, m / 8, m/8 + 1, m / 4, m, n} {
				if distinct < 1 {
					continue
				}
				for _, withNulls := range []bool{false, true} {
					// Values drawn from a pool of `distinct` values, the
					// specials first; every 5th row null when asked.
					pool := make([]uint64, distinct)
					for i := range pool {
						if i < len(specials) {
							pool[i] = specials[i]
						} else {
							pool[i] = next() &^ 0xffff // equal low bits: the hash must use the high ones
						}
					}
					v := make([]uint64, n)
					var null []bool
					if withNulls {
						null = make([]bool, n)
					}
					for i := range v {
						v[i] = pool[int(next()%uint64(distinct))]
						if withNulls {
							null[i] = i%5 == 2
						}
					}
					if got, want := fewDistinct(firstGroup(null, v, group)), naive(v, null, group); got != want {
						t.Errorf("n %d group %d pool %d nulls %v: %v, want %v", n, group, distinct, withNulls, got, want)
					}
					v32 := make([]uint32, n)
					v64 := make([]uint64, n)
					for i := range v {
						v32[i] = uint32(v[i] >> 32)
						v64[i] = uint64(v32[i])
					}
					if got, want := fewDistinct(firstGroup(null, v32, group)), naive(v64, null, group); got != want {
						t.Errorf("uint32 n %d group %d pool %d nulls %v: %v, want %v", n, group, distinct, withNulls, got, want)
					}
				}
			}
		}
	}
}
