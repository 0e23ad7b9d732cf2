// Package storage opens the object store a configured location names: a
// local directory, or s3://bucket/prefix.
package storage

import (
	"context"
	"fmt"
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
		return nil, fmt.Errorf("open %s: %w", location, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("open %s: not a directory", location)
	}
	b, err := objstore.NewLocal(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", location, err)
	}
	return b, nil
}

// Join appends a relative path to a location.
func Join(location, rel string) string {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return location
	}
	return strings.TrimRight(location, "/") + "/" + rel
}
