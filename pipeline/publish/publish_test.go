package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/objstoretest"
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

// TestCommitSettles: a failed commit write is settled by reading the
// manifest back; only a manifest that is the run's own makes it
// published, and an uncertain commit deletes nothing, whatever the
// state of the run's context.
func TestCommitSettles(t *testing.T) {
	cases := []struct {
		name      string
		mode      objstoretest.Mode
		published bool
	}{
		{"write failed before it took effect", objstoretest.FailBefore, false},
		{"write landed, answer lost", objstoretest.FailAfter, true},
		{"cancelled before the write", objstoretest.Cancel, false},
		{"killed before the write", objstoretest.CrashBefore, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := objstore.NewMem()
			if err := publishRun(context.Background(), mem, "aaaaaaaaaaaaaaaa", "good"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := &objstoretest.Faults{Bucket: mem, CancelFunc: cancel, Mode: c.mode}
			p := New(f, date, "cccccccccccccccc")
			if err := p.WritePart(ctx, "segments", 0, "parquet", 3, func(w io.Writer) error { _, err := io.WriteString(w, "segments:new"); return err }); err != nil {
				t.Fatal(err)
			}
			// The commit is the call after the read of the manifest and
			// the record of the one it replaces.
			f.At = len(f.Calls()) + 3
			m, err := p.Commit(ctx, Manifest{ConfigHash: "h"})
			if f.Calls()[f.At-1] != (objstoretest.Call{Op: objstoretest.OpPut, Key: SuccessKey(date)}) {
				t.Fatalf("interrupted %v, not the commit", f.Calls()[f.At-1])
			}
			got, rerr := ReadManifest(context.Background(), mem, date)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if c.published {
				var ce *CleanupError
				if (err != nil && !errors.As(err, &ce)) || m == nil || got.Attempt != "cccccccccccccccc" {
					t.Fatalf("a commit that landed: %v, manifest %s", err, got.Attempt)
				}
				return
			}
			if !errors.Is(err, ErrCommitUncertain) || got.Attempt != "aaaaaaaaaaaaaaaa" {
				t.Fatalf("want ErrCommitUncertain and the previous manifest, got %v, manifest %s", err, got.Attempt)
			}
			// Nothing deleted: the write might still land and name it.
			if _, err := mem.Attributes(context.Background(), p.PartKey("segments", 0, "parquet")); err != nil {
				t.Errorf("the uncertain commit's part is gone: %v", err)
			}
		})
	}
}

// TestCompleteFinishesAnInterruptedPublication: a run killed right after
// its commit leaves the previous run's objects (also in a partition of a
// table the new run does not have) and stale fixed-name copies; Complete
// removes and rewrites them, keeps the objects of the attempt it is told
// to keep, and is idempotent.
func TestCompleteFinishesAnInterruptedPublication(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMem()
	if err := publishRun(ctx, mem, "aaaaaaaaaaaaaaaa", "old"); err != nil {
		t.Fatal(err)
	}
	gone := PartitionPrefix("dropped", date) + "part-00000-aaaaaaaaaaaaaaaa.parquet"
	p := New(mem, date, "aaaaaaaaaaaaaaaa")
	if err := p.WritePart(ctx, "dropped", 0, "parquet", 1, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	// Make the old run's manifest name the table the new run drops.
	old, _ := ReadManifest(ctx, mem, date)
	old.Tables["dropped"] = TableFiles{Keys: []string{gone}, Rows: 1}
	putManifest(t, mem, old)

	// The new run, killed at the first call after its commit.
	f := &objstoretest.Faults{Bucket: mem, Mode: objstoretest.CrashBefore}
	n := New(f, date, "bbbbbbbbbbbbbbbb")
	for _, table := range []string{"segments", "segment_summary", "quarantine"} {
		if err := n.WritePart(ctx, table, 0, "parquet", 3, func(w io.Writer) error { _, err := fmt.Fprintf(w, "%s:new", table); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.WriteObject(ctx, "model", "models", "model.json", []byte(`{"tag":"new"}`)); err != nil {
		t.Fatal(err)
	}
	f.At = len(f.Calls()) + 4 // manifest read, record, commit, then the first finishing call
	if _, err := n.Commit(ctx, Manifest{ConfigHash: "h"}); err == nil {
		t.Fatal("the killed commit finished")
	}
	// A shard of the attempt the next run is about to publish.
	shard := PartitionPrefix("segments", date) + "part-00000-of-00002-dddddddddddddddd.parquet"
	if err := mem.Upload(ctx, shard, strings.NewReader("shard")); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(ctx, mem, date)
	if err != nil || m.Attempt != "bbbbbbbbbbbbbbbb" {
		t.Fatalf("manifest %v %v", m, err)
	}
	done, err := Complete(ctx, mem, m, "dddddddddddddddd")
	if err != nil || done.Done() {
		t.Fatalf("Complete: %+v %v", done, err)
	}
	for _, k := range []string{gone, replacedKey(date, "aaaaaaaaaaaaaaaa")} {
		if _, err := mem.Attributes(ctx, k); !objstore.IsNotExist(err) {
			t.Errorf("%s survived: %v", k, err)
		}
	}
	if _, err := mem.Attributes(ctx, shard); err != nil {
		t.Errorf("the kept attempt's shard was deleted: %v", err)
	}
	if err := mem.Delete(ctx, shard); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, mem, "new")
	if again, err := Complete(ctx, mem, m, "dddddddddddddddd"); err != nil || !again.Done() {
		t.Errorf("a second Complete did something: %+v %v", again, err)
	}
}

func putManifest(t *testing.T, b objstore.Bucket, m *Manifest) {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(context.Background(), SuccessKey(m.AsOf), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func TestFixedKey(t *testing.T) {
	cases := []struct{ key, attempt, want string }{
		{"models/dt=D/model-abc.json", "abc", "models/dt=D/model.json"},
		{"reports/dt=D/report-abc.html", "abc", "reports/dt=D/report.html"},
		{"models/dt=D/model-abc.json", "xyz", ""},
		{"models/dt=D/model.json", "abc", ""},
	}
	for _, c := range cases {
		if got := FixedKey(c.key, c.attempt); got != c.want {
			t.Errorf("FixedKey(%q, %q) = %q, want %q", c.key, c.attempt, got, c.want)
		}
	}
}
