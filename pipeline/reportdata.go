package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/report"
)

// reportKey is where a run's report is published under its fixed name.
func reportKey(asOf string) string { return publish.PartitionPrefix("reports", asOf) + "report.html" }

// writeReport renders the run's report and publishes it as an extra object
// of the run.
func writeReport(ctx context.Context, pub *publish.Publisher, st *state, asOf, attempt string) error {
	var b bytes.Buffer
	if err := report.Render(&b, reportData(st, asOf, attempt)); err != nil {
		return err
	}
	return pub.WriteObject(ctx, "report", "reports", "report.html", b.Bytes())
}

// quantiles5 returns the 10/25/50/75/90th percentiles of v (sorted in
// place), by linear interpolation between order statistics.
func quantiles5(v []float64) *[5]float64 {
	if len(v) == 0 {
		return nil
	}
	slices.Sort(v)
	var q [5]float64
	for i, p := range []float64{0.10, 0.25, 0.50, 0.75, 0.90} {
		h := p * float64(len(v)-1)
		lo := int(math.Floor(h))
		hi := min(lo+1, len(v)-1)
		q[i] = v[lo] + (h-float64(lo))*(v[hi]-v[lo])
	}
	return &q
}

func reportData(st *state, asOf, attempt string) report.Data {
	b, s := st.beh, st.rfm
	var buyers int64
	for _, h := range b.HasOrders {
		if h {
			buyers++
		}
	}
	d := report.Data{
		Title: "Customer segments", AsOf: asOf, Attempt: attempt,
		Subtitle: fmt.Sprintf("%d buyers of %d customers, %d orders", buyers, b.N, st.orders()),
	}
	// Segments, with CLV and P(alive) spreads.
	clvBy := map[string][]float64{}
	paBy := map[string][]float64{}
	if c := st.clv; c != nil {
		for i := range b.N {
			if c.Scored[i] {
				clvBy[s.Segment[i]] = append(clvBy[s.Segment[i]], c.CLV[i])
				paBy[s.Segment[i]] = append(paBy[s.Segment[i]], c.PAlive[i])
			}
		}
	}
	for _, r := range st.summary {
		if r.SegmentType != "rfm" {
			continue
		}
		d.Segments = append(d.Segments, report.Segment{Name: r.Segment, Customers: r.Customers, Revenue: r.Revenue,
			TopCategories: r.TopCategories, BestChannel: r.BestChannel,
			CLV: quantiles5(clvBy[r.Segment]), PAlive: quantiles5(paBy[r.Segment])})
	}
	// The R×F grid.
	for i := range b.N {
		if r, f := s.R[i], s.F[i]; r > 0 && f > 0 {
			d.RF[r-1][f-1]++
		}
	}
	for _, rule := range s.Rules {
		for r := rule.R[0]; r <= rule.R[1]; r++ {
			for f := rule.F[0]; f <= rule.F[1]; f++ {
				d.RFNames[r-1][f-1] = rule.Name
			}
		}
	}
	if c := st.clv; c != nil && c.Model.Skipped == "" {
		d.PAliveMatrix = pAliveMatrix(st)
	}
	if cl := st.cluster; cl != nil {
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
			d.Migration = migrationMatrix(cl)
		}
	}
	q := st.ds.Quality
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
	for k, v := range q.Excluded["orders"] {
		d.Quality = append(d.Quality, report.KV{Key: "excluded orders: " + k, Value: fmt.Sprint(v)})
	}
	d.Models = modelTables(st)
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

func modelTables(st *state) []report.Table {
	var ts []report.Table
	if c := st.clv; c != nil {
		m := c.Model
		if m.Skipped != "" {
			ts = append(ts, report.Table{Title: "Lifetime value", Note: m.Skipped})
		} else {
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
			g := report.Table{Title: "Spend: Gamma-Gamma", Rows: paramRows(m.Spend.Params)}
			g.Rows = append(g.Rows, report.KV{Key: "log-likelihood", Value: fmt.Sprintf("%.2f", m.Spend.LogLik)},
				report.KV{Key: "repeat customers", Value: fmt.Sprint(m.Spend.Fit.N)})
			g.Note = m.Discounting
			ts = append(ts, g)
		}
	}
	if cl := st.cluster; cl != nil {
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
func pAliveMatrix(st *state) *report.Matrix {
	b, c := st.beh, st.clv
	freqEdges := []int{0, 1, 2, 3, 5, 10} // repeat purchase days: 0, 1, 2, 3-4, 5-9, 10+
	freqNames := []string{"0", "1", "2", "3-4", "5-9", "10+"}
	recEdges := []int{0, 5, 13, 27, 53} // weeks since last purchase
	recNames := []string{"0-4", "5-12", "13-26", "27-52", "53+"}
	bucket := func(v int, edges []int) int {
		k := 0
		for i, e := range edges {
			if v >= e {
				k = i
			}
		}
		return k
	}
	sum := make([][]float64, len(recNames))
	n := make([][]int64, len(recNames))
	for i := range sum {
		sum[i], n[i] = make([]float64, len(freqNames)), make([]int64, len(freqNames))
	}
	for i := range b.N {
		if !c.Scored[i] {
			continue
		}
		fi := bucket(int(b.PurchaseDays[i])-1, freqEdges)
		ri := bucket(int(b.RecencyDays[i])/7, recEdges)
		sum[ri][fi] += c.PAlive[i]
		n[ri][fi]++
	}
	m := &report.Matrix{Title: "Mean P(alive) by repeat purchases and weeks since the last purchase",
		RowTitle: "weeks since the last purchase", ColTitle: "repeat purchase days", Rows: recNames, Cols: freqNames, Counts: n, Format: "%.2f"}
	for i := range sum {
		row := make([]float64, len(freqNames))
		for j := range row {
			row[j] = math.NaN()
			if n[i][j] > 0 {
				row[j] = sum[i][j] / float64(n[i][j])
			}
		}
		m.Values = append(m.Values, row)
	}
	return m
}

func migrationMatrix(r *clusterResult) *report.Matrix {
	ms := migrations(r)
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
		m.Rows = append(m.Rows, name(f, r.PrevNames))
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
