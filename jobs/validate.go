package jobs

import (
	"context"
	"time"

	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
)

// Validate checks that the audiences' filters fit the published columns,
// that the configured inputs exist and that their schemas fit the column
// mapping. It reads footers and headers only, and publishes nothing.
func Validate(ctx context.Context, cfg *config.Config) error {
	if err := pipeline.CheckAudiences(cfg); err != nil {
		return err
	}
	return pipeline.CheckInputs(ctx, cfg, time.Now())
}
