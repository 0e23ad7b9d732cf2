// Package objstore is the object-store abstraction every Strata stage reads
// inputs from and publishes outputs to.
//
// The Bucket interface is deliberately small, in the spirit of Thanos'
// objstore: whatever a local directory, an in-memory map and an S3-compatible
// server can all do correctly. Keys are slash-separated, relative to the
// bucket's root, never start with a slash and never contain "." or ".."
// segments. Each Upload is atomic: a concurrent reader sees either the whole
// previous object or the whole new one, never a prefix. Nothing here offers
// atomicity across several objects; package publish builds that on top.
//
// This package imports nothing else of Strata's.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Bucket is an object store rooted at some prefix.
type Bucket interface {
	// Iter calls fn for every object key that starts with prefix, in
	// lexical order, recursively (there are no directories, only keys).
	// An fn error stops the iteration and is returned.
	Iter(ctx context.Context, prefix string, fn func(key string) error) error
	// Get opens the object for sequential reading. A missing key returns an
	// error for which IsNotExist is true.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// ReaderAt opens the object for random access (ranged GETs on S3) and
	// returns its size; Parquet footers and column chunks are read this way.
	// If the returned ReaderAt is also an io.Closer the caller closes it.
	ReaderAt(ctx context.Context, key string) (io.ReaderAt, int64, error)
	// Upload stores r under key, replacing any existing object atomically.
	Upload(ctx context.Context, key string, r io.Reader) error
	// Delete removes the object. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Attributes returns the object's size, ETag and modification time.
	Attributes(ctx context.Context, key string) (Attrs, error)
}

// ConditionalUploader is implemented by buckets that can create an object
// only if its key is still free. It is the one compare-and-swap primitive
// Strata relies on (lease locks): of several concurrent callers for the same
// key exactly one sees true. It is a separate interface so that Bucket stays
// implementable by stores without conditional writes.
type ConditionalUploader interface {
	// UploadIfAbsent stores r under key unless an object already exists
	// there. It reports whether it created the object; an existing object
	// is not an error and is left untouched.
	UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error)
}

// Attrs describes a stored object.
type Attrs struct {
	Size    int64
	ETag    string // opaque content fingerprint; changes when the content does
	ModTime time.Time
}

// ErrNotExist is wrapped by every backend's error for a missing object.
var ErrNotExist = errors.New("object does not exist")

// IsNotExist reports whether err says an object is missing.
func IsNotExist(err error) bool { return errors.Is(err, ErrNotExist) }

// ValidateKey returns an error if key is not a clean relative object key.
// Backends call it so that a key can never escape the bucket's root.
func ValidateKey(key string) error {
	if key == "" {
		return errors.New("empty object key")
	}
	if strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("object key %q must not start or end with a slash", key)
	}
	if path.Clean(key) != key {
		return fmt.Errorf("object key %q is not clean", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("object key %q has a %q segment", key, seg)
		}
	}
	return nil
}

// List returns every key under prefix in lexical order.
func List(ctx context.Context, b Bucket, prefix string) ([]string, error) {
	var keys []string
	err := b.Iter(ctx, prefix, func(k string) error {
		keys = append(keys, k)
		return nil
	})
	return keys, err
}

// ReadAll reads a whole object into memory; for small objects such as
// manifests and model.json.
func ReadAll(ctx context.Context, b Bucket, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return data, nil
}

// Prefixed returns a Bucket whose keys are all under prefix of b. It lets a
// configuration point one logical store at a sub-folder of a real one.
func Prefixed(b Bucket, prefix string) Bucket {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return b
	}
	p := &prefixed{b: b, p: prefix + "/"}
	// Only claim ConditionalUploader when the wrapped bucket has it, so that
	// a type assertion on the result stays truthful.
	if c, ok := b.(ConditionalUploader); ok {
		return &prefixedConditional{prefixed: p, c: c}
	}
	return p
}

type prefixed struct {
	b Bucket
	p string
}

func (p *prefixed) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	return p.b.Iter(ctx, p.p+prefix, func(k string) error {
		return fn(strings.TrimPrefix(k, p.p))
	})
}
func (p *prefixed) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return p.b.Get(ctx, p.p+key)
}
func (p *prefixed) ReaderAt(ctx context.Context, key string) (io.ReaderAt, int64, error) {
	return p.b.ReaderAt(ctx, p.p+key)
}
func (p *prefixed) Upload(ctx context.Context, key string, r io.Reader) error {
	return p.b.Upload(ctx, p.p+key, r)
}
func (p *prefixed) Delete(ctx context.Context, key string) error {
	return p.b.Delete(ctx, p.p+key)
}
func (p *prefixed) Attributes(ctx context.Context, key string) (Attrs, error) {
	return p.b.Attributes(ctx, p.p+key)
}

type prefixedConditional struct {
	*prefixed
	c ConditionalUploader
}

func (p *prefixedConditional) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	return p.c.UploadIfAbsent(ctx, p.p+key, r)
}
