package leaktest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/strata-oss/strata/pipeline/tables"
)

// TestFindSeesThroughCompression: a string in a zstd-compressed Parquet
// column or in its metadata is found although the raw bytes do not hold
// it; text objects are scanned as they are.
func TestFindSeesThroughCompression(t *testing.T) {
	secret := strings.Repeat("secret-value-", 40) // compresses well
	var buf bytes.Buffer
	cols := []tables.OutColumn{{Name: "v", Type: tables.OutString, Str: []string{"a", secret, "z"}}}
	if err := tables.WriteParquet(&buf, cols, tables.WriteOptions{Metadata: map[string]string{"note": "meta-needle"}}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(secret)) {
		t.Fatal("the fixture is not compressed: the test would prove nothing")
	}
	objs := map[string][]byte{"t/part-0.parquet": buf.Bytes(), "r/report.html": []byte("<p>x needle y</p>"), "m.json": []byte("{}")}
	got, err := Find(objs, secret, "meta-needle", "needle", "absent", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"r/report.html: needle", "t/part-0.parquet: meta-needle", "t/part-0.parquet: needle", "t/part-0.parquet: " + secret}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("found\n%q\nwant\n%q", got, want)
	}
	if _, err := Find(map[string][]byte{"bad.parquet": []byte("not parquet")}, "x"); err == nil {
		t.Error("an unreadable Parquet object is not an error")
	}
}
