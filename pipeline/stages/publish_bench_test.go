package stages

import (
	"math/rand/v2"
	"testing"

	"github.com/strata-oss/strata/pipeline/config"
)

// scoredRun is a run of n customers as the publish stage finds it at the
// end-to-end benchmark's settings: RFM scores, CLV scores of the buyers,
// 8 clusters and a previous run's clusters and segments for most of them.
func scoredRun(b testing.TB, n int) (*Run, List) {
	b.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	beh := rfmBehaviour(n, 1, false)
	beh.PurchaseDays, beh.AvgOrder = make([]int32, n), make([]float64, n)
	for i := range n {
		if beh.HasOrders[i] {
			beh.PurchaseDays[i] = 1 + int32(rng.IntN(int(beh.Frequency[i])))
			beh.AvgOrder[i] = beh.Monetary[i] / float64(beh.Frequency[i])
		}
	}
	cfg := &config.Config{Workers: 2}
	r := &Run{Config: cfg, Behaviour: beh}
	s, err := applyRFM(cfg, beh, fitRFM(beh, 2))
	if err != nil {
		b.Fatal(err)
	}
	r.SetResult("rfm", s)
	cv := &clvScores{Scored: make([]bool, n), PAlive: make([]float64, n), ExpectedPurchases: make([]float64, n),
		ExpectedSpend: make([]float64, n), CLV: make([]float64, n)}
	cl := &clusterResult{ID: make([]int32, n), Previous: make([]int32, n), Names: map[int32]string{}}
	for k := range int32(8) {
		cl.Names[k] = string(rune('a' + k))
	}
	mig := &rfmMigrationResult{Previous: make([]int32, n), Names: s.Segments}
	for i := range n {
		cl.ID[i], cl.Previous[i], mig.Previous[i] = -1, -1, -1
		if rng.IntN(10) > 0 {
			mig.Previous[i] = int32(rng.IntN(len(s.Segments)))
		}
		if !beh.HasOrders[i] {
			continue
		}
		cv.Scored[i] = true
		cv.PAlive[i] = min(1, rng.Float64()*1.5)
		cv.ExpectedPurchases[i] = rng.ExpFloat64()
		cv.CLV[i] = rng.ExpFloat64() * 100
		cl.ID[i] = int32(rng.IntN(8))
		if rng.IntN(10) > 0 {
			cl.Previous[i] = int32(rng.IntN(8))
		}
	}
	r.SetResult("clv", cv)
	r.SetResult("cluster", cl)
	r.SetResult("rfm_migration", mig)
	return r, List{RFM{}, Cluster{}, NewCLV(), RFMMigration{}}
}

// BenchmarkPublishSums: each stage's sums of 1M customers, as the publish
// stage adds them up beside the segments table's writer.
func BenchmarkPublishSums(b *testing.B) {
	r, list := scoredRun(b, 1_000_000)
	for _, s := range list {
		sum := s.(Summer)
		res := r.Result(s.Info().Name)
		b.Run(s.Info().Name, func(b *testing.B) {
			for range b.N {
				sum.Sum(r, res)
			}
		})
	}
}

// BenchmarkPublishSpreads: the report's CLV and P(alive) percentiles by
// RFM segment of 1M customers.
func BenchmarkPublishSpreads(b *testing.B) {
	r, _ := scoredRun(b, 1_000_000)
	for range b.N {
		ValuesOf(r).Spreads()
	}
}

// BenchmarkPublishColumns: the stages' columns of the segments table.
func BenchmarkPublishColumns(b *testing.B) {
	r, list := scoredRun(b, 1_000_000)
	for _, s := range list {
		c := s.(Columns)
		res := r.Result(s.Info().Name)
		b.Run(s.Info().Name, func(b *testing.B) {
			for range b.N {
				c.Columns(r, res, 20000)
			}
		})
	}
}
