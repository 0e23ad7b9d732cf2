package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/configs"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/storage"
	"github.com/strata-oss/strata/pipeline/synth"
)

// The demo data set's shop window and the default as-of date inside it;
// orders after the as-of date exist, so the point-in-time cut is visible.
var (
	DemoStart = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	DemoEnd   = time.Date(2025, 9, 30, 0, 0, 0, 0, time.UTC)
	DemoAsOf  = time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
)

// DemoOptions configure the demo.
type DemoOptions struct {
	Dir       string // local path or s3://bucket/prefix
	Customers int
	AsOf      time.Time
	Seed      uint64
	Version   string
	Logger    zerolog.Logger
}

// DemoResult is what the demo made.
type DemoResult struct {
	Input, Output string
	Generated     synth.Stats
	Run           *pipeline.Result
}

// DemoConfig returns the embedded demo configuration pointed at dir.
func DemoConfig(dir string) (*config.Config, error) {
	cfg, err := config.Parse(configs.Demo, func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("embedded demo config: %w", err)
	}
	cfg.Input.Location = storage.Join(dir, "input")
	cfg.Output.Location = storage.Join(dir, "output")
	return cfg, nil
}

// Demo generates the synthetic shop into Dir/input, runs the pipeline and
// publishes into Dir/output.
func Demo(ctx context.Context, opt DemoOptions) (*DemoResult, error) {
	cfg, err := DemoConfig(opt.Dir)
	if err != nil {
		return nil, err
	}
	if opt.Seed != 0 {
		cfg.Seed = opt.Seed
	}
	res := &DemoResult{Input: cfg.Input.Location, Output: cfg.Output.Location}
	in, err := storage.Create(ctx, cfg.Input.Location, pipeline.StorageOptions(cfg))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res.Generated, err = synth.Generate(ctx, in, synth.Config{
		Customers: opt.Customers,
		Seed:      cfg.Seed,
		Start:     DemoStart,
		End:       DemoEnd,
		Format:    "parquet",
	})
	if err != nil {
		return nil, fmt.Errorf("generate demo data: %w", err)
	}
	opt.Logger.Info().Int("customers", res.Generated.Customers).Int("orders", res.Generated.Orders).
		Dur("duration", time.Since(start)).Str("dir", cfg.Input.Location).Msg("generated demo data")
	res.Run, err = RunOnce(ctx, cfg, pipeline.Options{AsOf: opt.AsOf, Version: opt.Version, Logger: opt.Logger, Input: in})
	return res, err
}
