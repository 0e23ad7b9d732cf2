// Command cluster is Strata's side of the k-means peer benchmark (issue 5):
// it reads the shared generator's customers_<N>.npy, standardises it as
// scikit-learn's StandardScaler does (population std), fits
// models/cluster.KMeans with the settings of
// /work/shared/bench/bench_kmeans.py (k=8, n_init=10, k-means++,
// max_iter=300, tol=1e-4) and prints one JSON line, shaped like the peer's,
// so that run.sh can put the two side by side.
//
//	go run ./bench/cluster -data DIR -n 1000000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-oss/strata/models/cluster"
)

type options struct {
	data, file, cpuProfile string
	writeParquet           string
	n, k, nInit, maxIter   int
	workers                int
	tol                    float64
	seed                   uint64
	algo                   string
}

// result mirrors the keys of bench_kmeans.py's JSON where they mean the
// same thing (fit_s, inertia, n_iter, maxrss_mib, load1_*).
type result struct {
	N          int     `json:"n"`
	D          int     `json:"d"`
	K          int     `json:"k"`
	Case       string  `json:"case"`
	Impl       string  `json:"impl"`
	GoVersion  string  `json:"go"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Load1      float64 `json:"load1_before"`
	ReadS      float64 `json:"read_s"`
	ScalerS    float64 `json:"scaler_s"`
	FitS       float64 `json:"fit_s"`
	FitCPUS    float64 `json:"fit_cpu_s"`
	Inertia    float64 `json:"inertia"`
	NIter      int     `json:"n_iter"`
	NInit      int     `json:"n_init"`
	BestInit   int     `json:"best_init"`
	Algorithm  string  `json:"algorithm"`
	Converged  bool    `json:"converged"`
	Load1After float64 `json:"load1_after"`
	MaxRSSMiB  float64 `json:"maxrss_mib"`
}

func main() {
	var o options
	flag.StringVar(&o.data, "data", "", "directory holding customers_<n>.npy (from gen_customers.py)")
	flag.IntVar(&o.n, "n", 0, "row count in the file name customers_<n>.npy")
	flag.StringVar(&o.file, "file", "", "a .npy file to read instead of -data/-n")
	flag.IntVar(&o.k, "k", 8, "clusters")
	flag.IntVar(&o.nInit, "n-init", 10, "k-means++ restarts")
	flag.IntVar(&o.maxIter, "max-iter", 300, "iterations per restart")
	flag.Float64Var(&o.tol, "tol", 1e-4, "tolerance, relative to the mean feature variance (as sklearn)")
	flag.Uint64Var(&o.seed, "seed", 0, "seed")
	flag.IntVar(&o.workers, "workers", 0, "goroutines (0: GOMAXPROCS)")
	flag.StringVar(&o.algo, "algo", string(cluster.Auto), "auto | lloyd | hamerly | minibatch")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the fit to this file")
	flag.StringVar(&o.writeParquet, "write-parquet", "", "write the data as this Parquet file (10 DOUBLE columns) and exit, for `strata cluster`")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/cluster:", err)
		os.Exit(1)
	}
	if o.writeParquet != "" {
		return
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "bench/cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (result, error) {
	path := o.file
	if path == "" {
		if o.data == "" || o.n <= 0 {
			return result{}, errors.New("need -file, or -data and -n")
		}
		path = filepath.Join(o.data, fmt.Sprintf("customers_%d.npy", o.n))
	}
	res := result{K: o.k, Case: "lloyd", Impl: "strata", GoVersion: runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Load1: loadavg(), NInit: o.nInit}

	t0 := time.Now()
	data, rows, cols, err := readNpy(path)
	if err != nil {
		return result{}, fmt.Errorf("read data: %w", err)
	}
	res.ReadS = since(t0)
	res.N, res.D = rows, cols
	if o.writeParquet != "" {
		return res, writeParquet(o.writeParquet, data, rows, cols)
	}
	raw := cluster.Matrix{Data: data, N: rows, D: cols}

	t0 = time.Now()
	modes := make([]cluster.Scaling, cols)
	for t := range modes {
		modes[t] = cluster.ScaleZScore
	}
	sc, err := cluster.FitScaler(raw, modes, nil)
	if err != nil {
		return result{}, fmt.Errorf("standardise: %w", err)
	}
	X, err := sc.Transform(raw)
	if err != nil {
		return result{}, fmt.Errorf("standardise: %w", err)
	}
	res.ScalerS = since(t0)
	// The peer keeps only what the fit needs alive too (numpy frees nothing,
	// but its raw array is the only extra copy); drop ours so peak RSS
	// compares the fits, not the loaders.
	raw, data = cluster.Matrix{}, nil
	runtime.GC()

	cfg := cluster.Config{K: o.k, NInit: o.nInit, MaxIter: o.maxIter, Tol: o.tol, Seed: o.seed,
		Workers: o.workers, Algorithm: cluster.Algorithm(o.algo)}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return result{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	c0 := cpuSeconds()
	t0 = time.Now()
	fit, err := cluster.KMeans(ctx, X, cfg)
	if err != nil {
		return result{}, fmt.Errorf("fit: %w", err)
	}
	res.FitS = since(t0)
	res.FitCPUS = cpuSeconds() - c0
	res.Inertia, res.NIter, res.BestInit = fit.Inertia, fit.Iterations, fit.BestInit
	res.Algorithm, res.Converged = string(fit.Algorithm), fit.Converged
	res.Load1After = loadavg()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		res.MaxRSSMiB = float64(ru.Maxrss) / 1024 // Linux reports KiB
	}
	return res, nil
}

func since(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1e6 }

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// loadavg is recorded so that a run made while someone else was using the
// two cores can be spotted and repeated.
func loadavg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
