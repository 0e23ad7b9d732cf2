package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// bodyAttempts bounds re-requests of a range whose response body broke off
// midway: the SDK retries failed requests, but not a body that fails while
// being read, which is the common failure of a long ranged read.
const bodyAttempts = 3

// ReaderAt HEADs the object for its size and ETag and returns an
// io.ReaderAt that issues one ranged GET per ReadAt call; it is safe for
// concurrent use. Every read is pinned to the ETag the HEAD saw
// (If-Match), so if the object is replaced while it is being read, reads
// fail instead of silently mixing two versions.
//
// io.ReaderAt has no context, so all reads use ctx: keep it alive as long as
// the reader is in use. See the package doc for parquet-go settings.
func (b *Bucket) ReaderAt(ctx context.Context, key string) (io.ReaderAt, int64, error) {
	k, err := b.objectKey(key)
	if err != nil {
		return nil, 0, fmt.Errorf("reader at: %w", err)
	}
	head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &k})
	if err != nil {
		return nil, 0, b.wrap("reader at", key, err)
	}
	size := aws.ToInt64(head.ContentLength)
	return &readerAt{ctx: ctx, b: b, name: key, key: k, size: size, etag: head.ETag}, size, nil
}

type readerAt struct {
	ctx  context.Context
	b    *Bucket
	name string // objstore key, for errors
	key  string // S3 key
	size int64
	etag *string
}

// ReadAt reads len(p) bytes at off with a single ranged GET, clamping the
// range to the object's size. As io.ReaderAt requires, a read that reaches
// past the end returns the bytes that exist and io.EOF.
func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read s3://%s/%s: negative offset %d", r.b.bucket, r.key, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := min(off+int64(len(p)), r.size)
	want := p[:end-off]

	var err error
	for attempt := 1; ; attempt++ {
		var retry bool
		retry, err = r.readRange(want, off)
		if err == nil || !retry || attempt == bodyAttempts || r.ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return 0, err
	}
	if len(want) < len(p) {
		return len(want), io.EOF
	}
	return len(p), nil
}

// readRange fills buf from the object at off. retry reports whether the
// failure was in reading the body, which a new request may fix.
func (r *readerAt) readRange(buf []byte, off int64) (retry bool, err error) {
	last := off + int64(len(buf)) - 1
	out, err := r.b.client.GetObject(r.ctx, &s3.GetObjectInput{
		Bucket:  &r.b.bucket,
		Key:     &r.key,
		Range:   aws.String(fmt.Sprintf("bytes=%d-%d", off, last)),
		IfMatch: r.etag,
	})
	if err != nil {
		if httpStatus(err) == http.StatusPreconditionFailed {
			return false, fmt.Errorf("read s3://%s/%s bytes %d-%d: object was replaced while being read: %w", r.b.bucket, r.key, off, last, err)
		}
		return false, r.b.wrap(fmt.Sprintf("read bytes %d-%d of", off, last), r.name, err)
	}
	defer out.Body.Close()
	body := io.Reader(out.Body)
	// A server that ignores Range sends the whole object; skip to off
	// rather than return the wrong bytes.
	if out.ContentRange == nil && aws.ToInt64(out.ContentLength) == r.size && r.size != int64(len(buf)) {
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			return true, fmt.Errorf("read s3://%s/%s bytes %d-%d: %w", r.b.bucket, r.key, off, last, err)
		}
	}
	if _, err := io.ReadFull(body, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // short body, never a clean end
		}
		return true, fmt.Errorf("read s3://%s/%s bytes %d-%d: %w", r.b.bucket, r.key, off, last, err)
	}
	return false, nil
}
