package tables

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// TestWriteParquetBoundedStatistics: a string column holding a long
// value (a 200 KB quarantine detail) is written without min/max, so the
// footer stays small, while a column of short strings keeps its min and
// max (in the footer and the page headers); both read back whole.
func TestWriteParquetBoundedStatistics(t *testing.T) {
	long := strings.Repeat("z", 200_000)
	cases := []struct {
		name   string
		detail []string
	}{
		{"long value", []string{"a", long, "b"}},
		{"value just over the bound", []string{"a", strings.Repeat("y", MaxStatisticsBytes+1), "b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cols := []OutColumn{
				{Name: "customer_id", Type: OutString, Str: []string{"c1", "c2", "c3"}},
				{Name: "detail", Type: OutString, Str: c.detail},
			}
			var buf bytes.Buffer
			if err := WriteParquet(&buf, cols, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			data := buf.Bytes()
			n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
			if n > 4096 {
				t.Errorf("footer of %d bytes", n)
			}
			var md format.FileMetaData
			if err := thrift.Unmarshal(&thrift.CompactProtocol{}, data[len(data)-8-n:len(data)-8], &md); err != nil {
				t.Fatal(err)
			}
			for _, rg := range md.RowGroups {
				id, detail := rg.Columns[0].MetaData.Statistics, rg.Columns[1].MetaData.Statistics
				if string(id.MinValue) != "c1" || string(id.MaxValue) != "c3" {
					t.Errorf("customer_id statistics %q..%q, want c1..c3", id.MinValue, id.MaxValue)
				}
				if len(detail.MinValue)+len(detail.MaxValue)+len(detail.Min)+len(detail.Max) > 2*MaxStatisticsBytes {
					t.Errorf("detail statistics of %d+%d bytes", len(detail.MinValue), len(detail.MaxValue))
				}
			}
			// The text compresses to little; statistics in page headers
			// are not compressed.
			if len(data) > 64<<10 {
				t.Errorf("file of %d bytes: statistics in its page headers?", len(data))
			}
			checkParquet(t, data, cols, 131072, nil, format.Zstd, false)
		})
	}
}
