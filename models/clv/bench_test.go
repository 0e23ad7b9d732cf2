package clv

import (
	"context"
	"math/rand/v2"
	"testing"
)

// Benchmarks for the targets. The fits run on the CDNOW master
// calibration summary (23,570 customers, calibration end 1997-09-30, weeks)
// when shared/ is present, else on the sample; the summary is built before
// the timer starts, and everything a caller of the Fit functions pays
// (validation, compression, the fit and its acceptance checks) is timed.
// Run them one at a time on a quiet machine:
//
//	flock /tmp/strata-bench.lock go test -run '^$' -bench 'Fit|Score' -count 6 ./models/clv/
//
// lifetimes 0.11.3 on this machine kind (medians): BG/NBD 0.30 s,
// Pareto/NBD 5.4 s, Gamma-Gamma 0.16 s.

// benchData is the master calibration summary of present customers when
// shared/ is there, else the sample's.
func benchData(b *testing.B) (x, tx, T, spend []float64) {
	b.Helper()
	var s Summary
	if _, ok := masterPath(); ok {
		s = masterSummary(b)
	} else {
		b.Log("CDNOW master not found: using the sample")
		s = sampleSummary(b)
	}
	return present(s)
}

func BenchmarkFitBGNBD(b *testing.B) {
	x, tx, T, _ := benchData(b)
	for b.Loop() {
		if _, _, err := FitBGNBD(context.Background(), x, tx, T, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitParetoNBD(b *testing.B) {
	x, tx, T, _ := benchData(b)
	for b.Loop() {
		if _, _, err := FitParetoNBD(context.Background(), x, tx, T, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitGammaGamma(b *testing.B) {
	x, _, _, m := benchData(b)
	for b.Loop() {
		if _, _, err := FitGammaGamma(context.Background(), x, m, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSummarize is the step before a fit: transactions (69,659 rows of
// the master) to the calibration summary. lifetimes: 0.09 s.
func BenchmarkSummarize(b *testing.B) {
	var tr transactions
	if _, ok := masterPath(); ok {
		tr = loadCDNOWMaster(b)
	} else {
		tr = loadCDNOWSample(b)
	}
	for b.Loop() {
		if _, err := Summarize(tr.cust, tr.day, tr.amount, tr.n, cdnowCalEnd, 7); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	x, tx, T, _ := benchData(b)
	for b.Loop() {
		if _, err := Compress(x, tx, T); err != nil {
			b.Fatal(err)
		}
	}
}

// resampled draws n customers with replacement from the calibration
// summary (seeded), so that the joint distribution of (x, t_x, T, spend)
// and its duplicates are those of a real cohort. With spread, each
// customer's first purchase is also moved back by 0-729 days (t_x kept,
// T grown), which gives ~800 distinct T values as in a shop that has
// acquired customers for two years: a harder case for the caches keyed by
// (x, T).
func resampled(b *testing.B, n int, spread bool) (x, tx, T, m []float64) {
	b.Helper()
	sx, stx, sT, sm := benchData(b)
	rng := rand.New(rand.NewPCG(7, 8))
	x, tx, T, m = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		j := rng.IntN(len(sx))
		x[i], tx[i], T[i], m[i] = sx[j], stx[j], sT[j], sm[j]
		if spread {
			T[i] += float64(rng.IntN(730)) / 7
		}
	}
	return
}

// score runs every per-customer prediction the pipeline publishes: P(alive),
// expected purchases over the next 52 weeks, expected spend, and a 12-month
// CLV with a 30% margin and 1% monthly discount rate.
func score(ctx context.Context, pm PurchaseModel, gg GammaGamma, x, tx, T, m []float64, workers int) error {
	if _, err := PAlives(ctx, pm, x, tx, T, workers); err != nil {
		return err
	}
	if _, err := ExpectedPurchasesAll(ctx, pm, 52, x, tx, T, workers); err != nil {
		return err
	}
	if _, err := ExpectedSpends(ctx, gg, x, m, workers); err != nil {
		return err
	}
	_, err := CLVs(ctx, pm, gg, x, tx, T, m, 12, 52.0/12, 0.3, 0.01, workers)
	return err
}

// BenchmarkScore1M scores one million customers with the master fits'
// parameters. The target is under one second with GOMAXPROCS=2 (-cpu 2).
func BenchmarkScore1M(b *testing.B) {
	gg := GammaGamma{P: 6.2754, Q: 3.6245, Gamma: 14.9837}
	models := []PurchaseModel{
		BGNBD{R: 0.2516, Alpha: 4.7889, A: 0.7234, B: 2.1611},
		ParetoNBD{R: 0.5974, Alpha: 11.5859, S: 0.5222, Beta: 8.8274},
	}
	for _, spread := range []bool{false, true} {
		x, tx, T, m := resampled(b, 1_000_000, spread)
		data := "resampled"
		if spread {
			data = "spread"
		}
		for _, pm := range models {
			b.Run(data+"/"+pm.Name(), func(b *testing.B) {
				for b.Loop() {
					if err := score(context.Background(), pm, gg, x, tx, T, m, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
