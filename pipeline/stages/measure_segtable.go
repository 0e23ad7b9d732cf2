package stages

import (
	"fmt"
	"math"

	"github.com/strata-oss/strata/pipeline/measure"
	"github.com/strata-oss/strata/pipeline/report"
	"github.com/strata-oss/strata/pipeline/tables"
)

// SegmentKPIRow is one row of segment_kpis (measure.SegmentRow).
type SegmentKPIRow struct {
	SegmentType        string `json:"segment_type"`
	Segment            string `json:"segment"`
	ClusterID          *int32 `json:"cluster_id,omitempty"`
	WindowDays         int    `json:"window_days"`
	Customers          int    `json:"customers"`
	Converters         int    `json:"converters"`
	ConversionRate     Num    `json:"conversion_rate"`
	Revenue            Num    `json:"revenue"`
	RevenuePerCustomer Num    `json:"revenue_per_customer"`
	Buyers             int    `json:"buyers"`
	Retained           int    `json:"retained"`
	Retention          Num    `json:"retention"`
	Churn              Num    `json:"churn"`
}

func segmentKPIRow(r measure.SegmentRow) SegmentKPIRow {
	return SegmentKPIRow{SegmentType: r.SegmentType, Segment: r.Segment, ClusterID: r.ClusterID, WindowDays: r.WindowDays,
		Customers: r.Customers, Converters: r.Converters, ConversionRate: Num(r.ConversionRate), Revenue: Num(r.Revenue),
		RevenuePerCustomer: Num(r.RevenuePerCustomer), Buyers: r.Buyers, Retained: r.Retained,
		Retention: Num(r.Retention), Churn: Num(r.Churn)}
}

// BacktestRow is one row of clv_backtest (measure.BacktestRow).
type BacktestRow struct {
	Metric           string `json:"metric"`
	HorizonDays      Num    `json:"horizon_days"`
	Decile           int    `json:"decile"`
	Customers        int    `json:"customers"`
	PredictedMean    Num    `json:"predicted_mean"`
	ActualMean       Num    `json:"actual_mean"`
	PredictedSum     Num    `json:"predicted_sum"`
	ActualSum        Num    `json:"actual_sum"`
	CalibrationError Num    `json:"calibration_error"`
	Gini             Num    `json:"gini"`
}

func backtestRow(r measure.BacktestRow) BacktestRow {
	return BacktestRow{Metric: r.Metric, HorizonDays: Num(r.HorizonDays), Decile: r.Decile, Customers: r.Customers,
		PredictedMean: Num(r.PredictedMean), ActualMean: Num(r.ActualMean), PredictedSum: Num(r.PredictedSum),
		ActualSum: Num(r.ActualSum), CalibrationError: Num(r.CalibrationError), Gini: Num(r.Gini)}
}

// numColumn is a nullable DOUBLE column being filled; NaN is null.
type numColumn struct{ tables.OutColumn }

func newNum(name string, n int) *numColumn {
	return &numColumn{tables.OutColumn{Name: name, Type: tables.OutDouble, Optional: true, F64: make([]float64, 0, n), Null: make([]bool, 0, n)}}
}

func (c *numColumn) add(v Num) {
	f := float64(v)
	null := math.IsNaN(f) || math.IsInf(f, 0)
	if null {
		f = 0
	}
	c.F64 = append(c.F64, f)
	c.Null = append(c.Null, null)
}

// segmentKPIColumns is segment_kpis: the rows of each earlier run measured,
// oldest run first, each in measure.Segments' order.
func segmentKPIColumns(m *MeasureModel, asOfDay int32) []tables.OutColumn {
	var n int
	for _, s := range m.Segments {
		n += len(s.Rows)
	}
	asOf := tables.OutColumn{Name: "as_of", Type: tables.OutDate, I32: make([]int32, 0, n)}
	earlier := tables.OutColumn{Name: "earlier_as_of", Type: tables.OutDate, I32: make([]int32, 0, n)}
	typ := tables.OutColumn{Name: "segment_type", Type: tables.OutString, Str: make([]string, 0, n)}
	seg := tables.OutColumn{Name: "segment", Type: tables.OutString, Str: make([]string, 0, n)}
	cid := tables.OutColumn{Name: "cluster_id", Type: tables.OutInt32, Optional: true, I32: make([]int32, 0, n), Null: make([]bool, 0, n)}
	win := tables.OutColumn{Name: "window_days", Type: tables.OutInt32, I32: make([]int32, 0, n)}
	ints := make([]tables.OutColumn, 4)
	for i, name := range []string{"customers", "converters", "buyers", "retained"} {
		ints[i] = tables.OutColumn{Name: name, Type: tables.OutInt64, I64: make([]int64, 0, n)}
	}
	conv, rev, rpc, ret, churn := newNum("conversion_rate", n), newNum("revenue", n), newNum("revenue_per_customer", n),
		newNum("retention", n), newNum("churn", n)
	for _, s := range m.Segments {
		for _, r := range s.Rows {
			asOf.I32 = append(asOf.I32, asOfDay)
			earlier.I32 = append(earlier.I32, dayOf(s.EarlierAsOf))
			typ.Str = append(typ.Str, r.SegmentType)
			seg.Str = append(seg.Str, r.Segment)
			var id int32
			if r.ClusterID != nil {
				id = *r.ClusterID
			}
			cid.I32 = append(cid.I32, id)
			cid.Null = append(cid.Null, r.ClusterID == nil)
			win.I32 = append(win.I32, int32(r.WindowDays))
			for i, v := range []int{r.Customers, r.Converters, r.Buyers, r.Retained} {
				ints[i].I64 = append(ints[i].I64, int64(v))
			}
			conv.add(r.ConversionRate)
			rev.add(r.Revenue)
			rpc.add(r.RevenuePerCustomer)
			ret.add(r.Retention)
			churn.add(r.Churn)
		}
	}
	return []tables.OutColumn{asOf, earlier, typ, seg, cid, win, ints[0], ints[1], conv.OutColumn, rev.OutColumn, rpc.OutColumn,
		ints[2], ints[3], ret.OutColumn, churn.OutColumn}
}

// backtestColumns is clv_backtest: measure.Backtest's rows.
func backtestColumns(m *MeasureModel, asOfDay int32) []tables.OutColumn {
	var rows []BacktestRow
	var earlierDay int32
	if m.Backtest != nil {
		rows, earlierDay = m.Backtest.Rows, dayOf(m.Backtest.EarlierAsOf)
	}
	n := len(rows)
	asOf := tables.OutColumn{Name: "as_of", Type: tables.OutDate, I32: tables.Repeat(asOfDay, n)}
	earlier := tables.OutColumn{Name: "earlier_as_of", Type: tables.OutDate, I32: tables.Repeat(earlierDay, n)}
	metric := tables.OutColumn{Name: "metric", Type: tables.OutString, Str: make([]string, 0, n)}
	decile := tables.OutColumn{Name: "decile", Type: tables.OutInt32, I32: make([]int32, 0, n)}
	customers := tables.OutColumn{Name: "customers", Type: tables.OutInt64, I64: make([]int64, 0, n)}
	hz, pm, am, ps, as, ce, gini := newNum("horizon_days", n), newNum("predicted_mean", n), newNum("actual_mean", n),
		newNum("predicted_sum", n), newNum("actual_sum", n), newNum("calibration_error", n), newNum("gini", n)
	for _, r := range rows {
		metric.Str = append(metric.Str, r.Metric)
		decile.I32 = append(decile.I32, int32(r.Decile))
		customers.I64 = append(customers.I64, int64(r.Customers))
		hz.add(r.HorizonDays)
		pm.add(r.PredictedMean)
		am.add(r.ActualMean)
		ps.add(r.PredictedSum)
		as.add(r.ActualSum)
		ce.add(r.CalibrationError)
		gini.add(r.Gini)
	}
	return []tables.OutColumn{asOf, earlier, metric, hz.OutColumn, decile, customers, pm.OutColumn, am.OutColumn,
		ps.OutColumn, as.OutColumn, ce.OutColumn, gini.OutColumn}
}

// segmentReport is the report's segment-KPI table (the RFM segments over
// the longest window measured) and the backtest's summary.
func segmentReport(m *MeasureModel) []report.Table {
	var out []report.Table
	if k := len(m.Segments); k > 0 {
		// The oldest run measured has the longest windows.
		s := m.Segments[0]
		w := s.Windows[len(s.Windows)-1]
		t := report.Table{Title: fmt.Sprintf("Segments of %s over the %d days after", s.EarlierAsOf, w),
			Note: "What each RFM segment of the earlier run did next: conversion, revenue per customer, retention of its buyers."}
		for _, r := range s.Rows {
			if r.SegmentType != measure.SegmentRFM || r.WindowDays != w {
				continue
			}
			t.Rows = append(t.Rows, report.KV{Key: r.Segment, Value: fmt.Sprintf("%d customers; conversion %s; revenue per customer %s; retention %s",
				r.Customers, pct(r.ConversionRate), fig(r.RevenuePerCustomer), pct(r.Retention))})
		}
		out = append(out, t)
	}
	if b := m.Backtest; b != nil {
		t := report.Table{Title: "CLV backtest of the run of " + b.EarlierAsOf, Note: b.Status}
		for _, r := range b.Rows {
			if r.Decile == 1 {
				t.Rows = append(t.Rows, report.KV{Key: r.Metric, Value: fmt.Sprintf("calibration error %s, Gini %s",
					fig(r.CalibrationError), fig(r.Gini))})
			}
		}
		out = append(out, t)
	}
	return out
}
