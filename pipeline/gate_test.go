package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
)

// TestGateWeighsBytes: the quality gate fails a run whose quarantined
// rows are few but hold most of the input's bytes (a huge malformed line,
// a stray quote's lines), as well as one with too many bad rows.
func TestGateWeighsBytes(t *testing.T) {
	cases := []struct {
		name                   string
		rows, bad, bytes, badB int64
		fails, onBytes         bool
	}{
		{"clean", 1000, 0, 50_000, 0, false, false},
		{"few bad rows, few bytes", 1000, 10, 50_000, 500, false, false},
		{"few bad rows, most bytes", 30_000, 1, 1_500_000, 1_400_000, true, true},
		{"many bad rows", 1000, 100, 50_000, 5_000, true, false},
		{"parquet: no bytes", 1000, 1, 0, 0, false, false},
	}
	cfg := &config.Config{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := &extract.Dataset{Quality: extract.Quality{
				RowsRead: map[string]int64{"orders": c.rows},
				Bad:      map[string]map[string]int64{"orders": {extract.ReasonMalformedRow: c.bad}},
			}}
			if c.bytes > 0 {
				ds.Quality.BytesRead = map[string]int64{"orders": c.bytes}
				ds.Quality.BadBytes = map[string]int64{"orders": c.badB}
			}
			err := checkGate(cfg, ds)
			var qe *QualityError
			if (err != nil) != c.fails || (err != nil && (!errors.As(err, &qe) || qe.Bytes != c.onBytes)) {
				t.Fatalf("checkGate = %v; want failure %v (on bytes %v)", err, c.fails, c.onBytes)
			}
			if c.onBytes && !strings.Contains(err.Error(), "bytes") {
				t.Errorf("error %q does not say it is the bytes", err)
			}
		})
	}
}
