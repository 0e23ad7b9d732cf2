package stages

import (
	"fmt"
	"testing"

	"github.com/strata-oss/strata/pipeline/config"
)

// BenchmarkRFMWorkers: the RFM stage's fit and scoring of 1M customers
// with one worker and with two, so that one run gives what the workers
// buy (the breaks and scores are the same: TestRFMWorkersSameScores).
func BenchmarkRFMWorkers(b *testing.B) {
	beh := rfmBehaviour(1_000_000, 1, false)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("fit/workers=%d", w), func(b *testing.B) {
			for range b.N {
				fitRFM(beh, w)
			}
		})
		breaks := fitRFM(beh, w)
		b.Run(fmt.Sprintf("apply/workers=%d", w), func(b *testing.B) {
			for range b.N {
				if _, err := applyRFM(&config.Config{Workers: w}, beh, breaks); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkForRowsFresh: copying 1M buyers' five scores into fresh run
// columns, as applyCLV does, with one worker and with two.
func BenchmarkForRowsFresh(b *testing.B) {
	const n = 1_000_000
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	src := make([]float64, n)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for range b.N {
				var cols [5][]float64
				for k := range cols {
					cols[k] = make([]float64, n)
				}
				forRows(rows, w, func(i, r int) {
					for k := range cols {
						cols[k][r] = src[i]
					}
				})
			}
		})
	}
}
