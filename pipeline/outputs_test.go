package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/pipeline/objstore"
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
		parts := 0
		for table, tf := range res.Manifest.Tables {
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
					for _, cc := range rg.Columns {
						if cc.MetaData.Codec != tc.codec {
							t.Fatalf("%q: %s column %v is %v, want %v", tc.compression, table, cc.MetaData.PathInSchema, cc.MetaData.Codec, tc.codec)
						}
					}
				}
				parts++
			}
		}
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
