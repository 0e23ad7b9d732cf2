package objstore_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/objstoretest"
)

func TestValidateKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"a/b/c.parquet", true},
		{"dt=2024-01-01/part-0", true},
		{"..a/b..", true},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{"a/./b", false},
		{"a/../b", false},
		{"..", false},
		{".", false},
	} {
		if err := objstore.ValidateKey(tc.key); (err == nil) != tc.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
	}
}

func TestPrefixed(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func(t *testing.T) objstore.Bucket
	}{
		{"mem", func(*testing.T) objstore.Bucket { return objstore.NewMem() }},
		{"local", func(t *testing.T) objstore.Bucket {
			b, err := objstore.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			under := tc.new(t)
			// Neighbours that share the prefix's text but not its
			// directory must stay invisible through the prefixed view.
			for _, k := range []string{"tenant/a-other/x", "tenant/ab", "other/obj"} {
				if err := under.Upload(ctx, k, bytes.NewReader([]byte(k))); err != nil {
					t.Fatal(err)
				}
			}
			pb := objstore.Prefixed(under, "/tenant/a/")
			if _, ok := pb.(objstore.ConditionalUploader); !ok {
				t.Fatal("Prefixed hides the wrapped bucket's UploadIfAbsent")
			}
			objstoretest.AcceptanceTest(t, pb)

			if err := pb.Upload(ctx, "k/v", bytes.NewReader([]byte("1"))); err != nil {
				t.Fatal(err)
			}
			keys, err := objstore.List(ctx, under, "")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"other/obj", "tenant/a-other/x", "tenant/a/k/v", "tenant/ab"}
			if !slices.Equal(keys, want) {
				t.Fatalf("underlying keys = %q, want %q", keys, want)
			}
			if err := pb.Upload(ctx, "../escape", strings.NewReader("x")); err == nil {
				t.Error("Prefixed let a key climb out of its prefix")
			}
		})
	}
	t.Run("empty prefix", func(t *testing.T) {
		b := objstore.NewMem()
		if got := objstore.Prefixed(b, "/"); got != objstore.Bucket(b) {
			t.Error("Prefixed with an empty prefix should return the bucket itself")
		}
	})
	t.Run("no conditional upload to forward", func(t *testing.T) {
		if _, ok := objstore.Prefixed(plainBucket{objstore.NewMem()}, "p").(objstore.ConditionalUploader); ok {
			t.Error("Prefixed claims UploadIfAbsent that the wrapped bucket lacks")
		}
	})
}

// plainBucket hides Mem's UploadIfAbsent.
type plainBucket struct{ objstore.Bucket }
