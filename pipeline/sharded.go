package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/stages"
)

// Fitted is everything a run learns from its population rather than from
// one customer: the feature vocabulary and each stage's model (the RFM
// quintile breaks, the CLV model, the clusters, the category lifts). A run
// scores its customers with it; a sharded run fits it once (Fit),
// publishes it, and every shard scores its customers with the same one
// (Score), so that the union of the shards is the single-process run row
// for row.
type Fitted struct {
	fittedBase
	// Models are the stages' models, published after the base fields under
	// each stage's key.
	Models stages.Models
	// members are a published fit's JSON members, decoded into Models by
	// the reading run's stages (decode).
	members map[string]json.RawMessage
}

// fittedBase is what a fit holds besides the stages' models.
type fittedBase struct {
	AsOf       string `json:"as_of"`
	Attempt    string `json:"attempt"`
	ConfigHash string `json:"config_hash"`
	// SampleFraction is the share of customers fitted on (fit.sample_fraction);
	// Customers is how many that was.
	SampleFraction float64              `json:"sample_fraction"`
	Customers      int                  `json:"customers"`
	Vocabulary     *features.Vocabulary `json:"vocabulary"`
	// NoAmount: the orders the models were fitted on had no amount.
	NoAmount bool               `json:"no_amount,omitempty"`
	Features []features.Feature `json:"features"`
}

// MarshalJSON writes the base fields, then the models in run order.
func (f *Fitted) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(f.fittedBase)
	if err != nil {
		return nil, err
	}
	b, err = f.Models.AppendJSON(b[:len(b)-1])
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the base fields and keeps the models' JSON for
// decode.
func (f *Fitted) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &f.fittedBase); err != nil {
		return err
	}
	return json.Unmarshal(data, &f.members)
}

// decode reads the models of the stages of order from a published fit.
func (f *Fitted) decode(order []stages.Stage) error {
	return f.Models.DecodeJSON(order, f.members)
}

// record is model.json's note of f's sample, nil when f is fitted on
// every customer.
func (f *Fitted) record() *output.FitRecord {
	if f.SampleFraction >= 1 {
		return nil
	}
	return &output.FitRecord{SampleFraction: f.SampleFraction, Customers: f.Customers}
}

// outputRun is r as its run-wide tables tell of it, scored with f.
func (r *run) outputRun(f *Fitted) *output.Run {
	return &output.Run{Config: r.cfg, Version: r.opt.Version, AsOf: r.asOf, Models: f.Models,
		Features: f.Features, NoAmount: f.NoAmount, Sample: f.record()}
}

// Shard is one part of a sharded run: the customers whose id hashes to
// Index of Count.
type Shard struct{ Index, Count int }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// MaxShards bounds a sharded run's shards; part numbers have five digits.
const MaxShards = 10_000

// ParseShard parses "i/N", or "N" with i from JOB_COMPLETION_INDEX (what
// a Kubernetes Indexed Job gives each pod).
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		is, ns = os.Getenv("JOB_COMPLETION_INDEX"), s
		if is == "" {
			return Shard{}, fmt.Errorf("shard %q: want i/N, or N with JOB_COMPLETION_INDEX set", s)
		}
	}
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil || n < 1 || n > MaxShards || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/N with 0 <= i < N <= %d", s, MaxShards)
	}
	return Shard{Index: i, Count: n}, nil
}

func fitKey(asOf, attempt string) string {
	return fmt.Sprintf("_strata/fits/dt=%s/fit-%s.json", asOf, attempt)
}

func shardKey(asOf, attempt string, s Shard) string {
	return fmt.Sprintf("_strata/shards/dt=%s/%s/shard-%05d-of-%05d.json", asOf, attempt, s.Index, s.Count)
}

// shardRecord is what a shard reports to the finishing step.
type shardRecord struct {
	Shard   Shard                         `json:"shard"`
	Attempt string                        `json:"attempt"`
	Tables  map[string]publish.TableFiles `json:"tables"`
	Part    *output.Part                  `json:"part"`
}

func putJSON(ctx context.Context, b objstore.Bucket, key string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if err := b.Upload(ctx, key, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

func getJSON(ctx context.Context, b objstore.Bucket, key string, v any) error {
	data, err := objstore.ReadAll(ctx, b, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// plannedAttempt is the attempt id every step of a sharded run shares: a
// function of the inputs, the config, the date and the previous run, the
// same in every process that lists the same objects.
func (r *run) plannedAttempt(ctx context.Context) (string, error) {
	p, err := r.plan(ctx)
	if err != nil {
		return "", err
	}
	return p.Attempt, nil
}

func (r *run) plan(ctx context.Context) (*Plan, error) {
	p, err := PlanRun(ctx, r.cfg, Options{AsOf: r.opt.AsOf, Version: r.opt.Version, Input: r.in, Output: r.out})
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	r.res.Attempt, r.res.Inputs = p.Attempt, p.Inputs
	return p, nil
}

// pollEvery is how often a waiting step looks again.
const pollEvery = 5 * time.Second

// waitFor calls ready until it reports done, an error, or r.opt.Wait has
// passed (then the last error it gave, a not-ready one, is returned).
func (r *run) waitFor(ctx context.Context, what string, ready func() (bool, error)) error {
	deadline := time.Now().Add(r.opt.Wait)
	logged := false
	for {
		done, err := ready()
		if done || !time.Now().Before(deadline) {
			return err
		}
		if !logged {
			r.log.Info().Float64("wait_seconds", r.opt.Wait.Seconds()).Msg("waiting for " + what)
			logged = true
		}
		t := time.NewTimer(min(pollEvery, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// readFit reads the published fit of attempt, waiting for it up to
// r.opt.Wait.
func (r *run) readFit(ctx context.Context, attempt string) (*Fitted, error) {
	var fit Fitted
	key := fitKey(r.asOf, attempt)
	var err error
	r.waitFor(ctx, "the fitted model", func() (bool, error) {
		err = getJSON(ctx, r.out, key, &fit)
		return !objstore.IsNotExist(err), err
	})
	if err != nil {
		if objstore.IsNotExist(err) {
			return nil, fmt.Errorf("no fitted model %s for attempt %s: run `strata fit` for %s first (or the inputs, "+
				"configuration or previous run changed since the fit)", key, attempt, r.asOf)
		}
		return nil, fmt.Errorf("read fitted model: %w", err)
	}
	if fit.Attempt != attempt || fit.ConfigHash != r.res.ConfigHash {
		return nil, fmt.Errorf("fitted model %s is for attempt %s config %s, not %s config %s", key, fit.Attempt, fit.ConfigHash, attempt, r.res.ConfigHash)
	}
	if err := fit.decode(r.order); err != nil {
		return nil, fmt.Errorf("read fitted model %s: %w", key, err)
	}
	return &fit, nil
}

// Fit is the first step of a sharded run: it fits the models on a sample
// of the customers (fit.sample_fraction; everyone by default) and
// publishes them for the shards, under the run's attempt id. It publishes
// no table.
func Fit(ctx context.Context, cfg *config.Config, opt Options) (*Result, error) {
	r, err := newRun(ctx, cfg, opt)
	if err != nil {
		return r.res, err
	}
	st, fit, err := r.compute(ctx, fitSample(cfg), nil, "")
	if err != nil {
		return r.res, err
	}
	fit.Attempt, r.res.Inputs = r.attempt(st)
	r.res.Attempt = fit.Attempt
	if planned, err := r.plannedAttempt(ctx); err != nil {
		return r.res, err
	} else if planned != fit.Attempt {
		return r.res, fmt.Errorf("the inputs changed while fitting (attempt %s, now %s); fit again", fit.Attempt, planned)
	}
	return r.res, r.stage("publish", func(zerolog.Logger) error {
		return putJSON(ctx, r.out, fitKey(r.asOf, fit.Attempt), fit)
	})
}

// Score is one shard of a sharded run: it reads the inputs, keeps the
// customers of shard s, scores them with the published fit and writes its
// part of every per-customer table, then its record for the finishing
// step. Its objects have fixed names for the attempt: a retried shard
// overwrites its own part and nothing else. It commits nothing.
func Score(ctx context.Context, cfg *config.Config, opt Options, s Shard) (*Result, error) {
	r, err := newRun(ctx, cfg, opt)
	if err != nil {
		return r.res, err
	}
	plan, err := r.plan(ctx)
	if err != nil {
		return r.res, err
	}
	attempt := plan.Attempt
	if plan.UpToDate() && !opt.Force {
		// Its parts would lie beside the committed run's, unnamed by the
		// manifest, until the next commit: a tool globbing the partition
		// would read both.
		r.res.UpToDate = true
		return r.res, nil
	}
	fit, err := r.readFit(ctx, attempt)
	if err != nil {
		return r.res, err
	}
	r.noGate = true
	st, _, err := r.compute(ctx, extract.Part(s.Index, s.Count), fit, "")
	if err != nil {
		return r.res, err
	}
	if a, _ := r.attempt(st); a != attempt {
		return r.res, fmt.Errorf("the inputs changed while scoring shard %s (attempt %s, now %s)", s, attempt, a)
	}
	return r.res, r.stage("publish", func(zerolog.Logger) error {
		pub := publish.New(r.out, r.asOf, attempt).Sharded(s.Count)
		cp, err := output.WriteCustomerTables(ctx, pub, st, s.Index)
		if err != nil {
			return err
		}
		cp.Inputs = r.res.Inputs
		if err := cp.Agg.EncodeParts(); err != nil {
			return err
		}
		return putJSON(ctx, r.out, shardKey(r.asOf, attempt, s), shardRecord{Shard: s, Attempt: attempt, Tables: pub.Tables(), Part: cp})
	})
}

// Finish is the last step of a sharded run: it checks that all shards
// of the attempt reported and that every part they name exists, merges
// their aggregates, writes the run-wide tables (summary, migrations,
// report, model.json) and commits the manifest naming every part.
func Finish(ctx context.Context, cfg *config.Config, opt Options, shards int) (*Result, error) {
	r, err := newRun(ctx, cfg, opt)
	if err != nil {
		return r.res, err
	}
	if shards < 1 || shards > MaxShards {
		return r.res, &ConfigError{Err: fmt.Errorf("shards %d: want 1 to %d", shards, MaxShards)}
	}
	attempt, err := r.plannedAttempt(ctx)
	if err != nil {
		return r.res, err
	}
	fit, err := r.readFit(ctx, attempt)
	if err != nil {
		return r.res, err
	}
	res := r.res
	err = r.stage("publish", func(l zerolog.Logger) error {
		pub := publish.New(r.out, r.asOf, attempt)
		recs := make([]*shardRecord, shards)
		var missing []string
		err := r.waitFor(ctx, "the shards", func() (bool, error) {
			missing = missing[:0]
			for i := range shards {
				if recs[i] != nil {
					continue
				}
				s := Shard{Index: i, Count: shards}
				var rec shardRecord
				if err := getJSON(ctx, r.out, shardKey(r.asOf, attempt, s), &rec); err != nil {
					if objstore.IsNotExist(err) {
						missing = append(missing, s.String())
						continue
					}
					return true, fmt.Errorf("read shard %s: %w", s, err)
				}
				recs[i] = &rec
			}
			return len(missing) == 0, nil
		})
		if err != nil {
			return err
		}
		var merged *output.Part
		for i, rec := range recs {
			if rec == nil {
				continue
			}
			s := Shard{Index: i, Count: shards}
			if rec.Attempt != attempt || rec.Shard != s || rec.Part == nil {
				return fmt.Errorf("shard record %s is for attempt %s shard %s", shardKey(r.asOf, attempt, s), rec.Attempt, rec.Shard)
			}
			if err := rec.Part.Agg.DecodeParts(r.stages); err != nil {
				return fmt.Errorf("shard record %s: %w", shardKey(r.asOf, attempt, s), err)
			}
			for table, files := range rec.Tables {
				for _, key := range files.Keys {
					if _, err := r.out.Attributes(ctx, key); err != nil {
						return fmt.Errorf("shard %s: part %s: %w", s, key, err)
					}
				}
				pub.Adopt(table, files)
			}
			if merged == nil {
				merged = rec.Part
				continue
			}
			if !slices.Equal(merged.Segments, rec.Part.Segments) || !slices.Equal(merged.Features, rec.Part.Features) {
				return fmt.Errorf("shard %s published other columns than shard 0", s)
			}
			if err := merged.Agg.Merge(rec.Part.Agg); err != nil {
				return fmt.Errorf("merge shard %s: %w", s, err)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d of %d shards of attempt %s have not finished: %s", len(missing), shards, attempt, strings.Join(missing, ", "))
		}
		err = func() error {
			y, mo, d := opt.AsOf.Date()
			loc := cfg.Location()
			whole := &extract.Dataset{Quality: merged.Agg.Quality, Orders: int(merged.Agg.Orders), LastOrder: extract.NoTime,
				AsOf: time.Date(y, mo, d, 0, 0, 0, 0, loc), Location: loc}
			if merged.Agg.NewestOrder != 0 {
				whole.LastOrder = merged.Agg.NewestOrder
			}
			if err := checkStale(cfg, whole); err != nil {
				return err
			}
			if err := checkGate(cfg, whole); err != nil {
				return err
			}
			vals, err := output.ReadSegmentValues(ctx, r.out, pub.Tables()["segments"].Keys)
			if err != nil {
				return err
			}
			res.Customers, res.Orders, res.Quality = int(merged.Agg.Customers), int(merged.Agg.Orders), merged.Agg.Quality
			merged.Inputs = res.Inputs
			res.Segments, res.Drift, err = output.WriteRunTables(ctx, l, pub, r.outputRun(fit), merged, vals.Spreads())
			return err
		}()
		return r.commit(ctx, l, pub, err)
	})
	return res, err
}
