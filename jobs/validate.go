package jobs

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/stages"
	"github.com/strata-oss/strata/pipeline/storage"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Validate checks that the audiences' filters fit the published columns,
// that the configured inputs exist and that their schemas fit the column
// mapping. It reads footers and headers only, and publishes nothing.
func Validate(ctx context.Context, cfg *config.Config) error {
	if err := ValidateOffline(cfg); err != nil {
		return err
	}
	return pipeline.CheckInputs(ctx, cfg, time.Now())
}

// ValidateOffline checks what can be checked of cfg without reaching its
// storage (a pull request's CI without credentials): the configuration
// itself (config.Load did) and the audiences' filters against the
// published columns.
func ValidateOffline(cfg *config.Config) error {
	return output.CheckAudiences(cfg, stages.Default())
}

// InputInfo is what `strata validate` found of one input table.
type InputInfo struct {
	Table   string   `json:"table"`
	Path    string   `json:"path"`
	Objects int      `json:"objects"`
	Formats []string `json:"formats"`
	// Schema is the first object's columns, "name type" (CSV: names).
	Schema []string `json:"schema"`
	Sample string   `json:"sample_object,omitempty"`
}

// Inputs lists the configured input tables' objects and the schema of
// the first object of each: what `strata validate` shows.
func Inputs(ctx context.Context, cfg *config.Config) ([]InputInfo, error) {
	in, err := storage.Open(ctx, cfg.Input.Location, pipeline.StorageOptions(cfg))
	if err != nil {
		return nil, err
	}
	named := []struct {
		name string
		t    *config.Table
	}{{"customers", cfg.Input.Customers}, {"orders", &cfg.Input.Orders}, {"events", cfg.Input.Events}}
	var out []InputInfo
	for _, n := range named {
		if n.t == nil {
			continue
		}
		src := &tables.Source{Bucket: in, Prefix: n.t.Path, Format: n.t.Format}
		keys, err := src.Files(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.name, err)
		}
		info := InputInfo{Table: n.name, Path: n.t.Path, Objects: len(keys)}
		seen := map[string]bool{}
		for _, k := range keys {
			f := formatOf(n.t.Format, k)
			if !seen[f] {
				seen[f] = true
				info.Formats = append(info.Formats, f)
			}
		}
		if len(keys) > 0 {
			info.Sample = keys[0]
			if info.Schema, err = schemaOf(ctx, in, keys[0], formatOf(n.t.Format, keys[0]), n.t.CSV.Delimiter); err != nil {
				return nil, fmt.Errorf("%s: %w", n.name, err)
			}
		}
		out = append(out, info)
	}
	return out, nil
}

func formatOf(configured, key string) string {
	if configured == "parquet" || configured == "csv" {
		return configured
	}
	if strings.HasSuffix(strings.ToLower(key), ".csv") || strings.HasSuffix(strings.ToLower(key), ".csv.gz") {
		return "csv"
	}
	return "parquet"
}

type readerAtBucket interface {
	ReaderAt(ctx context.Context, key string) (io.ReaderAt, int64, error)
}

func schemaOf(ctx context.Context, b readerAtBucket, key, format, delim string) ([]string, error) {
	ra, size, err := b.ReaderAt(ctx, key)
	if err != nil {
		return nil, err
	}
	if c, ok := ra.(io.Closer); ok {
		defer c.Close()
	}
	if format == "csv" {
		r := csv.NewReader(bufio.NewReader(io.NewSectionReader(ra, 0, size)))
		if delim != "" {
			r.Comma = []rune(delim)[0]
		}
		head, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("%s: header: %w", key, err)
		}
		return head, nil
	}
	f, err := parquet.OpenFile(ra, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var cols []string
	for _, fl := range f.Schema().Fields() {
		typ := "group"
		if fl.Leaf() {
			typ = fl.Type().String()
		}
		if fl.Optional() {
			typ += " (optional)"
		}
		cols = append(cols, fl.Name()+" "+typ)
	}
	return cols, nil
}
