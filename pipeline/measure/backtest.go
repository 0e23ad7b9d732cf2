package measure

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// DaysPerMonth is the month of the CLV horizon and its discounting, the
// mean Gregorian month, as the pipeline's CLV stage uses.
const DaysPerMonth = 365.2425 / 12

// The values of clv_backtest's metric.
const (
	MetricPurchases = "expected_purchases"
	MetricCLV       = "clv"
)

// Horizon is what the earlier run predicted over, from its model.json.
type Horizon struct {
	Months             int
	Margin             float64
	AnnualDiscountRate float64
}

// BacktestRow is one row of clv_backtest.
type BacktestRow struct {
	Metric      string
	HorizonDays float64
	Decile      int // 1 holds the highest predictions
	Customers   int

	PredictedMean, ActualMean float64
	PredictedSum, ActualSum   float64

	// Over all deciles of the metric (package doc).
	CalibrationError, Gini float64
}

// Backtest compares the earlier run's expected_purchases and clv with what
// its customers did over the horizon after its cutoff, once the horizon
// has elapsed by the cutoff of asOf; before that it returns no rows.
func Backtest(ctx context.Context, c *Customers, h *History, earlierAsOf, asOf time.Time, hz Horizon) ([]BacktestRow, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if hz.Months <= 0 || !(hz.Margin > 0) || !(hz.AnnualDiscountRate > -1) {
		return nil, fmt.Errorf("backtest: invalid horizon %+v", hz)
	}
	month := time.Duration(DaysPerMonth * 24 * float64(time.Hour))
	start := h.Cutoff(earlierAsOf)
	end := start.Add(time.Duration(hz.Months) * month)
	if end.After(h.Cutoff(asOf)) {
		return nil, nil
	}
	monthly := math.Pow(1+hz.AnnualDiscountRate, 1.0/12) - 1
	n := len(c.ID)
	days, value := make([]float64, n), make([]float64, n)
	for i, id := range c.ID {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("backtest: %w", err)
			}
		}
		var last time.Time
		for _, o := range h.by[id] {
			if o.at.Before(start) {
				continue
			}
			if !o.at.Before(end) {
				break
			}
			if o.purchase() {
				if d := h.day(o.at); !d.Equal(last) {
					days[i]++
					last = d
				}
			}
			k := int(o.at.Sub(start)/month) + 1
			value[i] += hz.Margin * o.net / math.Pow(1+monthly, float64(k))
		}
	}
	horizonDays := float64(hz.Months) * DaysPerMonth
	var rows []BacktestRow
	for _, m := range []struct {
		name         string
		pred, actual []float64
	}{{MetricPurchases, c.ExpectedPurchases, days}, {MetricCLV, c.CLV, value}} {
		rows = append(rows, deciles(m.name, horizonDays, c.ID, m.pred, m.actual)...)
	}
	return rows, nil
}

// deciles returns the ten (or, with fewer than ten customers, fewer)
// decile rows of one metric.
func deciles(metric string, horizonDays float64, ids []string, pred, actual []float64) []BacktestRow {
	var idx []int
	for i, p := range pred {
		if !math.IsNaN(p) {
			idx = append(idx, i)
		}
	}
	n := len(idx)
	if n == 0 {
		return nil
	}
	rank := func(v []float64) []int {
		o := slices.Clone(idx)
		slices.SortFunc(o, func(i, j int) int {
			if c := cmp.Compare(v[j], v[i]); c != 0 {
				return c
			}
			return strings.Compare(ids[i], ids[j])
		})
		return o
	}
	byPred := rank(pred)
	var rows []BacktestRow
	for r, i := range byPred {
		d := 1 + 10*r/n
		if len(rows) == 0 || rows[len(rows)-1].Decile != d {
			rows = append(rows, BacktestRow{Metric: metric, HorizonDays: horizonDays, Decile: d})
		}
		row := &rows[len(rows)-1]
		row.Customers++
		row.PredictedSum += pred[i]
		row.ActualSum += actual[i]
	}
	var ce float64
	for k := range rows {
		r := &rows[k]
		r.PredictedMean = r.PredictedSum / float64(r.Customers)
		r.ActualMean = r.ActualSum / float64(r.Customers)
		ce += float64(r.Customers) / float64(n) * math.Abs(r.PredictedMean-r.ActualMean)
	}
	gini := gain(byPred, actual) / gain(rank(actual), actual)
	if math.IsInf(gini, 0) {
		gini = math.NaN()
	}
	for k := range rows {
		rows[k].CalibrationError, rows[k].Gini = ce, gini
	}
	return rows
}

// gain is G(order) = Σ_i (C_i − i/n) of the package doc; NaN when the
// actual total is not positive.
func gain(order []int, actual []float64) float64 {
	var total float64
	for _, i := range order {
		total += actual[i]
	}
	if !(total > 0) {
		return math.NaN()
	}
	n := float64(len(order))
	var cum, g float64
	for k, i := range order {
		cum += actual[i]
		g += cum/total - float64(k+1)/n
	}
	return g
}
