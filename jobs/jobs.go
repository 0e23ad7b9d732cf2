// Package jobs runs Strata's jobs — one run, the demo, backfills, and the
// runs of the scheduler daemon (package jobs/daemon) — and classifies their
// outcome into the documented exit codes.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/strata-oss/strata/jobs/lease"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Exit codes, part of the command-line contract.
const (
	ExitOK      = 0
	ExitFailure = 1 // runtime failure
	ExitUsage   = 2 // usage or configuration error
	ExitQuality = 3 // data-quality gate failed
	ExitLocked  = 4 // another process holds the date's lock
)

// ExitCode maps an error to the exit code scripts depend on.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var qe *pipeline.QualityError
	var ce *pipeline.ConfigError
	var ps config.Problems
	var se *tables.SchemaError
	var ue *UsageError
	var be *BackfillError
	switch {
	case errors.As(err, &be):
		return be.ExitCode()
	case errors.Is(err, lease.ErrLocked), errors.Is(err, lease.ErrLost):
		return ExitLocked
	case errors.As(err, &qe):
		return ExitQuality
	case errors.As(err, &ce), errors.As(err, &ps), errors.As(err, &se), errors.As(err, &ue):
		return ExitUsage
	}
	return ExitFailure
}

// Transient reports whether err may go away by itself, so that a run
// failing with it is worth retrying: a runtime failure (ExitFailure) that
// is not a model that cannot be fitted on the data (a
// *pipeline.ModelError fails the same way on the same data).
func Transient(err error) bool {
	var me *pipeline.ModelError
	return ExitCode(err) == ExitFailure && !errors.As(err, &me)
}

// UsageError is a mistake in how a command was called.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// NewRunID returns a unique, sortable run id.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// RunOnce runs the pipeline for one date.
func RunOnce(ctx context.Context, cfg *config.Config, opt pipeline.Options) (*pipeline.Result, error) {
	if opt.RunID == "" {
		opt.RunID = NewRunID(time.Now())
	}
	return pipeline.Run(ctx, cfg, opt)
}
