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
	"github.com/strata-oss/strata/pipeline/storage"
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
	var fe *config.FileError
	var le *storage.LocationError
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
	case errors.As(err, &ce), errors.As(err, &ps), errors.As(err, &fe), errors.As(err, &le), errors.As(err, &se), errors.As(err, &ue),
		missingBucket(err):
		return ExitUsage
	}
	return ExitFailure
}

// missingBucket reports whether err is an object store's "no such bucket"
// (S3's NoSuchBucket, found through the error code smithy's API errors
// carry): a location that does not exist, as a missing local directory.
func missingBucket(err error) bool {
	var coded interface{ ErrorCode() string }
	return errors.As(err, &coded) && coded.ErrorCode() == "NoSuchBucket"
}

// Permanent is implemented by errors that trying again cannot fix, though
// they are runtime failures (exit 1): a model that cannot be fitted to
// the data, say. Any error in the chain whose Permanent() is true makes
// the failure permanent; packages need not import this one to say so.
type Permanent interface{ Permanent() bool }

// Retryable reports whether a run that failed with err may succeed when
// tried again: storage and network faults (exit 1), including a lease that
// expired because the lock store could not be reached. Configuration,
// schema and data-quality errors (exit 2, 3), a date locked by another
// process (4), a cancelled run, and errors marked Permanent never are.
func Retryable(err error) bool {
	if err == nil || ExitCode(err) != ExitFailure {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var p Permanent
	if errors.As(err, &p) && p.Permanent() {
		return false
	}
	return true
}

// PermanentError marks an error as not worth retrying (see Permanent).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string   { return e.Err.Error() }
func (e *PermanentError) Unwrap() error   { return e.Err }
func (e *PermanentError) Permanent() bool { return true }

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
