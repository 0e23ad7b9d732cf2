// Package storage opens the object store a configured location names: a
// local directory, or s3://bucket/prefix.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// IsS3 reports whether location names an S3 bucket.
func IsS3(location string) bool { return strings.HasPrefix(location, "s3://") }

// Options configure the backends; the zero value is the defaults.
type Options struct {
	S3 S3Options
}

// Open returns the bucket for an existing location (an input).
func Open(ctx context.Context, location string, opt Options) (objstore.Bucket, error) {
	return open(ctx, location, opt, false)
}

// Create returns the bucket for location, creating a local directory if it
// does not exist, so a first publish needs no preparation.
func Create(ctx context.Context, location string, opt Options) (objstore.Bucket, error) {
	return open(ctx, location, opt, true)
}

func open(ctx context.Context, location string, opt Options, create bool) (objstore.Bucket, error) {
	if IsS3(location) {
		return openS3(ctx, location, opt.S3)
	}
	dir := strings.TrimPrefix(location, "file://")
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", location, err)
		}
	} else if st, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &LocationError{Location: location, Err: err}
		}
		return nil, fmt.Errorf("open %s: %w", location, err)
	} else if !st.IsDir() {
		return nil, &LocationError{Location: location, Err: errors.New("not a directory")}
	}
	b, err := objstore.NewLocal(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", location, err)
	}
	return b, nil
}

// LocationError says a configured location does not exist (or is not a
// directory): the configuration is wrong, not the storage flaky, so it is
// a usage error (exit code 2) and never retried.
type LocationError struct {
	Location string
	Err      error
}

func (e *LocationError) Error() string { return fmt.Sprintf("open %s: %v", e.Location, e.Err) }
func (e *LocationError) Unwrap() error { return e.Err }

// Join appends a relative path to a location.
func Join(location, rel string) string {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return location
	}
	return strings.TrimRight(location, "/") + "/" + rel
}
