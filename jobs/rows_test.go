package jobs

import (
	"context"
	"testing"

	"github.com/strata-oss/strata/jobs/internal/shoptest"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/config"
)

// TestAudienceRowsCountedOnce: an audience is published as Parquet and as
// CSV of the same rows; the manifest's and the ledger's row counts are its
// customers, not twice them.
func TestAudienceRowsCountedOnce(t *testing.T) {
	f := newFixture(t)
	f.cfg.Audiences = []config.Audience{{Name: "everyone", Filter: "frequency >= 0"}}
	f.runner = f.newRunner(t, nil)
	out, err := f.runner.Run(context.Background(), Request{AsOf: shoptest.Date(t, "2025-06-30"), Trigger: ledger.CLI})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(out.Result.Customers) // the filter selects everyone
	m := f.manifest(t, "2025-06-30")
	tf := m.Tables["audiences/name=everyone"]
	if want == 0 || len(tf.Keys) != 2 || tf.Rows != want {
		t.Errorf("manifest: %d rows in %v, want %d (one Parquet and one CSV part of the same rows)", tf.Rows, tf.Keys, want)
	}
	if got := out.Record.Rows["audiences/name=everyone"]; got != want {
		t.Errorf("ledger: %d rows, want %d", got, want)
	}
	if got, seg := m.Tables["segments"].Rows, int64(out.Result.Customers); got != seg {
		t.Errorf("segments: %d rows, %d customers", got, seg)
	}
}
