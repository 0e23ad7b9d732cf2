package main

// The operator's verbs: serve, backfill, runs, and `run` through the
// runner (lease, ledger, skip when up to date).

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/jobs/daemon"
	"github.com/strata-oss/strata/jobs/lease"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/storage"
)

// dateFlags are the --config and --as-of of the verbs that run one date.
type dateFlags struct{ cfgPath, asOf *string }

func newDateFlags(fs *flag.FlagSet) dateFlags {
	return dateFlags{
		cfgPath: fs.String("config", "", "configuration file"),
		asOf:    fs.String("as-of", "", "as-of date, YYYY-MM-DD, or today or yesterday in the config's time zone"),
	}
}

// load checks that both flags are set and returns the configuration and
// the date (relative dates in the configuration's time zone).
func (f dateFlags) load() (*config.Config, time.Time, error) {
	if *f.cfgPath == "" || *f.asOf == "" {
		return nil, time.Time{}, &jobs.UsageError{Msg: "--config and --as-of are required"}
	}
	cfg, err := config.Load(*f.cfgPath)
	if err != nil {
		return nil, time.Time{}, err
	}
	d, err := asOfDate(*f.asOf, cfg, time.Now())
	return cfg, d, err
}

// leasedRun runs req through the runner — under the date's lease, in the
// ledger, skipped when already published unchanged — and prints what it
// did; done says what was published.
func leasedRun(ctx context.Context, log zerolog.Logger, stdout io.Writer, cfg *config.Config, asOf string, leaseTTL time.Duration,
	req jobs.Request, again, done string) error {
	if leaseTTL < time.Second {
		return &jobs.UsageError{Msg: fmt.Sprintf("--lease-ttl %v: at least 1s", leaseTTL)}
	}
	r, err := jobs.NewRunner(ctx, cfg, jobs.RunnerOptions{Version: version, Logger: log, LeaseTTL: leaseTTL})
	if err != nil {
		return err
	}
	out, err := r.Run(ctx, req)
	if err != nil {
		return err
	}
	if out.Result == nil {
		fmt.Fprintf(stdout, "%s: %s; nothing to do (--force %s)\n", asOf, out.Record.Reason, again)
		return nil
	}
	printSegments(stdout, out.Result)
	fmt.Fprintf(stdout, "\n%s to %s (attempt %s, run %s)\n", done, cfg.Output.Location, out.Result.Attempt, out.Record.ID)
	return nil
}

func leaseTTLFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("lease-ttl", lease.DefaultTTL, "how long the date stays locked if this process dies without releasing it")
}

// runCommand is `strata run`: one date, under the date's lease, recorded
// in the ledger, skipped when already published unchanged unless --force;
// with --shard, one shard of a sharded run.
func runCommand(fs *flag.FlagSet, stdout io.Writer) func(context.Context, zerolog.Logger) error {
	df := newDateFlags(fs)
	force := fs.Bool("force", false, "run even if the date is already published with the same configuration and inputs")
	leaseTTL := leaseTTLFlag(fs)
	shard := fs.String("shard", "", "score one shard of a sharded run, i/N (or N, with i from JOB_COMPLETION_INDEX); needs strata fit first and strata finish after")
	wait := fs.Duration("wait", 0, "with --shard: how long to wait for strata fit to publish the fitted model (default: not at all)")
	return func(ctx context.Context, log zerolog.Logger) error {
		cfg, d, err := df.load()
		if err != nil {
			return err
		}
		if *shard == "" {
			return leasedRun(ctx, log, stdout, cfg, *df.asOf, *leaseTTL, jobs.Request{AsOf: d, Trigger: ledger.CLI, Force: *force},
				"runs it again", "published")
		}
		s, err := pipeline.ParseShard(*shard)
		if err != nil {
			return &jobs.UsageError{Msg: err.Error()}
		}
		res, err := pipeline.Score(ctx, cfg, pipeline.Options{AsOf: d, Version: version, RunID: jobs.NewRunID(time.Now()), Logger: log, Wait: *wait, Force: *force}, s)
		if err != nil {
			return err
		}
		if res.UpToDate {
			fmt.Fprintf(stdout, "%s: already published with the same configuration and inputs (attempt %s); shard %s has nothing to do (--force scores it again)\n",
				*df.asOf, res.Attempt, s)
			return nil
		}
		fmt.Fprintf(stdout, "%s: shard %s scored %d customers (attempt %s); `strata finish --shards %d` commits the run\n",
			*df.asOf, s, res.Customers, res.Attempt, s.Count)
		return nil
	}
}

// fitCommand is `strata fit`: the first step of a sharded run.
func fitCommand(fs *flag.FlagSet, stdout io.Writer) func(context.Context, zerolog.Logger) error {
	df := newDateFlags(fs)
	return func(ctx context.Context, log zerolog.Logger) error {
		cfg, d, err := df.load()
		if err != nil {
			return err
		}
		res, err := pipeline.Fit(ctx, cfg, pipeline.Options{AsOf: d, Version: version, RunID: jobs.NewRunID(time.Now()), Logger: log})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: models fitted on %d customers (attempt %s); score with `strata run --shard i/N`\n", *df.asOf, res.Customers, res.Attempt)
		return nil
	}
}

// finishCommand is `strata finish`: the last step of a sharded run,
// under the date's lease and in the ledger like `strata run`.
func finishCommand(fs *flag.FlagSet, stdout io.Writer) func(context.Context, zerolog.Logger) error {
	df := newDateFlags(fs)
	shards := fs.Int("shards", 0, "the number of shards N the run was scored in")
	wait := fs.Duration("wait", 0, "how long to wait for the shards to finish scoring (default: not at all)")
	force := fs.Bool("force", false, "commit even if the date is already published with the same configuration and inputs")
	leaseTTL := leaseTTLFlag(fs)
	return func(ctx context.Context, log zerolog.Logger) error {
		if *df.cfgPath == "" || *df.asOf == "" || *shards < 1 {
			return &jobs.UsageError{Msg: "--config, --as-of and --shards are required"}
		}
		cfg, d, err := df.load()
		if err != nil {
			return err
		}
		return leasedRun(ctx, log, stdout, cfg, *df.asOf, *leaseTTL,
			jobs.Request{AsOf: d, Trigger: ledger.CLI, Force: *force, Shards: *shards, Wait: *wait},
			"commits it again", fmt.Sprintf("published %d shards", *shards))
	}
}

// serveCommand is `strata serve`.
func serveCommand(fs *flag.FlagSet) func(context.Context, zerolog.Logger) error {
	cfgPath := fs.String("config", "", "configuration file (with a schedule: section)")
	listen := fs.String("listen", "", "address of the HTTP API and /metrics (default: api.listen, else "+config.DefaultListen+"; 0.0.0.0:8080 to be reachable from outside a container)")
	return func(ctx context.Context, log zerolog.Logger) error {
		if *cfgPath == "" {
			return &jobs.UsageError{Msg: "--config is required"}
		}
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		env := cfg.API.TokenVar()
		token := os.Getenv(env)
		if token == "" {
			log.Warn().Str("token_env", env).Msg("no API token in the environment: POST endpoints are disabled (set " + env + " to enable them)")
		}
		d, err := daemon.New(ctx, cfg, daemon.Options{Listen: *listen, Token: token, TokenEnv: env, Logger: log,
			Runner: jobs.RunnerOptions{Version: version}})
		if err != nil {
			return err
		}
		return d.Run(ctx)
	}
}

// backfillCommand is `strata backfill`.
func backfillCommand(fs *flag.FlagSet, stdout, stderr io.Writer) func(context.Context, zerolog.Logger) error {
	cfgPath := fs.String("config", "", "configuration file")
	from := fs.String("from", "", "first date, YYYY-MM-DD")
	to := fs.String("to", "", "last date, YYYY-MM-DD (inclusive)")
	parallel := fs.Int("parallel", 1, "dates run at once (with clustering on, dates run in order whatever this says)")
	force := fs.Bool("force", false, "re-run dates already published with the same configuration and inputs")
	return func(ctx context.Context, log zerolog.Logger) error {
		if *cfgPath == "" || *from == "" || *to == "" {
			return &jobs.UsageError{Msg: "--config, --from and --to are required"}
		}
		if *parallel < 1 || *parallel > 64 {
			return &jobs.UsageError{Msg: fmt.Sprintf("--parallel %d: want 1 to 64", *parallel)}
		}
		f, err := parseDate(*from)
		if err != nil {
			return err
		}
		t, err := parseDate(*to)
		if err != nil {
			return err
		}
		if _, err := jobs.BackfillDates(f, t); err != nil {
			return err
		}
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		var bar *progressBar
		if isTerminal(stderr) {
			// Log lines scroll above a bar redrawn on the last line.
			bar = newProgressBar(stderr)
			log = log.Output(zerolog.ConsoleWriter{Out: bar, TimeFormat: time.TimeOnly})
		}
		r, err := jobs.NewRunner(ctx, cfg, jobs.RunnerOptions{Version: version, Logger: log})
		if err != nil {
			return err
		}
		start := time.Now()
		p, err := r.Backfill(ctx, jobs.BackfillRequest{From: f, To: t, Parallel: *parallel, Force: *force,
			Retries: cfg.Schedule.RetryLimit(), Backoff: cfg.Schedule.FirstBackoff()},
			func(p jobs.BackfillProgress) {
				if bar != nil {
					bar.update(p)
					return
				}
				if p.Last == nil {
					return
				}
				ev := log.Info()
				if p.Last.Status == ledger.Failed {
					ev = log.Warn()
				}
				ev.Str("backfill_id", p.ID).Str("as_of", p.Last.AsOf).Str("status", string(p.Last.Status)).
					Int("done", p.Done).Int("total", p.Total).Int("succeeded", p.Succeeded).Int("skipped", p.Skipped).
					Int("locked", p.Locked).Int("failed", p.Failed).Msg("backfill progress")
			})
		if bar != nil {
			bar.finish()
		}
		if p != nil {
			fmt.Fprintf(stdout, "backfill %s … %s: %d published, %d skipped (already published), %d locked by another process, %d failed, of %d dates in %s\n",
				p.From, p.To, p.Succeeded, p.Skipped, p.Locked, p.Failed, p.Total, time.Since(start).Round(100*time.Millisecond))
		}
		return err
	}
}

// runsCommand is `strata runs`: the run ledger.
func runsCommand(fs *flag.FlagSet, stdout io.Writer) func(context.Context, zerolog.Logger) error {
	cfgPath := fs.String("config", "", "configuration file")
	asOf := fs.String("as-of", "", "only runs of this date, YYYY-MM-DD")
	limit := fs.Int("limit", 50, "at most this many runs, newest first (0: all)")
	format := fs.String("format", "text", "output: text or json")
	return func(ctx context.Context, log zerolog.Logger) error {
		if *cfgPath == "" {
			return &jobs.UsageError{Msg: "--config is required"}
		}
		if *format != "text" && *format != "json" {
			return &jobs.UsageError{Msg: "--format must be text or json"}
		}
		if *asOf != "" {
			if _, err := parseDate(*asOf); err != nil {
				return err
			}
		}
		if *limit < 0 {
			return &jobs.UsageError{Msg: "--limit must not be negative"}
		}
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		out, err := storage.Open(ctx, cfg.Output.Location, pipeline.StorageOptions(cfg))
		if err != nil {
			return err
		}
		recs, err := ledger.New(out).WithLogger(log).List(ctx, ledger.Query{AsOf: *asOf, Limit: *limit})
		if err != nil {
			return err
		}
		if *format == "json" {
			if recs == nil {
				recs = []*ledger.Record{}
			}
			return writeJSON(stdout, recs)
		}
		printRuns(stdout, recs)
		return nil
	}
}

func printRuns(w io.Writer, recs []*ledger.Record) {
	if len(recs) == 0 {
		fmt.Fprintln(w, "no runs in the ledger")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tAS OF\tTRIGGER\tSTATUS\tTRY\tSTARTED (UTC)\tDURATION\tCUSTOMERS\tATTEMPT\tDETAIL")
	for _, r := range recs {
		dur := "-"
		if r.FinishedAt != nil {
			dur = (time.Duration(r.DurationSeconds * float64(time.Second))).Round(10 * time.Millisecond).String()
		}
		detail := r.Error
		if detail == "" {
			detail = r.Reason
		}
		if detail == "" {
			detail = r.Note // a correction: published after all
		}
		detail = strings.ReplaceAll(detail, "\n", " ")
		if len(detail) > 100 {
			detail = detail[:99] + "…"
		}
		customers := "-"
		if r.Customers > 0 {
			customers = fmt.Sprint(r.Customers)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.AsOf, r.Trigger, r.Status, r.Try,
			r.StartedAt.UTC().Format("2006-01-02 15:04:05"), dur, customers, orDash(r.Attempt), detail)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
