// Command strata is Strata's command-line interface: it parses verbs and
// flags, loads configuration, wires dependencies and maps outcomes to exit
// codes. The work itself lives in package jobs and below.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/internal/memlimit"
	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/storage"
	"github.com/strata-oss/strata/pipeline/synth"
)

// Set at build time: -ldflags "-X main.version=v1.2.3 -X main.commit=abc".
var (
	version = "dev"
	commit  = ""
)

const usage = `strata — customer segmentation, every night.

Usage:
  strata demo      [--dir DIR] [--customers N] [--as-of YYYY-MM-DD]
  strata generate  --dir DIR [--customers N] [--seed S] [--format parquet|csv] [--grain order|line]
                   [--campaign NAME --campaign-start YYYY-MM-DD [--campaign-uplift U] [--campaign-control S]]
  strata run       --config FILE --as-of YYYY-MM-DD [--force]

  A sharded run (see docs/sharded.md): fit once, score N shards
  (in any order, on any machines), then commit:
  strata fit       --config FILE --as-of YYYY-MM-DD
  strata run       --config FILE --as-of YYYY-MM-DD --shard i/N
  strata finish    --config FILE --as-of YYYY-MM-DD --shards N [--force]

  strata backfill  --config FILE --from YYYY-MM-DD --to YYYY-MM-DD [--parallel N] [--force]
  strata serve     --config FILE [--listen ADDR]
  strata runs      --config FILE [--as-of YYYY-MM-DD] [--limit N] [--format text|json]
  strata validate  --config FILE [--offline]
  strata show      --config FILE [--as-of YYYY-MM-DD]
  strata clv       --input FILE [--customer-col C] [--date-col D] [--amount-col A]
                   [--calibration-end YYYY-MM-DD] [--time-unit day|week]
                   [--model auto|bgnbd|mbgnbd|pnbd|nbd] [--select-by loglik|mae]
                   [--predictions FILE.csv|.parquet] [--horizon-months M] [--level L]
                   [--format text|json]
  strata cluster   --input FILE [--columns A,B,...] [--k K | --k-range MIN:MAX]
                   [--k-rule bic|silhouette] [--n-init N] [--seed S]
                   [--scale none|zscore|log1p|log1p+zscore] [--labels FILE.csv|.parquet]
                   [--id-col C] [--centroids FILE.json] [--format text|json]
  strata cluster   --model FILE.json --input FILE --labels FILE [--id-col C]
  strata version

Global flags (before or after the verb):
  --log-level debug|info|warn|error   (default info)
  --log-format auto|json|console      (default auto: console on a terminal)
  --cpuprofile FILE, --memprofile FILE  profiles for go tool pprof

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error,
3 data-quality gate failed, 4 date locked by another process.
`

func main() {
	// A lower collection target, and in a container a soft limit under the
	// cgroup's, so that garbage is collected before the kernel kills us.
	limit, limited := memlimit.Apply(os.DirFS("/"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runLimited(ctx, os.Args[1:], os.Stdout, os.Stderr, limit, limited)
	stop()
	os.Exit(code)
}

// run is main without the process: testable.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runLimited(ctx, args, stdout, stderr, memlimit.Found{}, false)
}

// runLimited is run in a process whose memory limit is limit (when
// limited), which it logs once the logger is made.
func runLimited(ctx context.Context, args []string, stdout, stderr io.Writer, limit memlimit.Found, limited bool) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return jobs.ExitUsage
		}
		return jobs.ExitOK
	}
	verb, rest := args[0], args[1:]
	fs := flag.NewFlagSet("strata "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "auto", "log format: auto, json, console")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the command to this file (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write a heap profile (allocations) at the end of the command to this file")

	var cmd func(ctx context.Context, log zerolog.Logger) error
	switch verb {
	case "version":
		cmd = func(context.Context, zerolog.Logger) error {
			fmt.Fprintf(stdout, "strata %s\ncommit %s\n%s %s/%s\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		}
	case "demo":
		dir := fs.String("dir", "./strata-demo", "directory or s3://bucket/prefix for input/ and output/")
		n := fs.Int("customers", 100_000, "number of customers to generate")
		asOf := fs.String("as-of", jobs.DemoAsOf.Format(pipeline.DateLayout), "as-of date")
		seed := fs.Uint64("seed", 0, "generator and model seed (0: the demo config's)")
		cmd = func(ctx context.Context, log zerolog.Logger) error {
			d, err := parseDate(*asOf)
			if err != nil {
				return err
			}
			if *n <= 0 {
				return &jobs.UsageError{Msg: "--customers must be positive"}
			}
			start := time.Now()
			res, err := jobs.Demo(ctx, jobs.DemoOptions{Dir: *dir, Customers: *n, AsOf: d, Seed: *seed, Version: version, Logger: log})
			if err != nil {
				return err
			}
			printDemo(stdout, res, time.Since(start))
			return nil
		}
	case "generate":
		dir := fs.String("dir", "", "directory or s3://bucket/prefix to write customers/, orders/, events/ into")
		n := fs.Int("customers", 100_000, "number of customers")
		seed := fs.Uint64("seed", 42, "random seed; the same seed gives byte-identical files")
		format := fs.String("format", "parquet", "parquet or csv")
		from := fs.String("start", jobs.DemoStart.Format(pipeline.DateLayout), "first day of the shop's history")
		to := fs.String("end", jobs.DemoEnd.Format(pipeline.DateLayout), "last day of the shop's history")
		grain := fs.String("grain", "order", "order (the demo shop) or line (an invoice export of order lines, CSV: configs/examples/line_shop.yaml)")
		campaign := fs.String("campaign", "", "plant a win-back campaign of this name (customers 60-180 days since their last order); its truth goes to truth/campaign.csv")
		campStart := fs.String("campaign-start", "", "the planted campaign's date")
		campUplift := fs.Float64("campaign-uplift", 0.3, "treated customers' purchase rate over the 90 days from the campaign's date is multiplied by 1+this")
		campControl := fs.Float64("campaign-control", synth.DefaultCampaignControlShare, "share of the campaign's audience held back as the control group")
		cmd = func(ctx context.Context, log zerolog.Logger) error {
			if *dir == "" {
				return &jobs.UsageError{Msg: "--dir is required"}
			}
			if *grain != "order" && *grain != "line" {
				return &jobs.UsageError{Msg: "--grain must be order or line"}
			}
			if *grain == "line" {
				formatSet := false
				fs.Visit(func(f *flag.Flag) { formatSet = formatSet || f.Name == "format" })
				if formatSet && *format != "csv" {
					return &jobs.UsageError{Msg: "--grain line writes CSV, as invoice exports are: leave --format out or set it to csv"}
				}
				return generateLines(ctx, stdout, *dir, *n, *seed, *from, *to)
			}
			if *format != "parquet" && *format != "csv" {
				return &jobs.UsageError{Msg: "--format must be parquet or csv"}
			}
			s, err := parseDate(*from)
			if err != nil {
				return err
			}
			e, err := parseDate(*to)
			if err != nil {
				return err
			}
			gen := synth.Config{Customers: *n, Seed: *seed, Start: s, End: e, Format: *format}
			if *campaign != "" {
				cs, err := parseDate(*campStart)
				if err != nil {
					return &jobs.UsageError{Msg: "--campaign needs --campaign-start YYYY-MM-DD"}
				}
				gen.Campaign = &synth.Campaign{Name: *campaign, Start: cs, Uplift: *campUplift, ControlShare: *campControl}
			}
			b, err := storage.Create(ctx, *dir, storage.Options{})
			if err != nil {
				return err
			}
			start := time.Now()
			st, err := synth.Generate(ctx, b, gen)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "generated %d customers, %d orders (%d bad, %d duplicates, %d refunds), %d events into %s in %.1fs\n",
				st.Customers, st.Orders, st.BadOrders, st.DuplicateOrders, st.Refunds, st.Events, *dir, time.Since(start).Seconds())
			if gen.Campaign != nil {
				fmt.Fprintf(stdout, "planted campaign %s: %d customers in its audience, %d in control, %d extra purchases for the treated\n",
					gen.Campaign.Name, st.CampaignAudience, st.CampaignControl, st.CampaignExtra)
			}
			return nil
		}
	case "run":
		cmd = runCommand(fs, stdout)
	case "fit":
		cmd = fitCommand(fs, stdout)
	case "finish":
		cmd = finishCommand(fs, stdout)
	case "backfill":
		cmd = backfillCommand(fs, stdout, stderr)
	case "serve":
		cmd = serveCommand(fs)
	case "runs":
		cmd = runsCommand(fs, stdout)
	case "validate":
		cfgPath := fs.String("config", "", "configuration file")
		offline := fs.Bool("offline", false, "check the configuration alone, without reaching its storage (CI without credentials)")
		cmd = func(ctx context.Context, log zerolog.Logger) error {
			if *cfgPath == "" {
				return &jobs.UsageError{Msg: "--config is required"}
			}
			cfg, err := config.Load(*cfgPath)
			if err != nil {
				return err
			}
			if *offline {
				if err := jobs.ValidateOffline(cfg); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s: configuration is valid (config hash %s); inputs not checked (--offline)\n", *cfgPath, cfg.Hash())
				return nil
			}
			if err := jobs.Validate(ctx, cfg); err != nil {
				return err
			}
			inputs, err := jobs.Inputs(ctx, cfg)
			if err != nil {
				return err
			}
			printInputs(stdout, cfg.Input.Location, inputs)
			fmt.Fprintf(stdout, "%s: configuration and input schemas are valid (config hash %s)\n", *cfgPath, cfg.Hash())
			return nil
		}
	case "clv":
		var o jobs.CLVOptions
		fs.StringVar(&o.Input, "input", "", "transactions file (CSV or Parquet), local or s3://")
		fs.StringVar(&o.CustomerCol, "customer-col", "customer_id", "customer id column")
		fs.StringVar(&o.DateCol, "date-col", "date", "purchase date or timestamp column")
		fs.StringVar(&o.AmountCol, "amount-col", "", "purchase amount column (omit to skip the spend model)")
		calEnd := fs.String("calibration-end", "", "last day of the fitting window, YYYY-MM-DD (default: the last day in the data); later purchases are the holdout")
		fs.StringVar(&o.TimeUnit, "time-unit", "week", "model time unit: day or week")
		fs.StringVar(&o.Model, "model", "auto", "purchase model: auto (chosen by holdout), bgnbd, mbgnbd, pnbd or nbd")
		fs.StringVar(&o.SelectBy, "select-by", "loglik", "holdout score --model auto chooses by: loglik or mae")
		fs.IntVar(&o.HoldoutDays, "holdout-days", 90, "days --model auto holds out when --calibration-end is not given")
		fs.StringVar(&o.Predictions, "predictions", "", "write every customer's predictions to this .csv or .parquet file")
		fs.IntVar(&o.HorizonMonths, "horizon-months", 12, "horizon of expected_purchases and clv, in months")
		fs.Float64Var(&o.Level, "level", 0.9, "coverage of the low/high intervals")
		fs.IntVar(&o.Draws, "draws", 200, "parameter draws behind the intervals")
		fs.Float64Var(&o.Margin, "margin", 1, "share of revenue that is profit, applied to clv")
		fs.Float64Var(&o.AnnualDiscountRate, "annual-discount-rate", 0.10, "discount rate of future months' clv, per year")
		fs.Uint64Var(&o.Seed, "seed", 42, "seed of the parameter draws")
		format := fs.String("format", "text", "output: text or json")
		cmd = func(ctx context.Context, log zerolog.Logger) error {
			if *format != "text" && *format != "json" {
				return &jobs.UsageError{Msg: "--format must be text or json"}
			}
			if *calEnd != "" {
				d, err := parseDate(*calEnd)
				if err != nil {
					return err
				}
				o.CalibrationEnd = d
			}
			rep, err := jobs.FitCLV(ctx, o)
			if err != nil {
				return err
			}
			if *format == "json" {
				return writeJSON(stdout, rep)
			}
			printCLV(stdout, rep)
			return nil
		}
	case "show":
		cfgPath := fs.String("config", "", "configuration file")
		asOf := fs.String("as-of", "", "as-of date, YYYY-MM-DD (default: the latest published)")
		cmd = func(ctx context.Context, log zerolog.Logger) error {
			if *cfgPath == "" {
				return &jobs.UsageError{Msg: "--config is required"}
			}
			if *asOf != "" {
				if _, err := parseDate(*asOf); err != nil {
					return err
				}
			}
			cfg, err := config.Load(*cfgPath)
			if err != nil {
				return err
			}
			p, err := jobs.Show(ctx, cfg, *asOf)
			if err != nil {
				return err
			}
			printShow(stdout, p)
			return nil
		}
	case "cluster":
		var o jobs.ClusterOptions
		fs.StringVar(&o.Input, "input", "", "CSV or Parquet file, local or s3://")
		columns := fs.String("columns", "", "comma-separated columns to cluster on (default: every numeric column)")
		fs.IntVar(&o.K, "k", 0, "number of clusters (default: choose in --k-range)")
		kRange := fs.String("k-range", "2:8", "range k is chosen in, MIN:MAX")
		fs.IntVar(&o.NInit, "n-init", 10, "k-means++ restarts")
		fs.Uint64Var(&o.Seed, "seed", 42, "random seed")
		fs.StringVar(&o.Scale, "scale", "zscore", "per-column scaling: none, zscore, log1p or log1p+zscore")
		fs.IntVar(&o.SilhouetteSample, "silhouette-sample", 10_000, "rows silhouette is computed on")
		fs.StringVar(&o.KRule, "k-rule", "bic", "how k is chosen in --k-range: bic or silhouette")
		fs.StringVar(&o.Labels, "labels", "", "write each input row's cluster to this .csv or .parquet file")
		fs.StringVar(&o.IDCol, "id-col", "", "column copied into --labels to identify each row (default: the row number only)")
		fs.StringVar(&o.Centroids, "centroids", "", "write the model (scaler, centroids, features, names) to this .json file")
		fs.StringVar(&o.Model, "model", "", "apply this saved model (a --centroids file) to --input instead of fitting; needs --labels")
		format := fs.String("format", "text", "output: text or json")
		cmd = func(ctx context.Context, log zerolog.Logger) error {
			if *format != "text" && *format != "json" {
				return &jobs.UsageError{Msg: "--format must be text or json"}
			}
			if *columns != "" {
				o.Columns = strings.Split(*columns, ",")
			}
			if o.Model == "" { // a saved model has its k
				lo, hi, ok := strings.Cut(*kRange, ":")
				var err1, err2 error
				o.KMin, err1 = strconv.Atoi(lo)
				o.KMax, err2 = strconv.Atoi(hi)
				if !ok || err1 != nil || err2 != nil {
					return &jobs.UsageError{Msg: fmt.Sprintf("--k-range %q: want MIN:MAX", *kRange)}
				}
			}
			rep, err := jobs.FitClusters(ctx, o)
			if err != nil {
				return err
			}
			if *format == "json" {
				return writeJSON(stdout, rep)
			}
			printCluster(stdout, rep)
			return nil
		}
	default:
		fmt.Fprintf(stderr, "strata: unknown command %q\n\n%s", verb, usage)
		return jobs.ExitUsage
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return jobs.ExitOK
		}
		return jobs.ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "strata %s: unexpected arguments %q\n", verb, fs.Args())
		return jobs.ExitUsage
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "strata: %v\n", err)
		return jobs.ExitUsage
	}
	if limited {
		// Said at the start: a run the kernel kills for memory writes
		// no error line, and this is the figure to compare with.
		log.Info().Int64("cgroup_limit_bytes", limit.Cgroup).Str("cgroup_file", "/"+limit.File).
			Int64("soft_limit_bytes", limit.Soft).Msg("memory limit: the Go heap is held under the soft limit")
	}
	stopProfiles, err := startProfiles(*cpuProfile, *memProfile)
	if err != nil {
		fmt.Fprintf(stderr, "strata: %v\n", err)
		return jobs.ExitUsage
	}
	err = cmd(ctx, log)
	if perr := stopProfiles(); perr != nil {
		fmt.Fprintf(stderr, "strata: %v\n", perr)
	}
	if err != nil {
		// One line, once: the error used to be logged and printed too,
		// so it appeared twice on stderr. A run's own log record (run
		// finished, with its run id and exit code) is the structured one.
		fmt.Fprintf(stderr, "strata %s: %v\n", verb, err)
		return jobs.ExitCode(err)
	}
	return jobs.ExitOK
}

func parseDate(s string) (time.Time, error) {
	d, err := time.Parse(pipeline.DateLayout, s)
	if err != nil {
		return time.Time{}, &jobs.UsageError{Msg: fmt.Sprintf("bad date %q: want YYYY-MM-DD", s)}
	}
	return d, nil
}

// asOfDate parses an as-of date: YYYY-MM-DD, or today or yesterday in
// cfg's time zone at now (what a Kubernetes CronJob, which cannot write
// dates into its arguments, passes).
func asOfDate(s string, cfg *config.Config, now time.Time) (time.Time, error) {
	switch s {
	case "today", "yesterday":
		y, m, d := now.In(cfg.Location()).Date()
		if s == "yesterday" {
			d--
		}
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	}
	return parseDate(s)
}

func newLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("bad --log-level %q", level)
	}
	switch format {
	case "auto":
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		}
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: true}
	case "json":
	default:
		return zerolog.Nop(), fmt.Errorf("bad --log-format %q", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// generateLines writes the line-level shop (synth.GenerateLines): CSV
// order lines and a rates table, for configs/examples/line_shop.yaml.
func generateLines(ctx context.Context, stdout io.Writer, dir string, n int, seed uint64, from, to string) error {
	if n <= 0 {
		return &jobs.UsageError{Msg: "--customers must be positive"}
	}
	s, err := parseDate(from)
	if err != nil {
		return err
	}
	e, err := parseDate(to)
	if err != nil {
		return err
	}
	b, err := storage.Create(ctx, dir, storage.Options{})
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := synth.GenerateLines(ctx, b, synth.LineConfig{Customers: n, Seed: seed, Start: s, End: e.AddDate(0, 0, 1)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %d order lines of %d invoices (%d cancellations, %d guest lines, %d postage and fee lines, %d free lines, %d duplicates) in %s into %s in %.1fs\n",
		st.Lines, st.Invoices, st.Cancellations, st.GuestLines, st.NonProductLines, st.ZeroLines, st.DuplicateLines,
		strings.Join(st.Currencies, ", "), dir, time.Since(start).Seconds())
	return nil
}
