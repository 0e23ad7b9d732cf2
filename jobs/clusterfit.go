package jobs

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/models/cluster"
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
	// KRule chooses k in the range: "bic" (default; cluster.ChooseKBy) or
	// "silhouette" (cluster.ChooseK's rule).
	KRule string
	// Labels, when set, is a .csv or .parquet file that receives every
	// input row's cluster (see writeLabels), with IDCol's value if set.
	Labels string
	IDCol  string
	// Centroids, when set, is a .json file that receives the model
	// (ClusterModel). Model, when set, is such a file to apply to Input
	// instead of fitting.
	Centroids string
	Model     string
	Workers   int
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
	Names       []string         `json:"names,omitempty"`
	Scores      []cluster.KScore `json:"scores"`
	// BIC[i] is the BIC of Scores[i].K (rule "bic").
	BIC []float64 `json:"bic,omitempty"`
	// Applied is the model file applied (--model), when one was.
	Applied    string  `json:"applied,omitempty"`
	FitSeconds float64 `json:"fit_seconds"`
}

// FitClusters runs k-means on the numeric columns of one file.
func FitClusters(ctx context.Context, o ClusterOptions) (*ClusterReport, error) {
	if o.Input == "" {
		return nil, &UsageError{Msg: "--input is required"}
	}
	if o.Labels != "" {
		if _, err := outFormat("--labels", o.Labels); err != nil {
			return nil, err
		}
	}
	if o.Model != "" {
		return applyClusters(ctx, o)
	}
	rule := cluster.KByBIC
	switch o.KRule {
	case "", "bic":
	case "silhouette":
		rule = cluster.KBySilhouette
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("--k-rule must be bic or silhouette, got %q", o.KRule)}
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
	sc, err := cluster.FitTransformInPlace(X, modes, cols)
	if err != nil {
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
		choice, results, err := cluster.ChooseKBy(ctx, X, kMin, kMax, cfg, cluster.KOptions{Rule: rule, SilhouetteSample: o.SilhouetteSample})
		if err != nil {
			return nil, err
		}
		fit, rep.Reason, rep.Scores, rep.BIC = results[choice.K-kMin], choice.Reason, choice.Scores, choice.BIC
	}
	rep.FitSeconds = time.Since(start).Seconds()
	rep.K, rep.Inertia, rep.Iterations, rep.Converged, rep.Algorithm = fit.Centroids.N, fit.Inertia, fit.Iterations, fit.Converged, string(fit.Algorithm)
	rep.Sizes = make([]int, rep.K)
	for _, l := range fit.Labels {
		rep.Sizes[l]++
	}
	if o.Labels == "" && o.Centroids == "" {
		return rep, nil
	}
	m, err := newClusterModel(X, sc, fit, cols)
	if err != nil {
		return nil, err
	}
	rep.Names = m.Names
	if o.Centroids != "" {
		if err := writeClusterModel(ctx, o.Centroids, m); err != nil {
			return nil, err
		}
	}
	if o.Labels != "" {
		if err := writeLabels(ctx, o.Labels, o.Input, cols, o.IDCol, fit.Labels, m.Names); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// applyClusters assigns the rows of o.Input to the clusters of the saved
// model o.Model and writes their labels to o.Labels: the model's scaler,
// then the nearest centroid, as the fit assigned its own rows.
func applyClusters(ctx context.Context, o ClusterOptions) (*ClusterReport, error) {
	if o.Labels == "" {
		return nil, &UsageError{Msg: "--model needs --labels FILE to write the assignments to"}
	}
	if o.K > 0 || len(o.Columns) > 0 || o.Centroids != "" {
		return nil, &UsageError{Msg: "--model applies a saved model: --k, --columns and --centroids do not apply"}
	}
	m, err := readClusterModel(ctx, o.Model)
	if err != nil {
		return nil, err
	}
	X, skipped, err := loadMatrix(ctx, o.Input, m.Features, o.Workers)
	if err != nil {
		return nil, err
	}
	if err := m.Scaler.TransformInPlace(X); err != nil {
		return nil, fmt.Errorf("apply %s to %s: %w", o.Model, o.Input, err)
	}
	start := time.Now()
	labels, inertia, err := cluster.Assign(ctx, X, m.centroids(), o.Workers)
	if err != nil {
		return nil, fmt.Errorf("apply %s to %s: %w", o.Model, o.Input, err)
	}
	rep := &ClusterReport{Input: o.Input, Rows: X.N, SkippedRows: skipped, Columns: m.Features, K: len(m.Centroids),
		Inertia: inertia, Names: m.Names, Applied: o.Model, Sizes: make([]int, len(m.Centroids)), Algorithm: "assign"}
	if len(m.Scaler.Modes) > 0 {
		rep.Scale = string(m.Scaler.Modes[0])
	}
	for _, l := range labels {
		rep.Sizes[l]++
	}
	rep.FitSeconds = time.Since(start).Seconds()
	if err := writeLabels(ctx, o.Labels, o.Input, m.Features, o.IDCol, labels, m.Names); err != nil {
		return nil, err
	}
	return rep, nil
}

// numericColumns lists the columns of a file that hold numbers: Parquet
// INT32, INT64, FLOAT and DOUBLE leaves (not dates or timestamps); CSV
// columns whose first 1000 non-empty values all parse as numbers.
func numericColumns(ctx context.Context, file string) ([]string, error) {
	b, base, err := fileBucket(ctx, file, "--input", false)
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
