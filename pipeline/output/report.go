package output

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/report"
	"github.com/strata-oss/strata/pipeline/stages"
	"github.com/strata-oss/strata/pipeline/tables"
)

// reportKey is where a run's report is published under its fixed name.
func reportKey(asOf string) string { return publish.PartitionPrefix("reports", asOf) + "report.html" }

// writeReport renders the run's report and publishes it as an extra object
// of the run.
func writeReport(ctx context.Context, pub *publish.Publisher, d report.Data) error {
	var b bytes.Buffer
	if err := report.Render(&b, d); err != nil {
		return err
	}
	return pub.WriteObject(ctx, "report", "reports", "report.html", b.Bytes())
}

// reportQuality adds the data-quality section of the run's aggregates to
// d.
func reportQuality(d *report.Data, a *Aggregates) {
	q := a.Quality
	d.Quality = append(d.Quality, report.KV{Key: "order rows read", Value: count(q.RowsRead["orders"])})
	reasons := map[string]int64{}
	for _, byReason := range q.Bad {
		for k, v := range byReason {
			reasons[k] += v
		}
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Quality = append(d.Quality, report.KV{Key: "quarantined: " + k, Value: count(reasons[k])})
	}
	d.Quality = append(d.Quality, report.KV{Key: "duplicate orders dropped", Value: count(q.Duplicates["orders"])})
	if q.Currency != "" {
		d.Quality = append(d.Quality, report.KV{Key: "currency of all amounts", Value: q.Currency})
	}
	if q.GuestRevenue != 0 {
		d.Quality = append(d.Quality, report.KV{Key: "guest orders' share of revenue",
			Value: fmt.Sprintf("%.1f%% (%s of %s%s)", 100*q.GuestShare(a.Revenue), report.Thousands(q.GuestRevenue),
				report.Thousands(q.GuestRevenue+a.Revenue), currencySuffix(q.Currency))})
	}
	excl := make([]string, 0, len(q.Excluded["orders"]))
	for k := range q.Excluded["orders"] {
		excl = append(excl, k)
	}
	sort.Strings(excl)
	for _, k := range excl {
		d.Quality = append(d.Quality, report.KV{Key: "excluded orders: " + k, Value: count(q.Excluded["orders"][k])})
	}
}

// count formats a count of the quality section with thousands separators.
func count[T int | int64](n T) string { return report.Thousands(float64(n)) }

// currencySuffix is " EUR" for a known currency, "" otherwise.
func currencySuffix(c string) string {
	if c == "" {
		return ""
	}
	return " " + c
}

// ReadSegmentValues reads the CLV and P(alive) of every scored customer
// of the published segment parts, by RFM segment, for the report's
// spreads: the same values, in the same order, as an unsharded run has.
func ReadSegmentValues(ctx context.Context, b objstore.Bucket, keys []string) (stages.SegmentValues, error) {
	vals := stages.SegmentValues{}
	src := tables.Source{Bucket: b, Format: "parquet", Fields: []tables.Field{
		{Name: "rfm_segment", Kind: tables.String, Required: true},
		{Name: "clv", Kind: tables.Float},
		{Name: "p_alive", Kind: tables.Float},
	}}
	for _, key := range keys {
		err := src.ScanObject(ctx, key, func(bt *tables.Batch) error {
			seg, clv, pa := &bt.Cols[0], &bt.Cols[1], &bt.Cols[2]
			if !clv.Present || !pa.Present {
				return nil
			}
			for i := 0; i < bt.N; i++ {
				if !clv.IsNull(i) && !pa.IsNull(i) {
					vals.Add(seg.Str[i], clv.F[i], pa.F[i])
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", key, err)
		}
	}
	return vals, nil
}
