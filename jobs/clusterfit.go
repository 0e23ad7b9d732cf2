package jobs

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/models/cluster"
	"github.com/strata-oss/strata/pipeline/storage"
)

// ClusterOptions says what `strata cluster` fits.
type ClusterOptions struct {
	Input   string   // a CSV or Parquet file, local or s3://
	Columns []string // nil: every numeric column
	K       int      // fixed k; 0 chooses in [KMin, KMax]
	KMin    int
	KMax    int
	NInit   int
	Seed    uint64
	Scale   string // none, zscore (default), log1p, log1p+zscore
	// SilhouetteSample bounds the rows silhouette is computed on.
	SilhouetteSample int
	Workers          int
}

// ClusterReport is what `strata cluster` prints.
type ClusterReport struct {
	Input       string           `json:"input"`
	Rows        int              `json:"rows"`
	SkippedRows int              `json:"skipped_rows"`
	Columns     []string         `json:"columns"`
	Scale       string           `json:"scale"`
	K           int              `json:"k"`
	Reason      string           `json:"reason,omitempty"`
	Inertia     float64          `json:"inertia"`
	Iterations  int              `json:"iterations"`
	Converged   bool             `json:"converged"`
	Algorithm   string           `json:"algorithm"`
	Sizes       []int            `json:"sizes"`
	Scores      []cluster.KScore `json:"scores"`
	FitSeconds  float64          `json:"fit_seconds"`
}

// FitClusters runs k-means on the numeric columns of one file.
func FitClusters(ctx context.Context, o ClusterOptions) (*ClusterReport, error) {
	if o.Input == "" {
		return nil, &UsageError{Msg: "--input is required"}
	}
	scale := o.Scale
	if scale == "" {
		scale = "zscore"
	}
	switch cluster.Scaling(scale) {
	case cluster.ScaleNone, cluster.ScaleZScore, cluster.ScaleLog1p, cluster.ScaleLog1pZScore:
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("--scale must be none, zscore, log1p or log1p+zscore, got %q", scale)}
	}
	kMin, kMax := o.KMin, o.KMax
	if o.K > 0 {
		kMin, kMax = o.K, o.K
	}
	if kMin < 2 || kMax < kMin {
		return nil, &UsageError{Msg: fmt.Sprintf("k range [%d, %d]: need 2 ≤ min ≤ max", kMin, kMax)}
	}
	cols := o.Columns
	if len(cols) == 0 {
		var err error
		if cols, err = numericColumns(ctx, o.Input); err != nil {
			return nil, err
		}
		if len(cols) == 0 {
			return nil, &UsageError{Msg: fmt.Sprintf("%s has no numeric column; name some with --columns", o.Input)}
		}
	}
	rep := &ClusterReport{Input: o.Input, Columns: cols, Scale: scale}
	// One matrix, filled straight from the file's columns and scaled in
	// place: the fit never sees another copy of the data.
	X, skipped, err := loadMatrix(ctx, o.Input, cols, o.Workers)
	if err != nil {
		return nil, err
	}
	rep.Rows, rep.SkippedRows = X.N, skipped
	if rep.Rows <= kMax {
		return nil, fmt.Errorf("%s: %d usable rows, too few for k up to %d", o.Input, rep.Rows, kMax)
	}
	modes := make([]cluster.Scaling, len(cols))
	for i := range modes {
		modes[i] = cluster.Scaling(scale)
	}
	sc, err := cluster.FitScaler(X, modes, cols)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Input, err)
	}
	if err := sc.TransformInPlace(X); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Input, err)
	}
	cfg := cluster.Config{K: o.K, NInit: o.NInit, Seed: o.Seed, Workers: o.Workers}
	start := time.Now()
	var fit cluster.Result
	if o.K > 0 {
		if fit, err = cluster.KMeans(ctx, X, cfg); err != nil {
			return nil, err
		}
		s := cluster.KScore{K: o.K, Inertia: fit.Inertia}
		if s.CalinskiHarabasz, s.DaviesBouldin, err = cluster.CalinskiHarabaszDaviesBouldin(ctx, X, fit.Labels, o.K, o.Workers); err != nil {
			return nil, err
		}
		if s.Silhouette, err = cluster.Silhouette(ctx, X, fit.Labels, o.K, o.SilhouetteSample, o.Seed, o.Workers); err != nil {
			return nil, err
		}
		rep.Scores = []cluster.KScore{s}
	} else {
		choice, results, err := cluster.ChooseK(ctx, X, kMin, kMax, cfg, o.SilhouetteSample)
		if err != nil {
			return nil, err
		}
		fit, rep.Reason, rep.Scores = results[choice.K-kMin], choice.Reason, choice.Scores
	}
	rep.FitSeconds = time.Since(start).Seconds()
	rep.K, rep.Inertia, rep.Iterations, rep.Converged, rep.Algorithm = fit.Centroids.N, fit.Inertia, fit.Iterations, fit.Converged, string(fit.Algorithm)
	rep.Sizes = make([]int, rep.K)
	for _, l := range fit.Labels {
		rep.Sizes[l]++
	}
	return rep, nil
}

// numericColumns lists the columns of a file that hold numbers: Parquet
// INT32, INT64, FLOAT and DOUBLE leaves (not dates or timestamps); CSV
// columns whose first 1000 non-empty values all parse as numbers.
func numericColumns(ctx context.Context, file string) ([]string, error) {
	dir, base := path.Split(file)
	if dir == "" {
		dir = "."
	}
	b, err := storage.Open(ctx, dir, storage.Options{})
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(strings.ToLower(base), ".parquet") {
		ra, size, err := b.ReaderAt(ctx, base)
		if err != nil {
			return nil, err
		}
		if c, ok := ra.(io.Closer); ok {
			defer c.Close()
		}
		f, err := parquet.OpenFile(ra, size)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		var cols []string
		for _, fld := range f.Schema().Fields() {
			if !fld.Leaf() {
				continue
			}
			// Dates and instants are stored as integers but are not
			// measures; only plain, integer or decimal numbers qualify.
			if lt := fld.Type().LogicalType(); lt != nil && lt.Value != nil {
				switch lt.Value.(type) {
				case *format.IntType, *format.DecimalType:
				default:
					continue
				}
			}
			switch fld.Type().Kind() {
			case parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
				cols = append(cols, fld.Name())
			}
		}
		return cols, nil
	}
	rc, err := b.Get(ctx, base)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r := csv.NewReader(rc)
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read %s header: %w", file, err)
	}
	numeric := make([]bool, len(header))
	seen := make([]bool, len(header))
	for i := range numeric {
		numeric[i] = true
	}
	for n := 0; n < 1000; n++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		for i, v := range rec {
			if i >= len(header) || v == "" {
				continue
			}
			seen[i] = true
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				numeric[i] = false
			}
		}
	}
	var cols []string
	for i, h := range header {
		if numeric[i] && seen[i] {
			cols = append(cols, h)
		}
	}
	return cols, nil
}
