package stages

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/strata-oss/strata/pipeline/report"
)

// The report's sections of the CLV and cluster stages.

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

// clvTables are the report's model tables of m.
func clvTables(c *CLVModel) []report.Table {
	var ts []report.Table
	{
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
			if sel := m.Selection; sel != nil {
				ts = append(ts, selectionTable(sel))
			}
			if !m.NoSpend() {
				g := report.Table{Title: "Spend: Gamma-Gamma", Rows: paramRows(m.Spend.Params)}
				g.Rows = append(g.Rows, report.KV{Key: "log-likelihood", Value: fmt.Sprintf("%.2f", m.Spend.LogLik)},
					report.KV{Key: "repeat customers", Value: fmt.Sprint(m.Spend.Fit.N)})
				g.Note = m.Discounting
				ts = append(ts, g)
			}
		}
	}
	return ts
}

// clusterTable is the report's model table of the clustering m.
func clusterTable(m ClusterModel) report.Table {
	{
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
		return t
	}
}

// pAliveMatrix is the mean P(alive) by repeat purchases and weeks since
// the last purchase: the picture that explains why a frequent buyer who
// went quiet is "dead" sooner than an occasional one.
func pAliveMatrix(a *clvPart) *report.Matrix {
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

// selectionTable is the report's record of clv.model: auto: every
// candidate's holdout scores, the chosen one marked, and why.
func selectionTable(sel *ModelSelection) report.Table {
	t := report.Table{Title: "Purchase model chosen by the holdout", Note: sel.Reason}
	if sel.CalibrationEnd != "" {
		t.Rows = append(t.Rows, report.KV{Key: "calibration end, holdout", Value: fmt.Sprintf("%s, %d days", sel.CalibrationEnd, sel.HoldoutDays)})
	}
	t.Rows = append(t.Rows, report.KV{Key: "metric", Value: sel.Metric})
	for _, c := range sel.Candidates {
		key := c.Name
		if c.NoDropout {
			key += " (as the NBD)"
		}
		if c.Chosen {
			key += " ✓ chosen"
		}
		v := "not fitted"
		if c.Error == "" {
			v = fmt.Sprintf("log-lik %s, MAE %.3f", report.Thousands(c.HoldoutLogLik), c.HoldoutMAE)
		}
		t.Rows = append(t.Rows, report.KV{Key: key, Value: v})
	}
	return t
}
