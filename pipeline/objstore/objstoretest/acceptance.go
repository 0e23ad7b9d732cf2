// Package objstoretest holds the acceptance suite that every objstore.Bucket
// backend must pass, so that stages can swap a local directory for S3
// without noticing.
package objstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// LargeObjectSize is the size of the object the suite uses to push S3
// uploads past the multipart threshold (the SDK's default part is 5 MiB).
const LargeObjectSize = 20 << 20

// AcceptanceTest checks bkt against the objstore.Bucket contract. bkt must
// be empty; the suite leaves it empty again when it passes. Subtests share
// the bucket and so run one after another, each under its own key prefix.
// If bkt implements objstore.ConditionalUploader that is checked too.
func AcceptanceTest(t *testing.T, bkt objstore.Bucket) {
	t.Helper()
	ctx := t.Context()
	if keys, err := objstore.List(ctx, bkt, ""); err != nil {
		t.Fatalf("list the bucket before the suite: %v", err)
	} else if len(keys) != 0 {
		t.Fatalf("AcceptanceTest needs an empty bucket, found %d keys (first %q)", len(keys), keys[0])
	}

	t.Run("UploadGet", func(t *testing.T) { testUploadGet(t, bkt) })
	t.Run("ReaderAt", func(t *testing.T) { testReaderAt(t, bkt) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, bkt) })
	t.Run("Iter", func(t *testing.T) { testIter(t, bkt) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, bkt) })
	t.Run("Attributes", func(t *testing.T) { testAttributes(t, bkt) })
	t.Run("NotExist", func(t *testing.T) { testNotExist(t, bkt) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, bkt) })
	t.Run("EmptyObject", func(t *testing.T) { testEmpty(t, bkt) })
	t.Run("LargeObject", func(t *testing.T) { testLarge(t, bkt) })
	t.Run("ConcurrentUploads", func(t *testing.T) { testConcurrentUploads(t, bkt) })
	t.Run("ContextCanceled", func(t *testing.T) { testContextCanceled(t, bkt) })
	t.Run("UploadIfAbsent", func(t *testing.T) {
		c, ok := bkt.(objstore.ConditionalUploader)
		if !ok {
			t.Skip("bucket does not implement objstore.ConditionalUploader")
		}
		testUploadIfAbsent(t, bkt, c)
	})

	if keys, err := objstore.List(context.Background(), bkt, ""); err != nil {
		t.Errorf("list the bucket after the suite: %v", err)
	} else if len(keys) != 0 {
		t.Errorf("suite left %d keys behind: %q", len(keys), keys)
	}
}

// cleanup deletes everything under prefix when t ends, with a context of its
// own because t.Context is already canceled by then.
func cleanup(t *testing.T, bkt objstore.Bucket, prefix string) {
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := objstore.List(ctx, bkt, prefix)
		if err != nil {
			t.Errorf("cleanup: list %q: %v", prefix, err)
			return
		}
		for _, k := range keys {
			if err := bkt.Delete(ctx, k); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
}

func upload(t *testing.T, bkt objstore.Bucket, key string, data []byte) {
	t.Helper()
	if err := bkt.Upload(t.Context(), key, bytes.NewReader(data)); err != nil {
		t.Fatalf("upload %s: %v", key, err)
	}
}

func mustRead(t *testing.T, bkt objstore.Bucket, key string) []byte {
	t.Helper()
	data, err := objstore.ReadAll(t.Context(), bkt, key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return data
}

func closeReaderAt(t *testing.T, ra io.ReaderAt) {
	t.Helper()
	if c, ok := ra.(io.Closer); ok {
		if err := c.Close(); err != nil {
			t.Errorf("close ReaderAt: %v", err)
		}
	}
}

// pattern returns n bytes that differ at every offset a test is likely to
// probe, so a misplaced range shows up as a mismatch.
func pattern(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testUploadGet(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "get/")
	for _, tc := range []struct {
		key  string
		data []byte
	}{
		{"get/plain", []byte("hello, strata")},
		{"get/nested/deeper/still/obj.json", []byte(`{"k":1}`)},
		{"get/dt=2024-01-01/part-00000.parquet", pattern(1, 4096)},
		{"get/spaces and ünïcode+symbols=!", []byte("odd names are still keys")},
	} {
		t.Run(tc.key, func(t *testing.T) {
			upload(t, bkt, tc.key, tc.data)
			if got := mustRead(t, bkt, tc.key); !bytes.Equal(got, tc.data) {
				t.Fatalf("Get returned %d bytes, want %d matching the upload", len(got), len(tc.data))
			}
		})
	}
}

func testReaderAt(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "readerat/")
	ctx := t.Context()
	const size = 10000
	data := pattern(2, size)
	upload(t, bkt, "readerat/obj", data)

	ra, n, err := bkt.ReaderAt(ctx, "readerat/obj")
	if err != nil {
		t.Fatalf("ReaderAt: %v", err)
	}
	defer closeReaderAt(t, ra)
	if n != size {
		t.Fatalf("ReaderAt size = %d, want %d", n, size)
	}

	for _, tc := range []struct {
		name    string
		off     int64
		len     int
		wantN   int
		wantEOF bool // io.EOF required; otherwise nil, or io.EOF when the read ends at size
	}{
		{"head", 0, 100, 100, false},
		{"middle", 4321, 1234, 1234, false},
		{"single byte", 9999, 1, 1, false},
		{"parquet footer", size - 8, 8, 8, false},
		{"whole", 0, size, size, false},
		{"across the end", size - 4, 8, 4, true},
		{"at the end", size, 16, 0, true},
		{"past the end", size + 100, 16, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, tc.len)
			got, err := ra.ReadAt(buf, tc.off)
			if got != tc.wantN {
				t.Fatalf("ReadAt(len %d, off %d) n = %d, want %d (err %v)", tc.len, tc.off, got, tc.wantN, err)
			}
			switch {
			case tc.wantEOF && !errors.Is(err, io.EOF):
				t.Fatalf("ReadAt(len %d, off %d) err = %v, want io.EOF", tc.len, tc.off, err)
			case !tc.wantEOF && err != nil && !(err == io.EOF && tc.off+int64(got) == size):
				t.Fatalf("ReadAt(len %d, off %d): %v", tc.len, tc.off, err)
			}
			end := min(tc.off+int64(tc.len), size)
			if tc.off < size && !bytes.Equal(buf[:got], data[tc.off:end]) {
				t.Fatalf("ReadAt(len %d, off %d) returned the wrong bytes", tc.len, tc.off)
			}
		})
	}

	// parquet-go reads column chunks from several goroutines at once.
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				off := int64(i * 1000)
				buf := make([]byte, 1500)
				n, err := ra.ReadAt(buf, off)
				if err != nil && err != io.EOF {
					errs <- fmt.Errorf("ReadAt off %d: %w", off, err)
					return
				}
				if !bytes.Equal(buf[:n], data[off:off+int64(n)]) || n != 1500 {
					errs <- fmt.Errorf("ReadAt off %d returned %d wrong bytes", off, n)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func testOverwrite(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "overwrite/")
	ctx := t.Context()
	const key = "overwrite/obj"
	// Same-size versions back to back: a fingerprint built from size and a
	// coarse timestamp would not tell them apart.
	versions := [][]byte{
		[]byte("version-1"),
		[]byte("version-2"),
		[]byte("a longer third version"),
		[]byte("v4"),
	}
	seen := map[string]int{}
	for i, v := range versions {
		upload(t, bkt, key, v)
		if got := mustRead(t, bkt, key); !bytes.Equal(got, v) {
			t.Fatalf("after upload %d Get = %q, want %q", i+1, got, v)
		}
		a, err := bkt.Attributes(ctx, key)
		if err != nil {
			t.Fatalf("Attributes after upload %d: %v", i+1, err)
		}
		if a.Size != int64(len(v)) {
			t.Errorf("after upload %d Size = %d, want %d", i+1, a.Size, len(v))
		}
		if prev, dup := seen[a.ETag]; dup {
			t.Errorf("upload %d has the same ETag %q as upload %d", i+1, a.ETag, prev)
		}
		seen[a.ETag] = i + 1
	}
	keys, err := objstore.List(ctx, bkt, "overwrite/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{key}) {
		t.Errorf("after overwrites List = %q, want just %q", keys, key)
	}
}

func testIter(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "iter/")
	ctx := t.Context()
	// In lexical order. '-' < '.' < '/' so "a-c" and "a.txt" sort before
	// everything under "a/", which a naive directory walk gets wrong.
	all := []string{
		"iter/a-c",
		"iter/a.txt",
		"iter/a/b",
		"iter/a/b0",
		"iter/deep/x/y/z/obj",
		"iter/dt=2024-01-01/part-0.parquet",
		"iter/dt=2024-01-01/part-1.parquet",
		"iter/dt=2024-01-02/part-0.parquet",
		"iter/dt=2025-01-01/part-0.parquet",
		"iter/z",
	}
	// Upload out of order so insertion order cannot pass for sorting.
	for _, i := range []int{9, 3, 0, 7, 5, 1, 8, 2, 6, 4} {
		upload(t, bkt, all[i], []byte(all[i]))
	}

	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"iter", all},
		{"iter/", all},
		{"iter/a", all[0:4]},
		{"iter/a/", all[2:4]},
		{"iter/a/b", all[2:4]},
		{"iter/a/b0", all[3:4]},
		{"iter/deep/", all[4:5]},
		{"iter/deep/x/y/", all[4:5]},
		{"iter/dt=2024", all[5:8]},
		{"iter/dt=2024-01-01", all[5:7]},
		{"iter/dt=2024-01-01/", all[5:7]},
		{"iter/dt=2024-01-01/part-1", all[6:7]},
		{"iter/dt=", all[5:9]},
		{"iter/z", all[9:]},
		{"iter/nothing", nil},
		{"iter/nothing/", nil},
		{"iter/z/", nil},
		{"elsewhere/", nil},
		// Not valid key prefixes; nothing matches, and a local store must
		// not wander outside its root looking.
		{"/", nil},
		{"../", nil},
		{"iter/../", nil},
		{"iter//", nil},
	} {
		t.Run(fmt.Sprintf("prefix=%q", tc.prefix), func(t *testing.T) {
			got, err := objstore.List(ctx, bkt, tc.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", tc.prefix, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("List(%q)\n got %q\nwant %q", tc.prefix, got, tc.want)
			}
		})
	}

	t.Run("fn error stops", func(t *testing.T) {
		stop := errors.New("stop here")
		calls := 0
		err := bkt.Iter(ctx, "iter/", func(string) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) {
			t.Fatalf("Iter returned %v, want fn's error", err)
		}
		if calls != 1 {
			t.Fatalf("fn called %d times after returning an error, want 1", calls)
		}
	})
}

func testDelete(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "delete/")
	ctx := t.Context()
	upload(t, bkt, "delete/x/y/obj", []byte("doomed"))
	upload(t, bkt, "delete/x/keep", []byte("stays"))

	if err := bkt.Delete(ctx, "delete/x/y/obj"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := bkt.Get(ctx, "delete/x/y/obj"); !objstore.IsNotExist(err) {
		t.Fatalf("Get after Delete: err = %v, want IsNotExist", err)
	}
	if keys, err := objstore.List(ctx, bkt, "delete/"); err != nil || !slices.Equal(keys, []string{"delete/x/keep"}) {
		t.Fatalf("List after Delete = %q, %v; want just delete/x/keep", keys, err)
	}
	for _, key := range []string{
		"delete/x/y/obj",      // deleted twice
		"delete/never/was",    // never existed
		"delete/x",            // a "directory" of another key, not an object
		"delete/x/keep/under", // under an object, as if it were a directory
	} {
		if err := bkt.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) of a missing object: %v", key, err)
		}
	}
	if got := mustRead(t, bkt, "delete/x/keep"); string(got) != "stays" {
		t.Errorf("neighbour changed to %q by deletes", got)
	}
	if err := bkt.Delete(ctx, "delete/x/keep"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if keys, err := objstore.List(ctx, bkt, "delete/"); err != nil || len(keys) != 0 {
		t.Fatalf("List after deleting everything = %q, %v; want nothing", keys, err)
	}
}

func testAttributes(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "attrs/")
	ctx := t.Context()
	// Stores may keep only whole seconds.
	before := time.Now().Add(-2 * time.Second)
	data := pattern(3, 12345)
	upload(t, bkt, "attrs/obj", data)
	after := time.Now().Add(2 * time.Second)

	a, err := bkt.Attributes(ctx, "attrs/obj")
	if err != nil {
		t.Fatalf("Attributes: %v", err)
	}
	if a.Size != int64(len(data)) {
		t.Errorf("Size = %d, want %d", a.Size, len(data))
	}
	if a.ETag == "" {
		t.Error("ETag is empty")
	}
	if a.ModTime.Before(before) || a.ModTime.After(after) {
		t.Errorf("ModTime = %v, want between %v and %v", a.ModTime, before, after)
	}
	again, err := bkt.Attributes(ctx, "attrs/obj")
	if err != nil {
		t.Fatal(err)
	}
	if again.ETag != a.ETag {
		t.Errorf("ETag changed from %q to %q without an upload", a.ETag, again.ETag)
	}
}

func testNotExist(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "notexist/")
	ctx := t.Context()
	upload(t, bkt, "notexist/dir/obj", []byte("x"))
	ops := []struct {
		name string
		do   func(key string) error
	}{
		{"Get", func(key string) error {
			rc, err := bkt.Get(ctx, key)
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"ReaderAt", func(key string) error {
			ra, _, err := bkt.ReaderAt(ctx, key)
			if err == nil {
				closeReaderAt(t, ra)
			}
			return err
		}},
		{"Attributes", func(key string) error {
			_, err := bkt.Attributes(ctx, key)
			return err
		}},
	}
	for _, key := range []string{
		"notexist/missing",
		"notexist/dir",           // only a prefix of a real key
		"notexist/dir/obj/under", // beneath a real key
		"notexist/never/was/here",
	} {
		for _, op := range ops {
			t.Run(op.name+"/"+key, func(t *testing.T) {
				err := op.do(key)
				if !objstore.IsNotExist(err) {
					t.Fatalf("%s(%q) err = %v, want IsNotExist", op.name, key, err)
				}
			})
		}
	}
}

func testInvalidKeys(t *testing.T, bkt objstore.Bucket) {
	ctx := t.Context()
	for _, key := range []string{
		"",
		"/abs",
		"trailing/",
		"a//b",
		"./a",
		"a/./b",
		"a/../b",
		"..",
		"../escape",
	} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if err := bkt.Upload(ctx, key, bytes.NewReader([]byte("x"))); err == nil {
				t.Errorf("Upload(%q) succeeded", key)
			}
			if c, ok := bkt.(objstore.ConditionalUploader); ok {
				if _, err := c.UploadIfAbsent(ctx, key, bytes.NewReader([]byte("x"))); err == nil {
					t.Errorf("UploadIfAbsent(%q) succeeded", key)
				}
			}
			if _, err := bkt.Get(ctx, key); err == nil || objstore.IsNotExist(err) {
				t.Errorf("Get(%q) err = %v, want a key error", key, err)
			}
			if _, _, err := bkt.ReaderAt(ctx, key); err == nil || objstore.IsNotExist(err) {
				t.Errorf("ReaderAt(%q) err = %v, want a key error", key, err)
			}
			if _, err := bkt.Attributes(ctx, key); err == nil || objstore.IsNotExist(err) {
				t.Errorf("Attributes(%q) err = %v, want a key error", key, err)
			}
			if err := bkt.Delete(ctx, key); err == nil {
				t.Errorf("Delete(%q) succeeded", key)
			}
		})
	}
	if keys, err := objstore.List(ctx, bkt, ""); err != nil || len(keys) != 0 {
		t.Errorf("invalid keys left objects behind: %q, %v", keys, err)
	}
}

func testEmpty(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "empty/")
	ctx := t.Context()
	upload(t, bkt, "empty/obj", nil)
	if got := mustRead(t, bkt, "empty/obj"); len(got) != 0 {
		t.Fatalf("Get of an empty object returned %d bytes", len(got))
	}
	a, err := bkt.Attributes(ctx, "empty/obj")
	if err != nil {
		t.Fatalf("Attributes: %v", err)
	}
	if a.Size != 0 {
		t.Errorf("Size = %d, want 0", a.Size)
	}
	ra, n, err := bkt.ReaderAt(ctx, "empty/obj")
	if err != nil {
		t.Fatalf("ReaderAt: %v", err)
	}
	defer closeReaderAt(t, ra)
	if n != 0 {
		t.Errorf("ReaderAt size = %d, want 0", n)
	}
	if got, err := ra.ReadAt(make([]byte, 8), 0); got != 0 || err != io.EOF {
		t.Errorf("ReadAt on an empty object = %d, %v; want 0, io.EOF", got, err)
	}
	if keys, err := objstore.List(ctx, bkt, "empty/"); err != nil || !slices.Equal(keys, []string{"empty/obj"}) {
		t.Errorf("List = %q, %v; want the empty object listed", keys, err)
	}
}

// onlyReader hides any Seek or WriterTo of the underlying reader, as a
// pipe or a gzip stream would, so backends cannot learn the size up front.
type onlyReader struct{ io.Reader }

func testLarge(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "large/")
	ctx := t.Context()
	data := pattern(4, LargeObjectSize)
	const key = "large/obj"
	if err := bkt.Upload(ctx, key, onlyReader{bytes.NewReader(data)}); err != nil {
		t.Fatalf("upload %d MiB: %v", LargeObjectSize>>20, err)
	}
	a, err := bkt.Attributes(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != LargeObjectSize {
		t.Fatalf("Size = %d, want %d", a.Size, LargeObjectSize)
	}
	rc, err := bkt.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, rc)
	rc.Close()
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("content read back differs from the upload")
	}

	ra, n, err := bkt.ReaderAt(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer closeReaderAt(t, ra)
	if n != LargeObjectSize {
		t.Fatalf("ReaderAt size = %d, want %d", n, LargeObjectSize)
	}
	for _, r := range []struct{ off, len int64 }{
		{n - 8, 8},           // footer length + magic
		{5<<20 - 100, 200},   // across a 5 MiB part boundary
		{n - 3<<20, 2 << 20}, // a big column chunk
		{12345678, 1},
	} {
		buf := make([]byte, r.len)
		got, err := ra.ReadAt(buf, r.off)
		if got != int(r.len) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(len %d, off %d) = %d, %v", r.len, r.off, got, err)
		}
		if !bytes.Equal(buf, data[r.off:r.off+r.len]) {
			t.Fatalf("ReadAt(len %d, off %d) returned the wrong bytes", r.len, r.off)
		}
	}
}

func testConcurrentUploads(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "concurrent/")
	ctx := t.Context()
	const n = 16
	content := func(i int) []byte { return pattern(uint64(100+i), 64<<10+i) }

	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("concurrent/dir%d/obj-%02d", i%3, i)
			if err := bkt.Upload(ctx, key, bytes.NewReader(content(i))); err != nil {
				errs <- err
			}
		})
		// And everyone replacing one shared key: the survivor must be
		// one whole upload, never a mix.
		wg.Go(func() {
			if err := bkt.Upload(ctx, "concurrent/shared", bytes.NewReader(content(i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent upload: %v", err)
	}
	for i := range n {
		key := fmt.Sprintf("concurrent/dir%d/obj-%02d", i%3, i)
		if got := mustRead(t, bkt, key); !bytes.Equal(got, content(i)) {
			t.Errorf("%s holds the wrong content", key)
		}
	}
	shared := mustRead(t, bkt, "concurrent/shared")
	whole := false
	for i := range n {
		whole = whole || bytes.Equal(shared, content(i))
	}
	if !whole {
		t.Errorf("concurrent/shared (%d bytes) is not any single upload", len(shared))
	}
	keys, err := objstore.List(ctx, bkt, "concurrent/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n+1 {
		t.Errorf("List found %d keys, want %d", len(keys), n+1)
	}
}

// cancelingReader cancels its context after handing out its first bytes,
// like a caller giving up in the middle of a long upload.
type cancelingReader struct {
	r      io.Reader
	cancel context.CancelFunc
	sent   int
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.sent > 0 {
		c.cancel()
	}
	n, err := c.r.Read(p[:min(len(p), 1024)])
	c.sent += n
	return n, err
}

func testContextCanceled(t *testing.T, bkt objstore.Bucket) {
	cleanup(t, bkt, "cancel/")
	upload(t, bkt, "cancel/existing", []byte("original"))

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	ops := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"Upload", func(ctx context.Context) error {
			return bkt.Upload(ctx, "cancel/new", bytes.NewReader([]byte("x")))
		}},
		{"Get", func(ctx context.Context) error {
			rc, err := bkt.Get(ctx, "cancel/existing")
			if err == nil {
				// Some stores hand back a body lazily; reading it must
				// then fail.
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			return err
		}},
		{"ReaderAt", func(ctx context.Context) error {
			ra, _, err := bkt.ReaderAt(ctx, "cancel/existing")
			if err == nil {
				closeReaderAt(t, ra)
			}
			return err
		}},
		{"Attributes", func(ctx context.Context) error {
			_, err := bkt.Attributes(ctx, "cancel/existing")
			return err
		}},
		{"Iter", func(ctx context.Context) error {
			return bkt.Iter(ctx, "cancel/", func(string) error { return nil })
		}},
		{"Delete", func(ctx context.Context) error {
			return bkt.Delete(ctx, "cancel/existing")
		}},
	}
	if c, ok := bkt.(objstore.ConditionalUploader); ok {
		ops = append(ops, struct {
			name string
			do   func(ctx context.Context) error
		}{"UploadIfAbsent", func(ctx context.Context) error {
			_, err := c.UploadIfAbsent(ctx, "cancel/new", bytes.NewReader([]byte("x")))
			return err
		}})
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			if err := op.do(canceled); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with a canceled context: err = %v, want context.Canceled", op.name, err)
			}
		})
	}

	t.Run("Upload canceled midway", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r := &cancelingReader{r: bytes.NewReader(pattern(5, 256<<10)), cancel: cancel}
		if err := bkt.Upload(ctx, "cancel/existing", r); err == nil {
			t.Fatal("Upload succeeded although its context was canceled midway")
		}
	})

	if got := mustRead(t, bkt, "cancel/existing"); string(got) != "original" {
		t.Errorf("canceled operations changed cancel/existing to %d bytes", len(got))
	}
	if _, err := bkt.Attributes(t.Context(), "cancel/new"); !objstore.IsNotExist(err) {
		t.Errorf("a canceled upload created cancel/new (Attributes err = %v)", err)
	}
}

func testUploadIfAbsent(t *testing.T, bkt objstore.Bucket, c objstore.ConditionalUploader) {
	cleanup(t, bkt, "ifabsent/")
	ctx := t.Context()
	const key = "ifabsent/lease"

	steps := []struct {
		name    string
		body    string
		wantOK  bool
		wantNow string
	}{
		{"create", "owner-a", true, "owner-a"},
		{"taken", "owner-b", false, "owner-a"},
		{"still taken", "owner-c", false, "owner-a"},
	}
	for _, s := range steps {
		ok, err := c.UploadIfAbsent(ctx, key, bytes.NewReader([]byte(s.body)))
		if err != nil {
			t.Fatalf("%s: UploadIfAbsent: %v", s.name, err)
		}
		if ok != s.wantOK {
			t.Fatalf("%s: UploadIfAbsent = %v, want %v", s.name, ok, s.wantOK)
		}
		if got := mustRead(t, bkt, key); string(got) != s.wantNow {
			t.Fatalf("%s: object holds %q, want %q", s.name, got, s.wantNow)
		}
	}
	if err := bkt.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.UploadIfAbsent(ctx, key, bytes.NewReader([]byte("owner-d"))); err != nil || !ok {
		t.Fatalf("UploadIfAbsent after Delete = %v, %v; want true", ok, err)
	}
	if keys, err := objstore.List(ctx, bkt, "ifabsent/"); err != nil || !slices.Equal(keys, []string{key}) {
		t.Fatalf("List = %q, %v; want just %q (no temp objects)", keys, err, key)
	}

	t.Run("race", func(t *testing.T) {
		const racers = 8
		const key = "ifabsent/race"
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []int
		)
		errs := make(chan error, racers)
		for i := range racers {
			wg.Go(func() {
				ok, err := c.UploadIfAbsent(ctx, key, bytes.NewReader([]byte(fmt.Sprint("racer-", i))))
				if err != nil {
					errs <- err
					return
				}
				if ok {
					mu.Lock()
					winners = append(winners, i)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("UploadIfAbsent: %v", err)
		}
		if len(winners) != 1 {
			t.Fatalf("%d racers won (%v), want exactly 1", len(winners), winners)
		}
		if got, want := string(mustRead(t, bkt, key)), fmt.Sprint("racer-", winners[0]); got != want {
			t.Fatalf("object holds %q, want the winner's %q", got, want)
		}
	})
}
