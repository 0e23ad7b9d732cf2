package jobs

import (
	"context"
	"fmt"

	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/storage"
)

// Published is a committed run as `strata show` presents it.
type Published struct {
	Location string
	Manifest *publish.Manifest
	Model    *output.Model
	// Previous is the run published before it, nil for the first.
	Previous *output.Model
}

// Show reads the run published for asOf ("" for the latest) under cfg's
// output location, and the one before it.
func Show(ctx context.Context, cfg *config.Config, asOf string) (*Published, error) {
	out, err := storage.Open(ctx, cfg.Output.Location, pipeline.StorageOptions(cfg))
	if err != nil {
		return nil, err
	}
	dates, err := publish.Dates(ctx, out)
	if err != nil {
		return nil, err
	}
	if len(dates) == 0 {
		return nil, fmt.Errorf("%s: nothing published yet", cfg.Output.Location)
	}
	if asOf == "" {
		asOf = dates[len(dates)-1]
	}
	p := &Published{Location: cfg.Output.Location}
	if p.Manifest, err = publish.ReadManifest(ctx, out, asOf); err != nil {
		if objstore.IsNotExist(err) {
			return nil, &UsageError{Msg: fmt.Sprintf("no run published for %s under %s (published: %s … %s, %d dates)", asOf, cfg.Output.Location, dates[0], dates[len(dates)-1], len(dates))}
		}
		return nil, err
	}
	if p.Model, _, err = output.ReadModel(ctx, out, p.Manifest); err != nil {
		return nil, err
	}
	prev, err := publish.Previous(ctx, out, asOf)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		if p.Previous, _, err = output.ReadModel(ctx, out, prev); err != nil {
			return nil, err
		}
	}
	return p, nil
}
