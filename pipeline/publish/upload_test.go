package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// fullDisk stores the first limit bytes of an upload, then fails it the way
// a local file system that has run out of space does.
type fullDisk struct {
	objstore.Bucket
	limit int64
}

func (f fullDisk) Upload(ctx context.Context, key string, r io.Reader) error {
	if _, err := io.CopyN(io.Discard, r, f.limit); err != nil {
		return err
	}
	return fmt.Errorf("write .objstore-tmp-1: %w", &fs.PathError{Op: "write", Path: key, Err: syscall.ENOSPC})
}

// TestUploadErrorNamesCause: when an upload fails part way, the error of
// WritePart is the storage's (errors.Is ENOSPC, "no space left on
// device" in the text), not the pipe's the writer then fails on; when the
// writer fails, its error is the one reported.
func TestUploadErrorNamesCause(t *testing.T) {
	errEncode := errors.New("encode failed")
	cases := []struct {
		name  string
		write func(io.Writer) error
		is    error
		text  string
	}{
		{
			name: "upload fails",
			// A writer that, like parquet-go's, reports where it was
			// without wrapping the pipe's error.
			write: func(w io.Writer) error {
				buf := make([]byte, 64<<10)
				for range 64 {
					if _, err := w.Write(buf); err != nil {
						return fmt.Errorf("writing buffered pages of row group column 10: %v", err)
					}
				}
				return nil
			},
			is:   syscall.ENOSPC,
			text: "no space left on device",
		},
		{
			name: "writer fails",
			write: func(w io.Writer) error {
				w.Write([]byte("x"))
				return errEncode
			},
			is:   errEncode,
			text: "encode failed",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := fullDisk{Bucket: objstore.NewMem(), limit: 1 << 20}
			p := New(b, date, "a1")
			err := p.WritePart(context.Background(), "segments", 0, "parquet", 1, c.write)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("error %v: want errors.Is %v and %q in the text", err, c.is, c.text)
			}
		})
	}
}
