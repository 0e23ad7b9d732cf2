// Command features times Strata's extraction and behavioural feature
// aggregation over one orders file, the Strata side of bench/features/run.sh.
//
//	features -orders DIR/tx_10000000.parquet [-as-of 2024-12-31] [-workers 2]
//
// The file has the columns of ../shared/bench/gen_transactions.py:
// customer_id int64, ts int64 epoch seconds, amount float64. It prints one
// JSON line: rows, customers, wall seconds for extract (read + aggregate)
// and compute (finalise the feature table), and a checksum of monetary
// value to compare with DuckDB's.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/objstore"
)

func main() {
	orders := flag.String("orders", "", "the orders Parquet file")
	asOf := flag.String("as-of", "2024-12-31", "as-of date (the generator's data end on 2025-01-01)")
	workers := flag.Int("workers", 0, "workers (0: GOMAXPROCS)")
	days := flag.Bool("clv", false, "also keep what the CLV stage needs: repeat spend and 90-day calibration counts (as CLV runs do)")
	profile := flag.String("cpuprofile", "", "write a CPU profile")
	memprofile := flag.String("memprofile", "", "write a heap profile at the end")
	traceFile := flag.String("trace", "", "write an execution trace")
	flag.Parse()
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err == nil {
			defer f.Close()
			err = trace.Start(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "features:", err)
			os.Exit(1)
		}
		defer trace.Stop()
	}
	if err := run(*orders, *asOf, *workers, *days, *profile, *memprofile); err != nil {
		fmt.Fprintln(os.Stderr, "features:", err)
		trace.Stop()
		os.Exit(1)
	}
}

type report struct {
	Rows      int64   `json:"rows"`
	Customers int     `json:"customers"`
	Features  int     `json:"features"`
	Workers   int     `json:"workers"`
	ExtractS  float64 `json:"extract_s"`
	ComputeS  float64 `json:"compute_s"`
	TotalS    float64 `json:"total_s"`
	Monetary  float64 `json:"check_sum_monetary"`
}

func run(orders, asOfText string, workers int, days bool, profile, memprofile string) error {
	if orders == "" {
		return fmt.Errorf("-orders is required")
	}
	asOf, err := time.Parse(time.DateOnly, asOfText)
	if err != nil {
		return fmt.Errorf("-as-of: %w", err)
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	dir, file := filepath.Split(orders)
	b, err := objstore.NewLocal(dir)
	if err != nil {
		return err
	}
	spec := extract.Spec{AsOf: asOf, Orders: extract.Table{Bucket: single{b, file}, Format: "parquet",
		Columns: map[string]string{"order_ts": "ts:epoch_s"}}}
	ctx := context.Background()
	start := time.Now()
	agg, err := features.Extract(ctx, spec, features.Options{Workers: workers, Repeat: days, CalibrationDays: calibration(days)})
	if err != nil {
		return err
	}
	mid := time.Now()
	set, err := agg.Compute(ctx)
	if err != nil {
		return err
	}
	end := time.Now()
	rep := report{Rows: agg.Dataset.Quality.RowsRead["orders"], Customers: set.Table.N, Features: len(set.Table.Cols),
		Workers: workers, ExtractS: mid.Sub(start).Seconds(), ComputeS: end.Sub(mid).Seconds(), TotalS: end.Sub(start).Seconds()}
	if rep.Workers <= 0 {
		rep.Workers = runtime.GOMAXPROCS(0)
	}
	for _, m := range set.Behaviour.Monetary {
		rep.Monetary += m
	}
	if memprofile != "" {
		// While the features are still live: what the run holds at its end.
		if err := writeHeap(memprofile); err != nil {
			return err
		}
		runtime.KeepAlive(set)
		runtime.KeepAlive(agg)
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// calibration is the CLV holdout a run with clv on uses by default.
func calibration(clv bool) int {
	if clv {
		return config.DefaultHoldoutDays
	}
	return 0
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// single shows only one object of a directory, so the bench reads one file
// of a folder that holds others.
type single struct {
	objstore.Bucket
	key string
}

func (s single) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	return fn(s.key)
}
