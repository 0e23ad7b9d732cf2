package jobs

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/storage"
	"github.com/strata-oss/strata/pipeline/tables"
)

// fileBucket opens the directory of file (a local path or an s3:// URL)
// as a bucket, returning it with the file's key in it; role names the file
// in errors ("--input"). create makes a missing local directory, for
// writing.
func fileBucket(ctx context.Context, file, role string, create bool) (objstore.Bucket, string, error) {
	dir, base := path.Split(strings.TrimRight(file, "/"))
	if base == "" {
		return nil, "", &UsageError{Msg: fmt.Sprintf("%s %q is not a file", role, file)}
	}
	if dir == "" {
		dir = "."
	}
	open := storage.Open
	if create {
		open = storage.Create
	}
	b, err := open(ctx, dir, storage.Options{})
	return b, base, err
}

// scanFile streams the batches of one CSV or Parquet file, a local path or
// an s3:// URL, reading the given logical fields through the mapping.
func scanFile(ctx context.Context, file string, columns map[string]string, fields []tables.Field, fn func(*tables.Batch) error) error {
	b, base, err := fileBucket(ctx, file, "--input", false)
	if err != nil {
		return err
	}
	src := tables.Source{Bucket: b, Columns: columns, Fields: fields}
	if err := src.ScanObject(ctx, base, fn); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	return nil
}
