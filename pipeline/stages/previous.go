package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/tables"
)

// The stages that read the run published before this one (the clusters'
// stable ids, the RFM migrations, the drift check, the report's brief)
// share what is here: one
// read of its manifest and model.json per process, one input of the
// attempt id whichever of them run, and one way to look customers up in
// its segments table.

// previousRun is what a run needs of the last run published before it.
type previousRun struct {
	manifest *publish.Manifest
	cluster  *ClusterModel // its model.json's cluster section
	// segmentColumns are its segments table's columns (model.json's
	// tables.segments), summary its segment summary rows.
	segmentColumns []string
	summary        []SummaryRow
	// counts are its model.json's counts (customers, buyers, …).
	counts   map[string]int64
	modelKey string
	attrs    objstore.Attrs
}

// previousKey is the scratch key of the previous run: one per run, whichever
// stage asks first.
const previousKey = "previous"

// previous is the run published before r's, read once per run (nil when
// there is none); its model.json becomes an input of r, once: its cluster
// ids and labels shape r's, its segments r's migrations and drift.
func previous(ctx context.Context, r *Run) (*previousRun, error) {
	if v, ok := r.scratch[previousKey]; ok {
		return v.(*previousRun), nil
	}
	prev, err := loadPrevious(ctx, r.Out, r.AsOf)
	if err != nil {
		return nil, err
	}
	r.keep(previousKey, prev)
	if prev != nil {
		r.Inputs = append(r.Inputs, prev.input())
	}
	return prev, nil
}

// previousInputs is what a stage reading the previous run declares (see
// Reader): its model.json, when there is one. Every such stage declares the
// same input; the run counts it once.
func previousInputs(ctx context.Context, out objstore.Bucket, asOf string) ([]extract.Input, error) {
	prev, err := loadPrevious(ctx, out, asOf)
	if err != nil || prev == nil {
		return nil, err
	}
	return []extract.Input{prev.input()}, nil
}

// loadPrevious reads the manifest and model.json of the latest run
// published before asOf, or returns nil when there is none.
func loadPrevious(ctx context.Context, out objstore.Bucket, asOf string) (*previousRun, error) {
	m, err := publish.Previous(ctx, out, asOf)
	if err != nil || m == nil {
		return nil, err
	}
	key := m.Object("model", "models", "model.json")
	data, err := objstore.ReadAll(ctx, out, key)
	if err != nil {
		return nil, fmt.Errorf("previous run: read model %s: %w", key, err)
	}
	var model struct {
		Cluster  *ClusterModel       `json:"cluster"`
		Tables   map[string][]string `json:"tables"`
		Segments []SummaryRow        `json:"segments"`
		Counts   map[string]int64    `json:"counts"`
	}
	if err := json.Unmarshal(data, &model); err != nil {
		return nil, fmt.Errorf("previous run: decode model %s: %w", key, err)
	}
	attrs, err := out.Attributes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("previous run's model %s: %w", key, err)
	}
	return &previousRun{manifest: m, cluster: model.Cluster, segmentColumns: model.Tables["segments"], summary: model.Segments,
		counts: model.Counts, modelKey: key, attrs: attrs}, nil
}

// input fingerprints the previous run as an input of this one: its cluster
// ids and labels shape this run's.
func (p *previousRun) input() extract.Input {
	return extract.Input{Table: "previous_model", Key: p.modelKey, Size: p.attrs.Size, ETag: p.attrs.ETag}
}

// previousLabels fills prevID[c] with customer ids[c]'s cluster id in the
// previous run's segments table (left at -1 when absent or null).
func previousLabels(ctx context.Context, out objstore.Bucket, m *publish.Manifest, ids strcol.Column, prevID []int32) error {
	return previousCodes(ctx, out, m, ids, tables.Field{Name: "cluster_id", Kind: tables.Int},
		func(col *tables.Column, i int) int32 { return int32(col.I[i]) }, prevID)
}

// previousCodes fills prev[c] with code(column, row) of customer ids[c]'s
// row of the previous run's segments table, for the column field (left as
// it is when the customer is absent or the value null). ids are the ids as
// published, so pseudonyms match pseudonyms made with the same key. The
// previous ids are sorted (they usually are already), and looked up by a
// merge when ids are in the same order, by binary search when not
// (numeric ids are in numeric order, pseudonyms in none): no map of every
// customer either way. They are held as a Column, copied out of the
// pages, which a []string of views would keep alive besides.
func previousCodes(ctx context.Context, out objstore.Bucket, m *publish.Manifest, ids strcol.Column, field tables.Field,
	code func(col *tables.Column, i int) int32, prev []int32) error {
	src := tables.Source{Bucket: out, Format: "parquet", Fields: []tables.Field{
		{Name: "customer_id", Kind: tables.String, Required: true},
		field,
	}}
	read := strcol.NewBuilder(ids.Len(), 0)
	var pcl []int32
	for _, key := range m.Tables["segments"].Keys {
		err := src.ScanObject(ctx, key, func(b *tables.Batch) error {
			id, cl := &b.Cols[0], &b.Cols[1]
			for i := 0; i < b.N; i++ {
				if id.IsNull(i) || cl.IsNull(i) {
					continue
				}
				read.Append(id.Str[i])
				pcl = append(pcl, code(cl, i))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read previous run's %s: %w", field.Name, err)
		}
	}
	pids := read.Column()
	if !sorted(pids) {
		idx := make([]int, pids.Len())
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return pids.At(idx[a]) < pids.At(idx[b]) })
		sp, sc := strcol.NewBuilder(pids.Len(), int(pids.Size())), make([]int32, len(pcl))
		for i, j := range idx {
			sp.Append(pids.At(j))
			sc[i] = pcl[j]
		}
		pids, pcl = sp.Column(), sc
	}
	np := pids.Len()
	if !sorted(ids) {
		for c, id := range ids.All() {
			j := sort.Search(np, func(j int) bool { return pids.At(j) >= id })
			if j < np && pids.At(j) == id {
				prev[c] = pcl[j]
			}
		}
		return nil
	}
	j := 0
	for c, id := range ids.All() {
		for j < np && pids.At(j) < id {
			j++
		}
		if j < np && pids.At(j) == id {
			prev[c] = pcl[j]
		}
	}
	return nil
}

// sorted reports whether ids are in ascending byte order.
func sorted(ids strcol.Column) bool {
	for i := 1; i < ids.Len(); i++ {
		if ids.At(i) < ids.At(i-1) {
			return false
		}
	}
	return true
}
