package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/stages"
)

func printSegments(w io.Writer, res *pipeline.Result) {
	fmt.Fprintf(w, "Segments as of %s — %d customers, %d orders\n", res.AsOf, res.Customers, res.Orders)
	for _, typ := range []string{"rfm", "cluster"} {
		var rows []stages.SummaryRow
		for _, r := range res.Segments {
			if r.SegmentType == typ {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		title := map[string]string{"rfm": "RFM segment", "cluster": "cluster"}[typ]
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tcustomers\tshare\trevenue\trevenue share\tavg CLV\tavg P(alive)\t\n", title)
		var total float64
		var n int64
		for _, r := range rows {
			name := r.Segment
			if r.ClusterID != nil {
				name = fmt.Sprintf("%d  %s", *r.ClusterID, r.Segment)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%s\t%.1f%%\t%s\t%s\t\n", name, r.Customers, 100*r.Share, money(r.Revenue), 100*r.RevenueShare,
				optMoney(r.AvgCLV), optPct(r.AvgPAlive))
			total += r.Revenue
			n += r.Customers
		}
		fmt.Fprintf(tw, "total\t%d\t%.1f%%\t%s\t\t\t\t\n", n, 100*float64(n)/float64(max(res.Customers, 1)), money(total))
		tw.Flush()
	}
	q := res.Quality
	var bad int64
	for _, byReason := range q.Bad {
		for _, c := range byReason {
			bad += c
		}
	}
	fmt.Fprintf(w, "\nData quality: %d order rows read, %d quarantined as bad, %d duplicates dropped, %d after the as-of date excluded\n",
		q.RowsRead["orders"], bad, q.Duplicates["orders"], q.Excluded["orders"]["after_as_of"])
	if q.Currency != "" || q.GuestRevenue != 0 {
		var parts []string
		if q.Currency != "" {
			parts = append(parts, "amounts in "+q.Currency)
		}
		if q.GuestRevenue != 0 {
			parts = append(parts, fmt.Sprintf("%d guest order rows excluded, %s of revenue", q.Excluded["orders"]["guest_order"], money(q.GuestRevenue)))
		}
		fmt.Fprintf(w, "%s\n", strings.Join(parts, "; "))
	}
}

func printDemo(w io.Writer, res *jobs.DemoResult, took time.Duration) {
	printSegments(w, res.Run)
	out := strings.TrimRight(res.Output, "/")
	fmt.Fprintf(w, "\nInput  (generated): %s\n", res.Input)
	fmt.Fprintf(w, "Output (published): %s\n", out)
	for _, t := range []string{"segments", "segment_summary", "segment_migration", "quarantine", "recommendations", "features"} {
		if tf, ok := res.Run.Manifest.Tables[t]; ok {
			for _, k := range tf.Keys {
				fmt.Fprintf(w, "  %-16s %s/%s (%d rows)\n", t, out, k, tf.Rows)
			}
		}
	}
	fmt.Fprintf(w, "  %-16s %s/models/dt=%s/model.json\n", "model", out, res.Run.AsOf)
	fmt.Fprintf(w, "  %-16s %s/reports/dt=%s/report.html\n", "report", out, res.Run.AsOf)
	fmt.Fprintf(w, "  %-16s %s/segments/dt=%s/_SUCCESS\n", "manifest", out, res.Run.AsOf)
	fmt.Fprintf(w, "\nDone in %.1fs.\n", took.Seconds())
}

func optMoney(v *float64) string {
	if v == nil {
		return "—"
	}
	return money(*v)
}

func optPct(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100**v)
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// sortedParams formats a parameter map in a fixed order.
func sortedParams(p map[string]float64) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%.6g", k, p[k])
	}
	return strings.Join(parts, "  ")
}

func printCLV(w io.Writer, r *jobs.CLVReport) {
	unit := "weeks"
	if r.TimeUnitDays == 1 {
		unit = "days"
	}
	fmt.Fprintf(w, "%s: %d rows (%d skipped), purchases %s to %s\n", r.Input, r.Rows, r.SkippedRows, r.FirstDate, r.LastDate)
	if sel := r.Selection; sel != nil {
		fmt.Fprintf(w, "model chosen by %s on the %d days after %s:\n", sel.Metric, sel.HoldoutDays, sel.CalibrationEnd)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "candidate\tcalibration LL\tholdout LL\tholdout MAE\t")
		for _, c := range sel.Candidates {
			name := c.Model
			if c.Scored != "" {
				name += " (as " + c.Scored + ")"
			}
			if c.Error != "" {
				fmt.Fprintf(tw, "%s\tnot fitted: %s\t\t\t\n", name, c.Error)
				continue
			}
			fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t\n", name, c.LogLik, c.HoldoutLogLik, c.HoldoutMAE)
		}
		tw.Flush()
		fmt.Fprintf(w, "chose %s: %s; refitted on the whole history\n", sel.Chosen, sel.Reason)
	}
	fmt.Fprintf(w, "calibration: up to %s inclusive, %d customers (%d repeaters), time unit %s\n\n", r.CalibrationEnd, r.Customers, r.Repeaters, unit)
	fmt.Fprintf(w, "%-12s %s\n", r.PurchaseModel, sortedParams(r.Params))
	fmt.Fprintf(w, "%-12s log-likelihood %.4f, %s, %d iterations, %d distinct summaries, %.3fs\n", "", r.LogLik, r.Fit.Method, r.Fit.Iterations, r.Fit.Distinct, r.FitSeconds)
	if s := r.Spend; s != nil {
		fmt.Fprintf(w, "%-12s %s\n", "gamma-gamma", sortedParams(s.Params))
		fmt.Fprintf(w, "%-12s log-likelihood %.4f on %d repeaters (%d excluded: zero spend)\n", "", s.LogLik, s.Fit.N, s.Fit.Excluded)
	}
	if h := r.Holdout; h != nil {
		fmt.Fprintf(w, "\nholdout %d days after %s: predicted %.1f repeat purchases, actual %.0f (%+.2f%%), per-customer MAE %.4f\n",
			h.Days, h.CalibrationEnd, h.Predicted, h.Actual, 100*h.RelErr, h.MAE)
	}
	if p := r.Predictions; p != nil {
		fmt.Fprintf(w, "\npredictions of %d customers as of %s (horizon %d months, %.0f%% intervals from %d draws) written to %s\n",
			p.Customers, p.AsOf, p.HorizonMonths, 100*p.Level, p.Draws, p.File)
		if p.IntervalsNote != "" {
			fmt.Fprintf(w, "intervals: %s\n", p.IntervalsNote)
		}
	}
}

func printCluster(w io.Writer, r *jobs.ClusterReport) {
	fmt.Fprintf(w, "%s: %d rows (%d skipped) × %d columns (%s), scaling %s\n", r.Input, r.Rows, r.SkippedRows, len(r.Columns), strings.Join(r.Columns, ", "), r.Scale)
	if r.Reason != "" {
		fmt.Fprintf(w, "%s\n", r.Reason)
	}
	if r.Applied != "" {
		fmt.Fprintf(w, "\nk=%d  inertia %.6g  assigned in %.3fs\n", r.K, r.Inertia, r.FitSeconds)
	} else {
		fmt.Fprintf(w, "\nk=%d  inertia %.6g  %d iterations (%s, converged %v)  %.3fs\n", r.K, r.Inertia, r.Iterations, r.Algorithm, r.Converged, r.FitSeconds)
	}
	fmt.Fprintf(w, "sizes %v\n", r.Sizes)
	if len(r.Names) > 0 {
		fmt.Fprintf(w, "names %s\n", strings.Join(r.Names, "; "))
	}
	if r.Applied != "" {
		fmt.Fprintf(w, "assigned by the saved model %s\n", r.Applied)
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "k\tinertia\tBIC\tsilhouette\tCalinski-Harabasz\tDavies-Bouldin\t")
	for i, s := range r.Scores {
		bic := ""
		if i < len(r.BIC) {
			bic = fmt.Sprintf("%.1f", r.BIC[i])
		}
		fmt.Fprintf(tw, "%d\t%.6g\t%s\t%.4f\t%.1f\t%.4f\t\n", s.K, s.Inertia, bic, s.Silhouette, s.CalinskiHarabasz, s.DaviesBouldin)
	}
	tw.Flush()
}

// printShow prints a published run with the change since the run before.
func printShow(w io.Writer, p *jobs.Published) {
	m := p.Model
	fmt.Fprintf(w, "%s — run of %s (attempt %s, config %s)\n", p.Location, m.AsOf, m.Attempt, m.ConfigHash)
	fmt.Fprintf(w, "%d customers, %d buyers, %d orders", m.Counts["customers"], m.Counts["buyers"], m.Counts["orders"])
	if p.Previous != nil {
		fmt.Fprintf(w, " (previous run %s: %+d customers, %+d buyers)", p.Previous.AsOf,
			m.Counts["customers"]-p.Previous.Counts["customers"], m.Counts["buyers"]-p.Previous.Counts["buyers"])
	}
	fmt.Fprintln(w)
	prev := map[string]stages.SummaryRow{}
	if p.Previous != nil {
		for _, r := range p.Previous.Segments {
			prev[r.SegmentType+"\x00"+r.Segment] = r
		}
	}
	for _, typ := range []string{"rfm", "cluster"} {
		var rows []stages.SummaryRow
		for _, r := range m.Segments {
			if r.SegmentType == typ {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		title := map[string]string{"rfm": "RFM segment", "cluster": "cluster"}[typ]
		fmt.Fprintf(tw, "%s\tcustomers\tchange\tshare\trevenue\tavg CLV\ttotal CLV\tavg P(alive)\t\n", title)
		for _, r := range rows {
			change := "new"
			if q, ok := prev[r.SegmentType+"\x00"+r.Segment]; ok {
				change = fmt.Sprintf("%+d", r.Customers-q.Customers)
			} else if p.Previous == nil {
				change = ""
			}
			name := r.Segment
			if r.ClusterID != nil {
				name = fmt.Sprintf("%d  %s", *r.ClusterID, r.Segment)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f%%\t%s\t%s\t%s\t%s\t\n", name, r.Customers, change, 100*r.Share, money(r.Revenue),
				optMoney(r.AvgCLV), optMoney(r.TotalCLV), optPct(r.AvgPAlive))
		}
		tw.Flush()
	}
	if c := m.Cluster; c != nil && c.Previous != nil {
		fmt.Fprintf(w, "\nSince %s: %.1f%% of customers changed cluster; ids kept %v, new %v\n", c.Previous.AsOf, 100*c.Previous.Moved, c.Previous.MatchedIDs, c.Previous.NewIDs)
	}
	if c := m.CLV; c != nil && c.Holdout != nil && c.Holdout.Error == "" {
		fmt.Fprintf(w, "CLV (%s): holdout of %d days predicted %.0f repeat purchases, actual %.0f (%+.1f%%)\n",
			c.PurchaseModel, c.Holdout.Days, c.Holdout.Predicted, c.Holdout.Actual, 100*c.Holdout.RelErr)
	}
	for _, a := range m.Audiences {
		fmt.Fprintf(w, "audience %-20s %7d customers  (%s)\n", a.Name, a.Customers, a.Filter)
	}
	printCampaigns(w, m)
	if d, err := m.Drift(); err != nil {
		fmt.Fprintf(w, "drift: %v\n", err)
	} else if d != nil {
		printDrift(w, d)
	}
}

// printDrift says how far the run moved from the previous one: the
// largest PSI and segment shift, and every breach.
func printDrift(w io.Writer, d *stages.DriftSection) {
	var top stages.FeatureDrift
	for _, f := range d.Features {
		if f.PSI > top.PSI || top.Feature == "" {
			top = f
		}
	}
	var seg stages.SegmentDrift
	for _, s := range d.Segments {
		if math.Abs(s.Change) > math.Abs(seg.Change) || seg.Segment == "" {
			seg = s
		}
	}
	fmt.Fprintf(w, "drift since %s: largest PSI %.3f (%s; threshold %.2f)", d.Previous.AsOf, top.PSI, top.Feature, d.MaxPSI)
	if seg.Segment != "" {
		fmt.Fprintf(w, ", largest segment shift %+.1f points (%s; threshold %.1f)", 100*seg.Change, seg.Segment, 100*d.MaxSegmentShift)
	}
	fmt.Fprintln(w)
	for _, b := range d.Breaches {
		fmt.Fprintf(w, "  drift %s: %s\n", d.Action, b.Message)
	}
}

// printInputs shows what `strata validate` found under the input location.
func printInputs(w io.Writer, location string, inputs []jobs.InputInfo) {
	fmt.Fprintf(w, "inputs under %s:\n", location)
	for _, in := range inputs {
		fmt.Fprintf(w, "  %s: %d object(s) under %s (%s)", in.Table, in.Objects, in.Path, strings.Join(in.Formats, ", "))
		if in.Sample != "" {
			fmt.Fprintf(w, "; columns of %s:", in.Sample)
			for _, c := range in.Schema {
				fmt.Fprintf(w, "\n      %s", c)
			}
		}
		fmt.Fprintln(w)
	}
}
