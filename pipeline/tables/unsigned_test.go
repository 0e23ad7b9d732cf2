package tables

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// unsignedRow holds unsigned integers past their signed type's range:
// read as signed, 3,000,000,000 as a UINT32 is -1,294,967,296.
type unsignedRow struct {
	ID     uint32  `parquet:"id"`
	BigID  uint64  `parquet:"big_id"`
	Qty    uint32  `parquet:"qty"`
	Amount uint64  `parquet:"amount"`
	Count  uint64  `parquet:"count"`
	OptQty *uint32 `parquet:"opt_qty,optional"`
}

func unsignedRows(n int) []unsignedRow {
	rows := make([]unsignedRow, n)
	for i := range rows {
		q := uint32(4_000_000_000 + i)
		rows[i] = unsignedRow{
			ID: 3_000_000_000 + uint32(i), BigID: 1<<63 + uint64(i), Qty: 4_000_000_000 + uint32(i%3),
			Amount: 3_000_000_000 + uint64(i), Count: uint64(i),
		}
		if i%4 != 0 {
			rows[i].OptQty = &q
		}
		if i%5 == 4 {
			rows[i].Count = 1<<63 + uint64(i) // beyond int64: a bad Int
		}
	}
	return rows
}

// TestUnsignedParquetIntegers: UINT32 and UINT64 columns (logical type
// Integer(signed=false), and legacy converted types UINT_32 / UINT_64) are
// read as unsigned — ids, numbers and text — through every decoder: the
// direct single-page one, parquet-go's pages, dictionaries, and the boxed
// path of optional columns. A UINT64 beyond int64 read as an Int is bad,
// its raw text the unsigned number.
func TestUnsignedParquetIntegers(t *testing.T) {
	const n = 50
	rows := unsignedRows(n)
	legacy := func(data []byte) []byte {
		return rewriteFooter(t, data, func(md *format.FileMetaData) {
			for i := range md.Schema {
				el := &md.Schema[i]
				if it, ok := el.LogicalType.Value.(*format.IntType); ok {
					ct := deprecated.Uint32
					if it.BitWidth == 64 {
						ct = deprecated.Uint64
					}
					el.LogicalType = format.LogicalType{}
					el.ConvertedType.Set(ct)
				}
			}
		})
	}
	files := []struct {
		name string
		data []byte
	}{
		{"one page (direct)", writeParquet(t, rows)},
		{"small pages", writeParquet(t, rows, parquet.PageBufferSize(256))},
		{"dictionary", writeParquet(t, rows, parquet.DefaultEncodingFor(parquet.Int32, &parquet.RLEDictionary), parquet.DefaultEncodingFor(parquet.Int64, &parquet.RLEDictionary))},
		{"legacy converted types", legacy(writeParquet(t, rows))},
		{"legacy, small pages", legacy(writeParquet(t, rows, parquet.PageBufferSize(256)))},
	}
	fields := []Field{
		{Name: "customer_id", Kind: Key, Required: true},
		{Name: "big", Kind: Key, Required: true},
		{Name: "qty", Kind: Int, Required: true},
		{Name: "amount", Kind: Float, Required: true},
		{Name: "count", Kind: Int, Required: true},
		{Name: "qty_text", Kind: String, Required: true},
		{Name: "opt_qty", Kind: Float},
	}
	cols := map[string]string{"customer_id": "id", "big": "big_id", "qty_text": "qty"}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			b := objstore.NewMem()
			upload(t, b, "t/part.parquet", f.data)
			src := &Source{Bucket: b, Prefix: "t", Columns: cols, Fields: fields}
			in, err := src.Inspect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if r, ok := in.KeyRange["customer_id"]; ok && r != [2]int64{3_000_000_000, 3_000_000_000 + n - 1} {
				t.Errorf("KeyRange = %v, want the unsigned ids' range", r)
			}
			seen := 0
			for _, bt := range scanAll(t, src) {
				id, big, qty, amt, cnt, txt, opt := &bt.Cols[0], &bt.Cols[1], &bt.Cols[2], &bt.Cols[3], &bt.Cols[4], &bt.Cols[5], &bt.Cols[6]
				if id.Kind != Int || big.Kind != String {
					t.Fatalf("id kinds %v, %v: want a UINT32 id read as Int, a UINT64 one as text", id.Kind, big.Kind)
				}
				for i := range bt.N {
					r := rows[int(bt.FirstRow)+i]
					got := fmt.Sprint(id.I[i], " ", big.Str[i], " ", qty.I[i], " ", amt.F[i], " ", txt.Str[i])
					want := fmt.Sprint(r.ID, " ", r.BigID, " ", r.Qty, " ", float64(r.Amount), " ", strconv.FormatUint(uint64(r.Qty), 10))
					if got != want {
						t.Fatalf("row %d: %s, want %s", bt.FirstRow+int64(i), got, want)
					}
					if r.Count > 1<<63-1 {
						if !cnt.IsBad(i) || cnt.BadRaw[i] != strconv.FormatUint(r.Count, 10) {
							t.Errorf("row %d: count %d read as %d (bad %v), want bad with its text", bt.FirstRow+int64(i), r.Count, cnt.I[i], cnt.IsBad(i))
						}
					} else if cnt.IsNull(i) || cnt.I[i] != int64(r.Count) {
						t.Errorf("row %d: count %d read as %d", bt.FirstRow+int64(i), r.Count, cnt.I[i])
					}
					if (r.OptQty == nil) != opt.IsNull(i) || (r.OptQty != nil && opt.F[i] != float64(*r.OptQty)) {
						t.Errorf("row %d: opt_qty %v read as %v (null %v)", bt.FirstRow+int64(i), r.OptQty, opt.F[i], opt.IsNull(i))
					}
					seen++
				}
			}
			if seen != n {
				t.Fatalf("read %d rows, want %d", seen, n)
			}
		})
	}
}
