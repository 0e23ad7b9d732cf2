package s3_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
)

// testServerSemantics checks what the shared suite cannot see through the
// Bucket interface. It needs a real server: gofakes3 gives multipart
// objects plain MD5 ETags and ignores If-Match on GET and If-None-Match on
// CompleteMultipartUpload.
func testServerSemantics(t *testing.T, srv *s3test.Server) {
	srv.CreateBucket(t, "strata-sem")
	cfg := srv.Config("strata-sem", "")
	cfg.PartSize = 5 << 20
	b, err := s3.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("multipart above PartSize", func(t *testing.T) { testMultipart(t, b) })
	t.Run("conditional multipart", func(t *testing.T) { testConditionalMultipart(t, b) })
	t.Run("replaced while reading", func(t *testing.T) { testReplacedWhileReading(t, b) })
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// testMultipart checks that small objects go up in one PUT and large ones in
// parts, using the "-<parts>" suffix S3 gives multipart ETags.
func testMultipart(t *testing.T, b *s3.Bucket) {
	ctx := t.Context()
	for _, tc := range []struct {
		size       int
		wantSuffix string
	}{
		{1 << 20, ""},
		{12 << 20, "-3"},
	} {
		key := fmt.Sprintf("mp/%d", tc.size)
		data := randomBytes(t, tc.size)
		// Hide Seek so the uploader cannot size the body up front.
		if err := b.Upload(ctx, key, struct{ io.Reader }{bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		a, err := b.Attributes(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		_, suffix, _ := strings.Cut(a.ETag, "-")
		if suffix != strings.TrimPrefix(tc.wantSuffix, "-") {
			t.Errorf("%d bytes: ETag %q, want part suffix %q", tc.size, a.ETag, tc.wantSuffix)
		}
		if got, err := objstore.ReadAll(ctx, b, key); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d bytes, %v", tc.size, len(got), err)
		}
		if err := b.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
}

func testConditionalMultipart(t *testing.T, b *s3.Bucket) {
	ctx := t.Context()
	const key = "cond/big"
	first, second := randomBytes(t, 11<<20), randomBytes(t, 11<<20)
	for _, step := range []struct {
		data []byte
		want bool
	}{
		{first, true},
		{second, false},
	} {
		ok, err := b.UploadIfAbsent(ctx, key, struct{ io.Reader }{bytes.NewReader(step.data)})
		if err != nil || ok != step.want {
			t.Fatalf("multipart UploadIfAbsent = %v, %v; want %v", ok, err, step.want)
		}
	}
	if got, err := objstore.ReadAll(ctx, b, key); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("after a refused conditional upload the object is not the first one (%v)", err)
	}
	if err := b.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
}

func testReplacedWhileReading(t *testing.T, b *s3.Bucket) {
	ctx := t.Context()
	const key = "replaced/obj"
	if err := b.Upload(ctx, key, bytes.NewReader(randomBytes(t, 4096))); err != nil {
		t.Fatal(err)
	}
	ra, _, err := b.ReaderAt(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ra.ReadAt(make([]byte, 8), 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(ctx, key, bytes.NewReader(randomBytes(t, 4096))); err != nil {
		t.Fatal(err)
	}
	if _, err := ra.ReadAt(make([]byte, 8), 100); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("ReadAt after the object was replaced: err = %v, want a failure", err)
	}
	if err := b.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
}
