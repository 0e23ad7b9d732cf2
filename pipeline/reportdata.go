package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/strata-oss/strata/internal/orderstat"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/report"
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

// quantiles5 returns the 10/25/50/75/90th percentiles of v (reordered in
// place), by linear interpolation between order statistics. It selects
// the order statistics rather than sorting: the report takes them of every
// scored customer's CLV and P(alive), and at millions of customers sorting
// them was a tenth of the publish stage.
func quantiles5(v []float64) *[5]float64 {
	if len(v) == 0 {
		return nil
	}
	var q [5]float64
	from := 0 // v[:from] holds the smallest values, in place
	for i, p := range []float64{0.10, 0.25, 0.50, 0.75, 0.90} {
		h := p * float64(len(v)-1)
		lo := int(math.Floor(h))
		orderstat.SelectNth(v[from:], lo-from)
		from = lo
		next := v[lo]
		if lo+1 < len(v) {
			next = slices.MinFunc(v[lo+1:], cmp.Compare[float64])
		}
		q[i] = v[lo] + (h-float64(lo))*(next-v[lo])
	}
	return &q
}

func reportData(cfg *config.Config, fit *Fitted, a *aggregates, summary []SummaryRow, spreads segmentSpreads, asOf, attempt string) report.Data {
	d := report.Data{
		Title: "Customer segments", AsOf: asOf, Attempt: attempt,
		Subtitle: fmt.Sprintf("%d buyers of %d customers, %d orders", a.Buyers, a.Customers, a.Orders),
	}
	// Segments, with CLV and P(alive) spreads.
	for _, r := range summary {
		if r.SegmentType != "rfm" {
			continue
		}
		seg := report.Segment{Name: r.Segment, Customers: r.Customers, Revenue: r.Revenue,
			TopCategories: r.TopCategories, BestChannel: r.BestChannel}
		if q, ok := spreads[r.Segment]; ok {
			seg.CLV, seg.PAlive = q[0], q[1]
		}
		d.Segments = append(d.Segments, seg)
	}
	// The R×F grid.
	d.RF = a.RF
	for _, rule := range rfmRules(cfg) {
		for r := rule.R[0]; r <= rule.R[1]; r++ {
			for f := rule.F[0]; f <= rule.F[1]; f++ {
				d.RFNames[r-1][f-1] = rule.Name
			}
		}
	}
	if fit.CLV != nil && fit.CLV.Skipped == "" && !fit.CLV.NoPurchase() {
		d.PAliveMatrix = pAliveMatrix(a)
	}
	if cl := fit.Cluster; cl != nil {
		m := &report.Matrix{Title: "Cluster profiles (mean z-score per feature)", RowTitle: "cluster", ColTitle: "feature",
			Cols: cl.Model.Features, Diverging: true, Format: "%+.2f"}
		for _, p := range cl.Model.Profiles {
			m.Rows = append(m.Rows, fmt.Sprintf("%d %s (%d)", p.ID, p.Name, p.Size))
			row := make([]float64, len(m.Cols))
			for j, f := range m.Cols {
				row[j] = p.Z[f]
			}
			m.Values = append(m.Values, row)
		}
		d.Profiles = m
		if cl.Model.Previous != nil {
			d.Migration = migrationMatrix(a.Migrations, cl.PrevNames)
		}
	}
	q := a.Quality
	d.Quality = append(d.Quality, report.KV{Key: "order rows read", Value: fmt.Sprint(q.RowsRead["orders"])})
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
		d.Quality = append(d.Quality, report.KV{Key: "quarantined: " + k, Value: fmt.Sprint(reasons[k])})
	}
	d.Quality = append(d.Quality, report.KV{Key: "duplicate orders dropped", Value: fmt.Sprint(q.Duplicates["orders"])})
	if q.Currency != "" {
		d.Quality = append(d.Quality, report.KV{Key: "currency of all amounts", Value: q.Currency})
	}
	if q.GuestRevenue != 0 {
		d.Quality = append(d.Quality, report.KV{Key: "guest orders' share of revenue",
			Value: fmt.Sprintf("%.1f%% (%.2f of %.2f)", 100*q.GuestShare(a.Revenue), q.GuestRevenue, q.GuestRevenue+a.Revenue)})
	}
	excl := make([]string, 0, len(q.Excluded["orders"]))
	for k := range q.Excluded["orders"] {
		excl = append(excl, k)
	}
	sort.Strings(excl)
	for _, k := range excl {
		d.Quality = append(d.Quality, report.KV{Key: "excluded orders: " + k, Value: fmt.Sprint(q.Excluded["orders"][k])})
	}
	d.Models = modelTables(fit)
	return d
}

func paramRows(p map[string]float64) []report.KV {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := make([]report.KV, len(keys))
	for i, k := range keys {
		rows[i] = report.KV{Key: k, Value: fmt.Sprintf("%.6g", p[k])}
	}
	return rows
}

func modelTables(fit *Fitted) []report.Table {
	var ts []report.Table
	if c := fit.CLV; c != nil {
		m := *c
		for _, u := range m.Unfitted {
			ts = append(ts, report.Table{Title: fmt.Sprintf("Not fitted: the %s model (%s)", u.Model, u.Name),
				Note: fmt.Sprintf("%s. Published as null: %s.", u.Reason, strings.Join(u.Columns, ", "))})
		}
		switch {
		case m.Skipped != "":
			ts = append(ts, report.Table{Title: "Lifetime value", Note: m.Skipped})
		case m.NoPurchase() && m.NoSpend():
		case m.NoPurchase():
			g := report.Table{Title: "Spend: Gamma-Gamma", Rows: paramRows(m.Spend.Params)}
			g.Rows = append(g.Rows, report.KV{Key: "log-likelihood", Value: fmt.Sprintf("%.2f", m.Spend.LogLik)},
				report.KV{Key: "repeat customers", Value: fmt.Sprint(m.Spend.Fit.N)})
			ts = append(ts, g)
		default:
			t := report.Table{Title: "Purchases: " + m.PurchaseModel, Rows: paramRows(m.Params)}
			t.Rows = append(t.Rows,
				report.KV{Key: "log-likelihood", Value: fmt.Sprintf("%.2f", m.LogLik)},
				report.KV{Key: "customers", Value: fmt.Sprint(m.Customers)},
				report.KV{Key: "time unit (days)", Value: fmt.Sprint(m.TimeUnitDays)},
				report.KV{Key: "optimiser", Value: fmt.Sprintf("%s, %d iterations", m.Fit.Method, m.Fit.Iterations)})
			if h := m.Holdout; h != nil {
				if h.Error != "" {
					t.Note = "Holdout check: " + h.Error
				} else {
					t.Rows = append(t.Rows,
						report.KV{Key: fmt.Sprintf("holdout %d days: predicted", h.Days), Value: fmt.Sprintf("%.0f", h.Predicted)},
						report.KV{Key: "holdout: actual", Value: fmt.Sprintf("%.0f", h.Actual)},
						report.KV{Key: "holdout: error", Value: fmt.Sprintf("%+.1f%%", 100*h.RelErr)},
						report.KV{Key: "holdout: per-customer MAE", Value: fmt.Sprintf("%.3f", h.MAE)})
				}
			}
			ts = append(ts, t)
			if !m.NoSpend() {
				g := report.Table{Title: "Spend: Gamma-Gamma", Rows: paramRows(m.Spend.Params)}
				g.Rows = append(g.Rows, report.KV{Key: "log-likelihood", Value: fmt.Sprintf("%.2f", m.Spend.LogLik)},
					report.KV{Key: "repeat customers", Value: fmt.Sprint(m.Spend.Fit.N)})
				g.Note = m.Discounting
				ts = append(ts, g)
			}
		}
	}
	if cl := fit.Cluster; cl != nil {
		m := cl.Model
		t := report.Table{Title: fmt.Sprintf("Clusters: k-means, k = %d", m.K), Rows: []report.KV{
			{Key: "customers", Value: fmt.Sprint(m.Customers)},
			{Key: "inertia", Value: fmt.Sprintf("%.6g", m.Inertia)},
			{Key: "iterations", Value: fmt.Sprint(m.Iterations)},
			{Key: "restarts", Value: fmt.Sprint(m.NInit)},
		}}
		if m.Choice != nil {
			for _, sc := range m.Choice.Scores {
				t.Rows = append(t.Rows, report.KV{Key: fmt.Sprintf("k=%d silhouette / CH / DB", sc.K),
					Value: fmt.Sprintf("%.3f / %.0f / %.3f", sc.Silhouette, sc.CalinskiHarabasz, sc.DaviesBouldin)})
			}
			t.Note = m.Choice.Reason
		}
		ts = append(ts, t)
	}
	return ts
}

// pAliveMatrix is the mean P(alive) by repeat purchases and weeks since
// the last purchase: the picture that explains why a frequent buyer who
// went quiet is "dead" sooner than an occasional one.
func pAliveMatrix(a *aggregates) *report.Matrix {
	freqNames := []string{"0", "1", "2", "3-4", "5-9", "10+"}
	recNames := []string{"0-4", "5-12", "13-26", "27-52", "53+"}
	n := make([][]int64, len(recNames))
	for i := range n {
		n[i] = a.PAliveN[i][:]
	}
	m := &report.Matrix{Title: "Mean P(alive) by repeat purchases and weeks since the last purchase",
		RowTitle: "weeks since the last purchase", ColTitle: "repeat purchase days", Rows: recNames, Cols: freqNames, Counts: n, Format: "%.2f"}
	for i := range recNames {
		row := make([]float64, len(freqNames))
		for j := range row {
			row[j] = math.NaN()
			if a.PAliveN[i][j] > 0 {
				row[j] = a.PAliveSum[i][j] / float64(a.PAliveN[i][j])
			}
		}
		m.Values = append(m.Values, row)
	}
	return m
}

func migrationMatrix(ms []Migration, prevNames map[int32]string) *report.Matrix {
	var from, to []int32
	for _, m := range ms {
		from, to = append(from, m.From), append(to, m.To)
	}
	uniq := func(v []int32) []int32 { slices.Sort(v); return slices.Compact(v) }
	from, to = uniq(from), uniq(to)
	name := func(id int32, names map[int32]string) string {
		if id < 0 {
			return "none"
		}
		return fmt.Sprintf("%d %s", id, names[id])
	}
	m := &report.Matrix{Title: "Customers by previous cluster (rows) and cluster (columns)", RowTitle: "previous cluster", ColTitle: "cluster id", Format: "%.0f"}
	fi, ti := map[int32]int{}, map[int32]int{}
	for i, f := range from {
		fi[f] = i
		m.Rows = append(m.Rows, name(f, prevNames))
	}
	// Columns carry ids only: names are long, and the rows spell them out.
	for j, t := range to {
		ti[t] = j
		col := "none"
		if t >= 0 {
			col = fmt.Sprint(t)
		}
		m.Cols = append(m.Cols, col)
	}
	m.Values = make([][]float64, len(from))
	for i := range m.Values {
		m.Values[i] = make([]float64, len(to))
		for j := range m.Values[i] {
			m.Values[i][j] = math.NaN()
		}
	}
	for _, x := range ms {
		m.Values[fi[x.From]][ti[x.To]] = float64(x.Customers)
	}
	return m
}
