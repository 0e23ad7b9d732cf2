package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/stages"
	"github.com/strata-oss/strata/pipeline/storage"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Plan is what a run for one date would be, known without reading a row:
// the attempt id it would publish under and what is published now.
type Plan struct {
	AsOf       string
	Attempt    string
	ConfigHash string
	Inputs     []extract.Input
	// Published is the date's committed manifest; nil if never published.
	Published *publish.Manifest
}

// UpToDate reports whether the published run is exactly the one a run now
// would publish: same version, configuration, date and input fingerprints.
// Re-running it would write the same bytes.
func (p *Plan) UpToDate() bool {
	return p.Published != nil && p.Published.Attempt == p.Attempt
}

// PlanRun computes the attempt id a Run with the same arguments would
// have, by listing the inputs and reading their attributes (and the
// previous run's model.json when clustering chains to it). It costs a few
// listings, not a read of the data, so schedulers and backfills can skip
// dates that are already published. Run and PlanRun must fingerprint the
// same objects; a test holds them to it.
func PlanRun(ctx context.Context, cfg *config.Config, opt Options) (*Plan, error) {
	asOf := opt.AsOf.Format(DateLayout)
	p := &Plan{AsOf: asOf, ConfigHash: cfg.Hash()}
	in, out := opt.Input, opt.Output
	var err error
	if in == nil {
		if in, err = storage.Open(ctx, cfg.Input.Location, StorageOptions(cfg)); err != nil {
			return nil, err
		}
	}
	if out == nil {
		if out, err = storage.Open(ctx, cfg.Output.Location, StorageOptions(cfg)); err != nil {
			return nil, err
		}
	}
	pseud, err := pseudonymizer(cfg)
	if err != nil {
		return nil, err
	}
	spec, _, err := runSpec(ctx, cfg, in, opt.AsOf, pseud)
	if err != nil {
		return nil, err
	}
	named := []struct {
		name string
		t    *extract.Table
	}{{"customers", spec.Customers}, {"orders", &spec.Orders}, {"events", spec.Events}, {"suppression", spec.Suppression}}
	if spec.FX != nil {
		named = append(named, struct {
			name string
			t    *extract.Table
		}{"fx", &spec.FX.Table})
	}
	for _, n := range named {
		if n.t == nil {
			continue
		}
		inputs, err := fingerprint(ctx, n.name, n.t)
		if err != nil {
			return nil, err
		}
		p.Inputs = append(p.Inputs, inputs...)
	}
	list := opt.Stages
	if list == nil {
		list = stages.Default()
	}
	order, err := list.Order(cfg)
	if err != nil {
		return nil, err
	}
	for _, s := range order {
		if rd, ok := s.(stages.Reader); ok {
			in, err := rd.Inputs(ctx, cfg, out, asOf)
			if err != nil {
				return nil, err
			}
			// Stages reading the same object (the previous run's model)
			// declare it each; the run reads it, and counts it, once.
			for _, i := range in {
				if !slices.Contains(p.Inputs, i) {
					p.Inputs = append(p.Inputs, i)
				}
			}
		}
	}
	if pseud != nil {
		p.Inputs = append(p.Inputs, keyInput(pseud))
	}
	p.Attempt = attemptID(opt.Version, p.ConfigHash, asOf, p.Inputs)
	m, err := publish.ReadManifest(ctx, out, asOf)
	switch {
	case err == nil:
		p.Published = m
	case !objstore.IsNotExist(err):
		return nil, fmt.Errorf("read published manifest of %s: %w", asOf, err)
	}
	return p, nil
}

// fingerprint lists one input table's objects as the extract stage does:
// the same source listing, then each object's size and ETag.
func fingerprint(ctx context.Context, table string, t *extract.Table) ([]extract.Input, error) {
	src := tables.Source{Bucket: t.Bucket, Prefix: t.Prefix, Format: t.Format, Columns: t.Columns, CSV: t.CSV}
	keys, err := src.Files(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	inputs := make([]extract.Input, 0, len(keys))
	for _, k := range keys {
		a, err := t.Bucket.Attributes(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("%s: attributes of %s: %w", table, k, err)
		}
		inputs = append(inputs, extract.Input{Table: table, Key: k, Size: a.Size, ETag: a.ETag})
	}
	return inputs, nil
}
