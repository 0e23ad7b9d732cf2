package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// faulty fails the Nth upload (1-based) and every later one.
type faulty struct {
	objstore.Bucket
	failAt  int64
	uploads atomic.Int64
}

var errInjected = errors.New("injected fault")

func (f *faulty) Upload(ctx context.Context, key string, r io.Reader) error {
	if n := f.uploads.Add(1); f.failAt > 0 && n >= f.failAt {
		io.Copy(io.Discard, r)
		return fmt.Errorf("upload %s: %w", key, errInjected)
	}
	return f.Bucket.Upload(ctx, key, r)
}

const date = "2025-06-30"

// publishRun publishes a run whose table contents are tagged with tag; it
// makes 4 uploads before the commit: 3 parts and one extra object.
func publishRun(ctx context.Context, b objstore.Bucket, attempt, tag string) error {
	p := New(b, date, attempt)
	err := func() error {
		for _, table := range []string{"segments", "segment_summary", "quarantine"} {
			err := p.WritePart(ctx, table, 0, "parquet", 3, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s:%s", table, tag)
				return err
			})
			if err != nil {
				return err
			}
		}
		return p.WriteObject(ctx, "model", "models", "model.json", []byte(`{"tag":"`+tag+`"}`))
	}()
	if err != nil {
		p.Abort(context.Background())
		return err
	}
	_, err = p.Commit(ctx, Manifest{ConfigHash: "h"})
	return err
}

// assertComplete checks the committed run is readable, complete and all
// of one tag, and that no other attempt's parts are in its partitions.
func assertComplete(t *testing.T, b objstore.Bucket, tag string) {
	t.Helper()
	ctx := context.Background()
	m, err := ReadManifest(ctx, b, date)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if len(m.Tables) != 3 {
		t.Fatalf("manifest has %d tables", len(m.Tables))
	}
	for table, tf := range m.Tables {
		for _, k := range tf.Keys {
			data, err := objstore.ReadAll(ctx, b, k)
			if err != nil {
				t.Fatalf("committed object %s: %v", k, err)
			}
			if string(data) != table+":"+tag {
				t.Fatalf("%s holds %q, want tag %s", k, data, tag)
			}
		}
		keys, _ := objstore.List(ctx, b, PartitionPrefix(table, date))
		var parts []string
		for _, k := range keys {
			if strings.Contains(k, "/part-") {
				parts = append(parts, k)
			}
		}
		if len(parts) != len(tf.Keys) {
			t.Errorf("%s partition holds %v, manifest names %v", table, parts, tf.Keys)
		}
	}
	model, err := objstore.ReadAll(ctx, b, "models/dt="+date+"/model.json")
	if err != nil || !strings.Contains(string(model), tag) {
		t.Errorf("model.json %q %v, want tag %s", model, err, tag)
	}
}

func TestPublishAndReplace(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMem()
	if err := publishRun(ctx, b, "aaaaaaaaaaaaaaaa", "one"); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, b, "one")
	if err := publishRun(ctx, b, "bbbbbbbbbbbbbbbb", "two"); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, b, "two")
	// The same attempt again rewrites the same keys: nothing accumulates.
	before, _ := objstore.List(ctx, b, "")
	if err := publishRun(ctx, b, "bbbbbbbbbbbbbbbb", "two"); err != nil {
		t.Fatal(err)
	}
	after, _ := objstore.List(ctx, b, "")
	if strings.Join(before, ",") != strings.Join(after, ",") {
		t.Errorf("re-run changed the key set:\n%v\n%v", before, after)
	}
}

// TestFailureAtEachPointKeepsPreviousRun injects a fault at every upload of
// a re-run, including the record of the replaced manifest and the commit
// itself: the previous run must stay complete, and once the next run of
// the date has finished the publication (Complete), the orphans must be
// gone (a failed commit keeps them: its write may yet land).
func TestFailureAtEachPointKeepsPreviousRun(t *testing.T) {
	for failAt := int64(1); failAt <= 6; failAt++ {
		t.Run(fmt.Sprintf("upload %d", failAt), func(t *testing.T) {
			ctx := context.Background()
			mem := objstore.NewMem()
			if err := publishRun(ctx, mem, "aaaaaaaaaaaaaaaa", "good"); err != nil {
				t.Fatal(err)
			}
			f := &faulty{Bucket: mem, failAt: failAt}
			err := publishRun(ctx, f, "cccccccccccccccc", "bad")
			if !errors.Is(err, errInjected) {
				t.Fatalf("want the injected fault, got %v", err)
			}
			m, err := ReadManifest(ctx, mem, date)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Complete(ctx, mem, m, ""); err != nil {
				t.Fatal(err)
			}
			assertComplete(t, mem, "good")
			// Then a successful run replaces it cleanly.
			if err := publishRun(ctx, mem, "dddddddddddddddd", "next"); err != nil {
				t.Fatal(err)
			}
			assertComplete(t, mem, "next")
		})
	}
}

// TestFailureOnFirstPublishLeavesNothingVisible: with no previous run, a
// failed run leaves no manifest and no parts.
func TestFailureOnFirstPublishLeavesNothingVisible(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMem()
	f := &faulty{Bucket: mem, failAt: 3}
	if err := publishRun(ctx, f, "aaaaaaaaaaaaaaaa", "x"); !errors.Is(err, errInjected) {
		t.Fatal(err)
	}
	if _, err := ReadManifest(ctx, mem, date); !objstore.IsNotExist(err) {
		t.Errorf("manifest after failed first run: %v", err)
	}
	keys, _ := objstore.List(ctx, mem, "")
	if len(keys) != 0 {
		t.Errorf("objects left behind: %v", keys)
	}
}

// TestOrphansOfACrashedRunAreCleanedUp: a run that died without Abort leaves
// parts; the next successful run removes them.
func TestOrphansOfACrashedRunAreCleanedUp(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMem()
	p := New(mem, date, "eeeeeeeeeeeeeeee")
	if err := p.WritePart(ctx, "segments", 0, "parquet", 1, func(w io.Writer) error { _, err := w.Write([]byte("orphan")); return err }); err != nil {
		t.Fatal(err)
	}
	// A user's own file in the partition is not ours to delete.
	if err := mem.Upload(ctx, PartitionPrefix("segments", date)+"README.txt", bytes.NewReader([]byte("hi"))); err != nil {
		t.Fatal(err)
	}
	if err := publishRun(ctx, mem, "ffffffffffffffff", "ok"); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, mem, "ok")
	if _, err := mem.Attributes(ctx, PartitionPrefix("segments", date)+"README.txt"); err != nil {
		t.Errorf("user file deleted: %v", err)
	}
}

func TestPreviousSkipsUncommittedDates(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMem()
	for _, d := range []string{"2025-06-01", "2025-06-03", "2025-06-05"} {
		p := New(b, d, "a1")
		if err := p.WritePart(ctx, "segments", 0, "parquet", 1, func(w io.Writer) error { _, err := w.Write([]byte(d)); return err }); err != nil {
			t.Fatal(err)
		}
		if d == "2025-06-03" {
			continue // data without a commit record: not a run
		}
		if _, err := p.Commit(ctx, Manifest{ConfigHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct{ date, want string }{
		{"2025-06-01", ""}, {"2025-06-02", "2025-06-01"}, {"2025-06-04", "2025-06-01"},
		{"2025-06-05", "2025-06-01"}, {"2025-06-06", "2025-06-05"},
	}
	for _, tc := range cases {
		m, err := Previous(ctx, b, tc.date)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if m != nil {
			got = m.AsOf
		}
		if got != tc.want {
			t.Errorf("Previous(%s) = %q, want %q", tc.date, got, tc.want)
		}
	}
}
