package jobs

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/strata-oss/strata/pipeline/storage"
	"github.com/strata-oss/strata/pipeline/tables"
)

// scanFile streams the batches of one CSV or Parquet file, a local path or
// an s3:// URL, reading the given logical fields through the mapping.
func scanFile(ctx context.Context, file string, columns map[string]string, fields []tables.Field, fn func(*tables.Batch) error) error {
	dir, base := path.Split(strings.TrimRight(file, "/"))
	if base == "" {
		return &UsageError{Msg: fmt.Sprintf("--input %q is not a file", file)}
	}
	if dir == "" {
		dir = "."
	}
	b, err := storage.Open(ctx, dir, storage.Options{})
	if err != nil {
		return err
	}
	src := tables.Source{Bucket: b, Columns: columns, Fields: fields}
	if err := src.ScanObject(ctx, base, fn); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	return nil
}
