package features

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
)

// BenchmarkAggregateScale is the shard's cost per order row as the record
// arena grows (issue 31). For each of the comma-separated customer counts
// in STRATA_BENCH_SCALE (skipped without it) it feeds one shard the blocks
// of STRATA_BENCH_SCALE_ROWS orders (default 20M), their customers drawn
// with the shared generator's lognormal propensity, STRATA_BENCH_SCALE_PASSES
// times over (default 5), with the readers' lookups (HintOrders) done once,
// on the benchmark's goroutine. The first pass, which makes the arena, and
// the later ones, which find it made, are reported apart (ns/row1,
// ns/row), and small-pages is 1 where the arena gave up huge pages
// (paged.judge).
//
//	STRATA_BENCH_SCALE=1000000,20000000 flock /tmp/strata-bench.lock go test -run - -bench AggregateScale -benchtime 1x ./pipeline/features/
func BenchmarkAggregateScale(b *testing.B) {
	env := os.Getenv("STRATA_BENCH_SCALE")
	if env == "" {
		b.Skip("STRATA_BENCH_SCALE not set")
	}
	rows, passes := 20_000_000, 5
	if v, err := strconv.Atoi(os.Getenv("STRATA_BENCH_SCALE_ROWS")); err == nil && v > 0 {
		rows = v
	}
	if v, err := strconv.Atoi(os.Getenv("STRATA_BENCH_SCALE_PASSES")); err == nil && v > 1 {
		passes = v
	}
	// STRATA_BENCH_SCALE_BATCH sets Options.batchRows (-1: no sorted
	// batches; default: as the engine decides).
	batch, _ := strconv.Atoi(os.Getenv("STRATA_BENCH_SCALE_BATCH"))
	for _, f := range strings.Split(env, ",") {
		customers, err := strconv.Atoi(f)
		if err != nil {
			b.Fatal(err)
		}
		blocks := scaleBlocks(customers, rows)
		b.Run(fmt.Sprintf("customers=%d", customers), func(b *testing.B) {
			opt := Options{Workers: 2, batchRows: batch}.resolved()
			// Every pass hits the records again: OrderRows tells
			// paged.judge so.
			info := extract.Info{AsOf: benchAsOf, AsOfDay: benchDay0 + 730, Location: time.UTC, IntIDs: true,
				IDRange: [2]int64{0, int64(customers) - 1}, HasIDRange: true, Rows: int64(rows * passes), OrderRows: int64(rows * passes),
				Tables: []string{"orders"}}
			var first, rest time.Duration
			small := 0.0
			for range b.N {
				e := &engine{opt: &opt}
				if err := e.Begin(info); err != nil {
					b.Fatal(err)
				}
				// The shard's loop alone, on this goroutine: the first
				// pass looks the customers up and adds them as the readers
				// would, and leaves each block's rows in its Hint for the
				// later passes.
				s := e.shards[0]
				t := time.Now()
				for _, blk := range blocks {
					e.HintOrders(blk)
					s.orders(blk)
				}
				s.flush()
				first += time.Since(t)
				t = time.Now()
				for range passes - 1 {
					for _, blk := range blocks {
						s.orders(blk)
					}
				}
				s.endBatches()
				rest += time.Since(t)
				if s.rec.slow.Load() {
					small++
				}
				e.stop()
			}
			b.ReportMetric(small/float64(b.N), "small-pages")
			b.ReportMetric(first.Seconds()*1e9/float64(rows)/float64(b.N), "ns/row1")
			b.ReportMetric(rest.Seconds()*1e9/float64(rows*(passes-1))/float64(b.N), "ns/row")
		})
	}
}

// scaleBlocks makes rows orders of customers customers over two years,
// each customer's share lognormal as the shared generator's.
func scaleBlocks(customers, rows int) []*extract.OrderBlock {
	r := rand.New(rand.NewPCG(7, 7))
	cdf := make([]float64, customers)
	s := 0.0
	for i := range cdf {
		s += math.Exp(r.NormFloat64())
		cdf[i] = s
	}
	var blocks []*extract.OrderBlock
	for lo := 0; lo < rows; lo += extract.BlockRows {
		n := min(extract.BlockRows, rows-lo)
		b := &extract.OrderBlock{Day: make([]int32, n), Time: make([]int64, n), Amount: make([]float64, n),
			Refund: make([]bool, n), Drop: make([]bool, n)}
		b.N, b.Int = n, make([]int64, n)
		for i := range n {
			x := r.Float64() * s
			lo, hi := 0, customers-1
			for lo < hi {
				m := (lo + hi) / 2
				if cdf[m] < x {
					lo = m + 1
				} else {
					hi = m
				}
			}
			day := int32(benchDay0 + r.IntN(730))
			b.Int[i] = int64(lo)
			b.Day[i] = day
			b.Time[i] = int64(day)*86_400_000_000 + r.Int64N(86_400_000_000)
			b.Amount[i] = float64(r.IntN(200_000)) / 100
		}
		blocks = append(blocks, b)
	}
	return blocks
}
