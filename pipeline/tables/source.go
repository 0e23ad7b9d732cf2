package tables

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// Source is one logical input table: every Parquet or CSV object under
// Prefix of Bucket.
type Source struct {
	Bucket objstore.Bucket
	Prefix string
	// Format is "parquet", "csv" or "" / "auto" (by extension).
	Format string
	// Columns maps logical field names to the input's column names; a field
	// that is not mapped is looked up under its own name.
	Columns map[string]string
	Fields  []Field
	CSV     CSVOptions
	// BatchRows is the number of CSV rows per batch (Parquet batches are row
	// groups). Default 65536.
	BatchRows int
}

// CSVOptions configures CSV parsing.
type CSVOptions struct {
	Comma       rune     // default ','
	TimeLayouts []string // tried after the built-in layouts
}

// physical returns the input column name of field f.
func (s *Source) physical(f Field) string {
	if p, ok := s.Columns[f.Name]; ok && p != "" {
		return p
	}
	return f.Name
}

func (s *Source) formatOf(key string) string {
	switch s.Format {
	case "parquet", "csv":
		return s.Format
	}
	lower := strings.ToLower(key)
	switch {
	case strings.HasSuffix(lower, ".parquet"), strings.HasSuffix(lower, ".parq"):
		return "parquet"
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".csv.gz"), strings.HasSuffix(lower, ".txt"):
		return "csv"
	}
	return ""
}

// Files lists the table's objects in lexical order. Objects whose base name
// starts with "_" or "." (markers such as _SUCCESS, temporary files) and
// objects of another format are ignored, as Hive-style readers do.
func (s *Source) Files(ctx context.Context) ([]string, error) {
	prefix := strings.Trim(s.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	var keys []string
	err := s.Bucket.Iter(ctx, prefix, func(k string) error {
		base := path.Base(k)
		if strings.HasPrefix(base, "_") || strings.HasPrefix(base, ".") {
			return nil
		}
		if s.formatOf(k) == "" {
			return nil
		}
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no %s input objects under %q", nonEmpty(s.Format, "parquet or csv"), prefix)
	}
	return keys, nil
}

func nonEmpty(s, def string) string {
	if s == "" || s == "auto" {
		return def
	}
	return s
}

// CheckSchema opens every object's schema (Parquet footer, CSV header) and
// reports every missing required column and every column whose type can not
// convert to its field's kind, across all objects at once.
func (s *Source) CheckSchema(ctx context.Context) error {
	keys, err := s.Files(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		var probs []string
		switch s.formatOf(k) {
		case "parquet":
			pf, err := openParquet(ctx, s.Bucket, k)
			if err != nil {
				return err
			}
			_, probs = s.bindParquet(pf.file)
			pf.Close()
		case "csv":
			probs, err = s.checkCSVHeader(ctx, k)
			if err != nil {
				return err
			}
		}
		if len(probs) > 0 {
			return &SchemaError{Key: k, Problems: probs}
		}
	}
	return nil
}

// Scan reads every object in order and calls fn with each batch. The batch
// and its slices are reused after fn returns: fn must copy what it keeps.
func (s *Source) Scan(ctx context.Context, fn func(*Batch) error) error {
	keys, err := s.Files(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.ScanObject(ctx, k, fn); err != nil {
			return err
		}
	}
	return nil
}

// ScanObject reads one object of the table.
func (s *Source) ScanObject(ctx context.Context, key string, fn func(*Batch) error) error {
	switch s.formatOf(key) {
	case "parquet":
		return s.scanParquet(ctx, key, fn)
	case "csv":
		return s.scanCSV(ctx, key, fn)
	}
	return fmt.Errorf("%s: unknown format", key)
}
