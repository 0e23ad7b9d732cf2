package objstore_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/objstoretest"
)

func TestLocal(t *testing.T) {
	bkt, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	objstoretest.AcceptanceTest(t, bkt)
}

func TestLocalLayout(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	bkt, err := objstore.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, body string) {
		t.Helper()
		if err := bkt.Upload(ctx, key, bytes.NewReader([]byte(body))); err != nil {
			t.Fatal(err)
		}
	}
	put("a/b/c/obj", "x")
	put("a/keep", "y")

	if data, err := os.ReadFile(filepath.Join(root, "a", "b", "c", "obj")); err != nil || string(data) != "x" {
		t.Fatalf("key a/b/c/obj is not the file ROOT/a/b/c/obj: %q, %v", data, err)
	}

	// A crashed upload leaves a temp file behind; it must stay invisible.
	stray := filepath.Join(root, "a", ".objstore-tmp-123")
	if err := os.WriteFile(stray, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := objstore.List(ctx, bkt, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/b/c/obj", "a/keep"}; !slices.Equal(keys, want) {
		t.Fatalf("List = %q, want %q", keys, want)
	}
	if err := bkt.Upload(ctx, "a/.objstore-tmp-x", bytes.NewReader(nil)); err == nil {
		t.Error("Upload accepted a key in the temp-file namespace")
	}

	// Delete prunes the directories it empties, and only those.
	if err := bkt.Delete(ctx, "a/b/c/obj"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "b")); !os.IsNotExist(err) {
		t.Errorf("a/b was not pruned after its last object went: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); err != nil {
		t.Errorf("a was pruned although it still holds a/keep: %v", err)
	}
	if err := os.Remove(stray); err != nil {
		t.Fatal(err)
	}
	if err := bkt.Delete(ctx, "a/keep"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); !os.IsNotExist(err) {
		t.Errorf("a was not pruned: %v", err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("the root itself was pruned: %v", err)
	}
}

// TestLocalLargeUpload uploads an object of several writeback chunks and
// a part, written in uneven pieces, and reads it back.
func TestLocalLargeUpload(t *testing.T) {
	ctx := context.Background()
	b, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 19<<20+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	if err := b.Upload(ctx, "big/object.bin", iotest.HalfReader(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	got, err := objstore.ReadAll(ctx, b, "big/object.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not the %d uploaded", len(got), len(data))
	}
}

// TestLocalFollowsLinks: an export linked into the input directory is
// listed and read like a file (it was skipped without a word); a linked
// directory is walked; a dangling link or one leading back up is an
// error, not a silent gap or an endless walk.
func TestLocalFollowsLinks(t *testing.T) {
	ctx := t.Context()
	elsewhere := t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "export.csv"), []byte("a,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(elsewhere, "more"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(elsewhere, "more", "b.csv"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	list := func(root string) ([]string, error) {
		bkt, err := objstore.NewLocal(root)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		err = bkt.Iter(ctx, "orders/", func(k string) error { keys = append(keys, k); return nil })
		return keys, err
	}
	link := func(root, target, name string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, "orders"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(root, "orders", name)); err != nil {
			t.Fatal(err)
		}
	}

	root := t.TempDir()
	link(root, filepath.Join(elsewhere, "export.csv"), "a.csv")
	link(root, filepath.Join(elsewhere, "more"), "dir")
	if err := os.WriteFile(filepath.Join(root, "orders", "c.csv"), []byte("c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := list(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"orders/a.csv", "orders/c.csv", "orders/dir/b.csv"}; !slices.Equal(keys, want) {
		t.Fatalf("listed %q, want %q", keys, want)
	}
	bkt, _ := objstore.NewLocal(root)
	rc, err := bkt.Get(ctx, "orders/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "a,b\n" {
		t.Fatalf("read %q through the link", got)
	}

	for _, tc := range []struct{ name, target, want string }{
		{"dangling", filepath.Join(elsewhere, "gone.csv"), "follow the symbolic link orders/x"},
		{"back to the root", ".", "leads back"},
		{"back above the root", "..", "leads back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			target := tc.target
			if target == "." || target == ".." {
				target = filepath.Join(root, "orders", target)
			}
			link(root, target, "x")
			if _, err := list(root); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("listing gave %v, want an error with %q", err, tc.want)
			}
		})
	}
}
