package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/strata-oss/strata/models/cluster"
	"github.com/strata-oss/strata/pipeline/tables"
)

// ClusterModel is what `strata cluster --centroids FILE` writes and
// `strata cluster --model FILE` applies: enough to assign new rows exactly
// as the fit assigned its own. A row's cluster is the index of the nearest
// of Centroids (squared Euclidean distance, lowest index on ties) after
// Scaler has transformed its Features.
type ClusterModel struct {
	// Format names this layout; it changes only with a new layout.
	Format   string          `json:"format"`
	Features []string        `json:"features"`
	Scaler   *cluster.Scaler `json:"scaler"`
	// Centroids are in the scaled space the assignment uses, one row per
	// cluster; RawCentroids are the same points in the input's units.
	Centroids    [][]float64 `json:"centroids"`
	RawCentroids [][]float64 `json:"raw_centroids"`
	// Names say how each cluster differs from the population
	// (cluster.DescriptiveNames); Sizes are its rows in the fit.
	Names []string `json:"names"`
	Sizes []int    `json:"sizes"`
}

const clusterModelFormat = "strata-kmeans/1"

// newClusterModel builds the model of a fit: X is the scaled matrix the
// fit ran on, labels its assignment.
func newClusterModel(X cluster.Matrix, sc *cluster.Scaler, fit cluster.Result, cols []string) (*ClusterModel, error) {
	k, d := fit.Centroids.N, fit.Centroids.D
	raw, err := sc.InverseTransform(fit.Centroids)
	if err != nil {
		return nil, fmt.Errorf("cluster model: %w", err)
	}
	m := &ClusterModel{Format: clusterModelFormat, Features: cols, Scaler: sc, Sizes: make([]int, k)}
	for j := range k {
		m.Centroids = append(m.Centroids, append([]float64(nil), fit.Centroids.Data[j*d:j*d+d]...))
		m.RawCentroids = append(m.RawCentroids, append([]float64(nil), raw.Data[j*d:j*d+d]...))
	}
	for _, l := range fit.Labels {
		m.Sizes[l]++
	}
	// Names are about the input's units (a cluster "high spend" relative
	// to the population), so the profiles are of the unscaled rows.
	rawX, err := sc.InverseTransform(X)
	if err != nil {
		return nil, fmt.Errorf("cluster model: %w", err)
	}
	labels := make([]cluster.FeatureLabel, d)
	feats := make([]cluster.NameFeature, d)
	for t, c := range cols {
		labels[t] = cluster.FeatureLabel{Name: c}
		feats[t] = cluster.NameFeature{Name: c, Kind: featureKind(c)}
	}
	ps, err := cluster.Profiles(rawX, fit.Labels, k, nil, labels)
	if err != nil {
		return nil, fmt.Errorf("cluster model: %w", err)
	}
	if m.Names, err = cluster.DescriptiveNames(ps, feats, cluster.NameOptions{}); err != nil {
		return nil, fmt.Errorf("cluster model: %w", err)
	}
	return m, nil
}

// featureKind guesses from a column's name whether it measures time since
// the last purchase or the chance of being active, so that a name never
// calls a lapsed cluster "recent" (see cluster.DescriptiveNames).
func featureKind(col string) cluster.FeatureKind {
	c := strings.ToLower(col)
	switch {
	case strings.Contains(c, "recency"), strings.Contains(c, "days_since"):
		return cluster.KindRecency
	case strings.Contains(c, "p_alive"):
		return cluster.KindActivity
	}
	return cluster.KindPlain
}

// check says whether m can assign rows: a well-formed file of this format.
func (m *ClusterModel) check() error {
	if m.Format != clusterModelFormat {
		return fmt.Errorf("format %q, want %q", m.Format, clusterModelFormat)
	}
	d := len(m.Features)
	if d == 0 || m.Scaler == nil || len(m.Scaler.Modes) != d || len(m.Scaler.Mean) != d || len(m.Scaler.Std) != d || len(m.Centroids) < 1 {
		return fmt.Errorf("%d features, scaler for %v, %d centroids: incomplete", d, m.Scaler != nil, len(m.Centroids))
	}
	for j, c := range m.Centroids {
		if len(c) != d {
			return fmt.Errorf("centroid %d has %d values for %d features", j, len(c), d)
		}
	}
	if len(m.Names) != 0 && len(m.Names) != len(m.Centroids) {
		return fmt.Errorf("%d names for %d centroids", len(m.Names), len(m.Centroids))
	}
	return nil
}

func (m *ClusterModel) centroids() cluster.Matrix {
	d := len(m.Features)
	c := cluster.NewMatrix(len(m.Centroids), d)
	for j, row := range m.Centroids {
		copy(c.Data[j*d:], row)
	}
	return c
}

func writeClusterModel(ctx context.Context, file string, m *ClusterModel) error {
	if !strings.HasSuffix(strings.ToLower(file), ".json") {
		return &UsageError{Msg: fmt.Sprintf("--centroids %q: the name must end in .json", file)}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", file, err)
	}
	return writeFile(ctx, file, append(data, '\n'))
}

func readClusterModel(ctx context.Context, file string) (*ClusterModel, error) {
	b, base, err := fileBucket(ctx, file, "--model", false)
	if err != nil {
		return nil, err
	}
	rc, err := b.Get(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", file, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", file, err)
	}
	var m ClusterModel
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--model %s: not a cluster model: %v", file, err)}
	}
	if err := m.check(); err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--model %s: %v", file, err)}
	}
	return &m, nil
}

// writeLabels writes one row per input row: row_number (0-based, the
// file's data rows in order, as DuckDB's file_row_number counts Parquet
// rows), the idCol's value when idCol is set, cluster (null for a row
// that was skipped: a missing or non-finite value) and cluster_name.
// labels are the clusters of the rows kept, in file order.
func writeLabels(ctx context.Context, file, input string, cols []string, idCol string, labels []int32, names []string) error {
	fields := make([]tables.Field, 0, len(cols)+1)
	columns := map[string]string{}
	for i, c := range cols {
		// Field names of their own, so that the id column may also be a
		// feature.
		name := fmt.Sprintf("f%d", i)
		fields = append(fields, tables.Field{Name: name, Kind: tables.Float, Required: true})
		columns[name] = c
	}
	if idCol != "" {
		fields = append(fields, tables.Field{Name: "id", Kind: tables.String, Required: true})
		columns["id"] = idCol
	}
	var rowNum []int64
	var ids []string
	var cl []int32
	var clNull []bool
	kept := 0
	d := len(cols)
	err := scanFile(ctx, input, columns, fields, func(b *tables.Batch) error {
		for i := 0; i < b.N; i++ {
			// The same rule as copyBatch: a malformed row or a null,
			// NaN or infinite value is skipped.
			ok := b.Malformed == nil || b.Malformed[i] == ""
			for t := 0; t < d && ok; t++ {
				c := &b.Cols[t]
				ok = c.Present && !c.IsNull(i) && c.F[i]-c.F[i] == 0
			}
			rowNum = append(rowNum, int64(len(rowNum)))
			if idCol != "" {
				c := &b.Cols[d]
				v := ""
				if c.Present && !c.IsNull(i) {
					v = c.Str[i]
				}
				ids = append(ids, v)
			}
			if ok {
				if kept >= len(labels) {
					return fmt.Errorf("more usable rows than the fit saw (%d)", len(labels))
				}
				cl, clNull = append(cl, labels[kept]), append(clNull, false)
				kept++
			} else {
				cl, clNull = append(cl, 0), append(clNull, true)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("labels of %s: %w", input, err)
	}
	if kept != len(labels) {
		return fmt.Errorf("labels of %s: %d usable rows on a second read, %d in the fit", input, kept, len(labels))
	}
	out := []tables.OutColumn{{Name: "row_number", Type: tables.OutInt64, I64: rowNum}}
	if idCol != "" {
		out = append(out, tables.OutColumn{Name: idCol, Type: tables.OutString, Str: ids})
	}
	nm := make([]string, len(cl))
	for i, c := range cl {
		if !clNull[i] && int(c) < len(names) {
			nm[i] = names[c]
		}
	}
	out = append(out,
		tables.OutColumn{Name: "cluster", Type: tables.OutInt32, Optional: true, I32: cl, Null: clNull},
		tables.OutColumn{Name: "cluster_name", Type: tables.OutString, Optional: true, Str: nm, Null: clNull})
	return writeTable(ctx, "--labels", file, out)
}
