package pipeline

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
)

// output.compression reaches every published table, and changes what is
// stored, not what is read back.
func TestOutputCompression(t *testing.T) {
	in := shop(t, 300)
	runs := map[string][][]string{}
	for _, tc := range []struct {
		compression string
		codec       format.CompressionCodec
	}{{"", format.Zstd}, {"snappy", format.Snappy}, {"uncompressed", format.Uncompressed}} {
		cfg := demoConfig(t, "")
		cfg.Output.Compression = tc.compression
		out := objstore.NewMem()
		res := runOn(t, cfg, in, out, "2025-06-30")
		parts := publishedChunks(t, out, &res.Manifest, func(table string, cc *format.ColumnChunk) {
			if cc.MetaData.Codec != tc.codec {
				t.Fatalf("%q: %s column %v is %v, want %v", tc.compression, table, cc.MetaData.PathInSchema, cc.MetaData.Codec, tc.codec)
			}
		})
		if parts < 4 {
			t.Fatalf("%q: %d Parquet parts published, want the segments, summary, quarantine, features and more", tc.compression, parts)
		}
		runs[tc.compression] = columns(t, out, &res.Manifest, "segments", "customer_id", "rfm_segment", "cluster_id", "clv")
	}
	for name, cols := range runs {
		for c := range cols {
			if strings.Join(cols[c], ",") != strings.Join(runs[""][c], ",") {
				t.Errorf("%q: segments column %d differs from zstd's", name, c)
			}
		}
	}
}

// output.integer_encoding: by default the segments table's timestamps,
// which do not repeat, are written as deltas; plain writes no delta-encoded
// column in any table, for readers that predate the encoding. The values
// read back are the same.
func TestOutputIntegerEncoding(t *testing.T) {
	in := shop(t, 300)
	runs := map[string][][]string{}
	for _, enc := range []string{"", "plain"} {
		cfg := demoConfig(t, "")
		cfg.Output.IntegerEncoding = enc
		out := objstore.NewMem()
		res := runOn(t, cfg, in, out, "2025-06-30")
		deltas := map[string]bool{}
		publishedChunks(t, out, &res.Manifest, func(table string, cc *format.ColumnChunk) {
			if slices.Contains(cc.MetaData.Encoding, format.DeltaBinaryPacked) {
				deltas[table+"."+strings.Join(cc.MetaData.PathInSchema, ".")] = true
			}
		})
		switch enc {
		case "":
			for _, c := range []string{"segments.first_order_at", "segments.last_order_at"} {
				if !deltas[c] {
					t.Errorf("default encoding: %s is not delta-encoded (delta columns: %v)", c, deltas)
				}
			}
		case "plain":
			if len(deltas) > 0 {
				t.Errorf("plain: delta-encoded columns %v", deltas)
			}
		}
		runs[enc] = columns(t, out, &res.Manifest, "segments", "customer_id", "first_order_at", "last_order_at", "frequency", "recency_days")
	}
	for c := range runs[""] {
		if got, want := strings.Join(runs["plain"][c], ","), strings.Join(runs[""][c], ","); got != want || want == "" {
			t.Errorf("segments column %d: plain %q, delta %q", c, got, want)
		}
	}
}

// publishedChunks calls fn with every column chunk of every Parquet part
// of the run m describes, and returns the number of parts.
func publishedChunks(t *testing.T, out objstore.Bucket, m *publish.Manifest, fn func(table string, cc *format.ColumnChunk)) int {
	t.Helper()
	parts := 0
	for table, tf := range m.Tables {
		for _, key := range tf.Keys {
			if !strings.HasSuffix(key, ".parquet") {
				continue
			}
			ra, size, err := out.ReaderAt(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parquet.OpenFile(ra, size)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			for _, rg := range f.Metadata().RowGroups {
				for c := range rg.Columns {
					fn(table, &rg.Columns[c])
				}
			}
			parts++
		}
	}
	return parts
}
