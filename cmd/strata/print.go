package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/pipeline"
)

func printSegments(w io.Writer, res *pipeline.Result) {
	fmt.Fprintf(w, "Segments as of %s — %d customers, %d orders\n\n", res.AsOf, res.Customers, res.Orders)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "segment\tcustomers\tshare\trevenue\trevenue share\t")
	var total float64
	var n int64
	for _, r := range res.Segments {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%s\t%.1f%%\t\n", r.Segment, r.Customers, 100*r.Share, money(r.Revenue), 100*r.RevenueShare)
		total += r.Revenue
		n += r.Customers
	}
	fmt.Fprintf(tw, "total\t%d\t100.0%%\t%s\t100.0%%\t\n", n, money(total))
	tw.Flush()
	q := res.Quality
	var bad int64
	for _, byReason := range q.Bad {
		for _, c := range byReason {
			bad += c
		}
	}
	fmt.Fprintf(w, "\nData quality: %d order rows read, %d quarantined as bad, %d duplicates dropped, %d after the as-of date excluded\n",
		q.RowsRead["orders"], bad, q.Duplicates["orders"], q.Excluded["orders"]["after_as_of"])
}

func printDemo(w io.Writer, res *jobs.DemoResult, took time.Duration) {
	printSegments(w, res.Run)
	out := strings.TrimRight(res.Output, "/")
	fmt.Fprintf(w, "\nInput  (generated): %s\n", res.Input)
	fmt.Fprintf(w, "Output (published): %s\n", out)
	for _, t := range []string{"segments", "segment_summary", "quarantine"} {
		if tf, ok := res.Run.Manifest.Tables[t]; ok {
			for _, k := range tf.Keys {
				fmt.Fprintf(w, "  %-16s %s/%s (%d rows)\n", t, out, k, tf.Rows)
			}
		}
	}
	fmt.Fprintf(w, "  %-16s %s/models/dt=%s/model.json\n", "model", out, res.Run.AsOf)
	fmt.Fprintf(w, "  %-16s %s/segments/dt=%s/_SUCCESS\n", "manifest", out, res.Run.AsOf)
	fmt.Fprintf(w, "\nDone in %.1fs.\n", took.Seconds())
}

// money formats an amount with thousands separators.
func money(v float64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := fmt.Sprintf("%.2f", v)
	intPart, frac := s[:len(s)-3], s[len(s)-3:]
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String() + frac
	if neg {
		out = "-" + out
	}
	return out
}
