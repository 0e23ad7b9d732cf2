package tables

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// TestCorruptParquet pins what the fuzz seeds that once crashed, hung or
// allocated gigabytes now do: fail with an error naming the object and
// saying what is wrong, within the fuzz budget of time and memory.
func TestCorruptParquet(t *testing.T) {
	seeds := parquetSeeds(t)
	cases := []struct {
		seed string
		want string // in the error of Inspect, or of Scan when Inspect passes
	}{
		// parquet-go allocated the 4 GiB the footer length claimed.
		{"footer-length-4gib", "footer claims 4294967280 bytes in a 6176-byte object"},
		// A row group claiming 2^40 rows was allocated for up front.
		{"footer-rows-2e40", "footer is corrupt: it declares 1099511627776 rows, its 3 row groups 1099511627783"},
		{"footer-rows-2e40-consistent", "read orders/part-0.parquet row group 0 column cust_id: read 5 values for 1099511627776 rows"},
		// Row counts that disagree were not noticed.
		{"footer-file-rows-only", "footer is corrupt: it declares 3 rows, its 3 row groups 12"},
		{"footer-no-row-groups", "footer is corrupt: it declares 12 rows, its 0 row groups 0"},
		{"footer-rows-negative", "row group 1 num_rows=-7 is negative"}, // parquet-go's own check
		// parquet-go panicked on these.
		{"footer-type-int64-as-double", "corrupt file: the Parquet decoder failed: DECIMAL must be of type"},
		// Statistics panicked; now ignored. The row group's column is one
		// page, decoded by directPage.
		{"footer-type-string-as-int32", "column cust_id: PLAIN: cannot decode INT32: the dictionary page holds 30 bytes for 5 values"},
		{"truncated-half", "truncated or not Parquet"},
		// parquet-go allocated what page headers claimed: 2.8 GiB, 16 GiB.
		{"dict-compressed-size-2gib", "read orders/part-0.parquet row group 0 column cust_id: page at byte 0 of the column chunk claims 2147483647 bytes"},
		{"dict-num-values-2e31", "dictionary page at byte 0 of the column chunk claims 2147483647 values in"},
		{"page-uncompressed-size-2gib", "claims 2147483647 bytes decompressed from"},
		{"page-num-values-2e31", "claims 2147483647 values, the row group has 5 rows"},
		{"page-compressed-size-2gib", "page at byte 0 of the column chunk claims 2147483647 bytes"},
		{"empty", "0 bytes is too short for a Parquet file"},
	}
	const key = "orders/part-0.parquet"
	for _, tc := range cases {
		t.Run(tc.seed, func(t *testing.T) {
			data, ok := seeds[tc.seed]
			if !ok {
				t.Fatalf("no seed %q", tc.seed)
			}
			b := objstore.NewMem()
			upload(t, b, key, data)
			src := &Source{Bucket: b, Columns: fuzzParquetColumns, Fields: fuzzFields}
			start, before := time.Now(), heapAllocs()
			_, err := src.Inspect(context.Background())
			if err == nil {
				err = src.Scan(context.Background(), func(*Batch) error { return nil })
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), key) {
				t.Fatalf("error %v, want one naming %s and containing %q", err, key, tc.want)
			}
			// The same with the columns of a row group decoded at once,
			// as a table's first group is: panics in their goroutines
			// are errors too.
			if _, ierr := src.Inspect(context.Background()); ierr == nil {
				err = scanUnits(context.Background(), src, 3, func(*Batch) error { return nil })
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), key) {
					t.Fatalf("column-parallel: error %v, want one naming %s and containing %q", err, key, tc.want)
				}
			}
			if d, n := time.Since(start), heapAllocs()-before; d > time.Second || n > fuzzAllocBudget {
				t.Errorf("took %v and %d MiB", d, n>>20)
			}
		})
	}
}

// TestParquetTimestampOverflow: instants beyond int64 microseconds are
// bad cells with their raw value, not wrapped-around dates.
func TestParquetTimestampOverflow(t *testing.T) {
	type row struct {
		Ms    int64 `parquet:"ms,timestamp(millisecond)"`
		Day   int32 `parquet:"day,date"`
		Epoch int64 `parquet:"epoch"`
	}
	rows := []row{{Ms: 1000, Day: 1, Epoch: 1}, {Ms: math.MaxInt64, Day: math.MaxInt32, Epoch: math.MinInt64}}
	b := objstore.NewMem()
	upload(t, b, "t/x.parquet", writeParquet(t, rows))
	src := &Source{Bucket: b, Prefix: "t", Columns: map[string]string{"e": "epoch:epoch_s"},
		Fields: []Field{{Name: "ms", Kind: Time}, {Name: "day", Kind: Time}, {Name: "e", Kind: Time}}}
	got := scanAll(t, src)
	if len(got) != 1 || got[0].N != 2 {
		t.Fatalf("batches %+v", got)
	}
	want := [][2]int64{{1_000_000, 86_400_000_000}, {1_000_000, 0}}
	for fi, c := range got[0].Cols {
		if c.IsBad(0) || c.I[0] != [...]int64{want[0][0], want[0][1], want[1][0]}[fi] {
			t.Errorf("%s row 0: %v bad=%v", src.Fields[fi].Name, c.I[0], c.IsBad(0))
		}
		if !c.IsBad(1) || c.BadRaw[1] == "" {
			t.Errorf("%s row 1: %v not bad (raw %q)", src.Fields[fi].Name, c.I[1], c.BadRaw)
		}
	}
	// The same rules for text.
	for _, s := range []string{"9223372036854775807", "-9223372036854775"} {
		if us, ok := parseTimeUnit(s, EpochSeconds, nil); ok {
			t.Errorf("%s epoch seconds parsed as %d", s, us)
		}
	}
	if _, ok := int96Micros([3]uint32{0, 0, math.MaxUint32}); ok {
		t.Error("INT96 of Julian day 2^32-1 did not overflow")
	}
}

// TestDuplicateMappedColumn: a mapped column that appears twice is a
// schema problem; an unmapped one is not.
func TestDuplicateMappedColumn(t *testing.T) {
	b := objstore.NewMem()
	upload(t, b, "t/x.csv", []byte("id,amount,amount,note,note\na,1,2,x,y\n"))
	src := &Source{Bucket: b, Prefix: "t", Fields: []Field{{Name: "id", Kind: String, Required: true}, {Name: "amount", Kind: Float}}}
	var se *SchemaError
	if err := src.CheckSchema(context.Background()); !errors.As(err, &se) || !strings.Contains(err.Error(), `column "amount" (for amount) appears 2 times in the header`) {
		t.Fatalf("got %v", err)
	}
	src.Fields[1].Name = "note2"
	if err := src.CheckSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestCSVByteOrderMark: a BOM is skipped before parsing, also in front of
// a quoted header (Excel's "CSV UTF-8") and inside a gzipped object;
// before, the quote after it was "bare" and the object unreadable.
func TestCSVByteOrderMark(t *testing.T) {
	for _, key := range []string{"t/x.csv", "t/x.csv.gz"} {
		data := []byte("\ufeff\"id\",\"amount\"\r\n\"a\",\"1.5\"\r\n")
		if strings.HasSuffix(key, ".gz") {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			data = buf.Bytes()
		}
		b := objstore.NewMem()
		upload(t, b, key, data)
		src := &Source{Bucket: b, Prefix: "t", Fields: []Field{{Name: "id", Kind: String, Required: true}, {Name: "amount", Kind: Float}}}
		got := scanAll(t, src)
		if len(got) != 1 || got[0].N != 1 || got[0].Cols[0].Str[0] != "a" || got[0].Cols[1].F[0] != 1.5 {
			t.Errorf("%s: batches %+v", key, got)
		}
	}
}

// TestDirectPageNegativeSizes: a single-page column whose header claims a
// negative decompressed size (which checkPages lets through: it bounds
// claims from above) is an error naming the object, not a crash:
// directPage sizes its buffer by the claim.
func TestDirectPageNegativeSizes(t *testing.T) {
	type row struct {
		ID *int64 `parquet:"id,optional"`
	}
	rows := make([]row, 300)
	for i := range rows {
		v := int64(i)
		rows[i].ID = &v
	}
	for _, version := range []int{1, 2} {
		data := writeParquet(t, rows, parquet.DataPageVersion(version))
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		md := f.Metadata().RowGroups[0].Columns[0].MetaData
		// Rewrite the page header's uncompressed size (field 2 of the
		// PageHeader, a zigzag varint right after the type) to -1.
		off := int(md.DataPageOffset)
		var h format.PageHeader
		pr := (&thrift.CompactProtocol{}).NewReaderFromBytes(data[off:])
		if err := thrift.NewDecoder(pr).Decode(&h); err != nil {
			t.Fatal(err)
		}
		h.UncompressedPageSize = -1
		hb, err := thrift.Marshal(&thrift.CompactProtocol{}, &h)
		if err != nil {
			t.Fatal(err)
		}
		if len(hb) > pr.BytesRead() {
			t.Fatalf("v%d: the rewritten header grew from %d to %d bytes", version, pr.BytesRead(), len(hb))
		}
		// The shorter header is written over the old one and followed by
		// stop bytes: the payload moves, but the claim is what directPage
		// sizes its buffer by, before it reads the payload.
		bad := append([]byte{}, data...)
		copy(bad[off:], hb)
		for i := off + len(hb); i < off+pr.BytesRead(); i++ {
			bad[i] = 0 // a stop byte: thrift's end of struct
		}
		b := objstore.NewMem()
		upload(t, b, "t/part-0.parquet", bad)
		src := &Source{Bucket: b, Prefix: "t/", Fields: []Field{{Name: "id", Kind: Int}}}
		err = src.Scan(context.Background(), func(*Batch) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "t/part-0.parquet") {
			t.Errorf("v%d: error %v, want one naming the object", version, err)
		}
	}
}

// TestRunsFor: the run headers of an RLE / bit-packed hybrid encoding are
// checked against the values a page holds before parquet-go's decoder
// sizes its output by them.
func TestRunsFor(t *testing.T) {
	uv := func(x uint64) []byte { return binary.AppendUvarint(nil, x) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, c := range []struct {
		name  string
		src   []byte
		width int
		n     int
		want  int // bytes kept; -1: an error
	}{
		{"one RLE run", cat(uv(1000<<1), []byte{1}), 1, 1000, 3},
		{"RLE then bit-packed", cat(uv(8<<1), []byte{1}, uv(2<<1|1), []byte{0xff, 0xff}), 1, 24, 5},
		{"stops at n, ignores what follows", cat(uv(10<<1), []byte{1}, []byte{0xff, 0xff, 0xff}), 1, 10, 2},
		{"a run of two billion", cat(uv(1<<31<<1), []byte{1}), 1, 1000, -1},
		{"bit-packed groups beyond the bytes, by far", cat(uv(1<<40<<1|1), []byte{0}), 3, 16, -1},
		// DuckDB pads its last bit-packed run by whole blocks of groups.
		{"bit-packed run padded past n", cat(uv(32<<1|1), make([]byte, 32*10)), 10, 69, 321},
		{"groups beyond the bytes", cat(uv(4<<1|1), []byte{0, 0}), 3, 32, -1},
		{"truncated header", []byte{0x80}, 1, 5, -1},
	} {
		got, err := runsFor(c.src, c.width, c.n)
		switch {
		case c.want < 0 && err == nil:
			t.Errorf("%s: kept %d bytes, want an error", c.name, len(got))
		case c.want >= 0 && (err != nil || len(got) != c.want):
			t.Errorf("%s: kept %d bytes (%v), want %d", c.name, len(got), err, c.want)
		}
	}
}
