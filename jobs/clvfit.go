package jobs

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/strata-oss/strata/models/clv"
	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/tables"
)

// CLVOptions says what `strata clv` fits.
type CLVOptions struct {
	Input                           string // a CSV or Parquet file, local or s3://
	CustomerCol, DateCol, AmountCol string // AmountCol "" skips the spend model
	// CalibrationEnd is the last day (inclusive) of the fitting window; the
	// zero value means the last day in the data. Later purchases form the
	// holdout the fit is checked against.
	CalibrationEnd time.Time
	TimeUnit       string // "week" (default) or "day"
	Model          string // "bgnbd" (default), "mbgnbd", "pnbd"
	Workers        int
}

// CLVReport is what `strata clv` prints.
type CLVReport struct {
	Input          string                 `json:"input"`
	Rows           int64                  `json:"rows"`
	SkippedRows    int64                  `json:"skipped_rows"`
	Customers      int                    `json:"customers"`
	Repeaters      int                    `json:"repeaters"`
	FirstDate      string                 `json:"first_date"`
	LastDate       string                 `json:"last_date"`
	CalibrationEnd string                 `json:"calibration_end"`
	TimeUnitDays   float64                `json:"time_unit_days"`
	PurchaseModel  string                 `json:"purchase_model"`
	Params         map[string]float64     `json:"params"`
	LogLik         float64                `json:"log_likelihood"`
	Fit            pipeline.FitInfo       `json:"fit"`
	FitSeconds     float64                `json:"fit_seconds"`
	Spend          *pipeline.SpendModel   `json:"spend_model,omitempty"`
	Holdout        *pipeline.HoldoutCheck `json:"holdout,omitempty"`
}

// FitCLV fits a lifetime-value model on one transactions file: the
// summary follows Fader & Hardie's conventions (same-day purchases merged,
// the first purchase not counted, the calibration end inclusive).
func FitCLV(ctx context.Context, o CLVOptions) (*CLVReport, error) {
	if o.Input == "" || o.CustomerCol == "" || o.DateCol == "" {
		return nil, &UsageError{Msg: "--input, --customer-col and --date-col are required"}
	}
	unit := 7.0
	switch o.TimeUnit {
	case "", "week":
	case "day":
		unit = 1
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("--time-unit must be day or week, got %q", o.TimeUnit)}
	}
	model := o.Model
	if model == "" {
		model = "bgnbd"
	}
	switch model {
	case "bgnbd", "mbgnbd", "pnbd":
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("--model must be bgnbd, mbgnbd or pnbd, got %q", model)}
	}

	fields := []tables.Field{
		{Name: "customer_id", Kind: tables.String, Required: true},
		{Name: "date", Kind: tables.Time, Required: true},
	}
	cols := map[string]string{"customer_id": o.CustomerCol, "date": o.DateCol}
	if o.AmountCol != "" {
		fields = append(fields, tables.Field{Name: "amount", Kind: tables.Float, Required: true})
		cols["amount"] = o.AmountCol
	}
	rep := &CLVReport{Input: o.Input, TimeUnitDays: unit, PurchaseModel: model}
	index := map[string]int32{}
	var cust, day []int32
	var amount []float64
	err := scanFile(ctx, o.Input, cols, fields, func(b *tables.Batch) error {
		id, ts := &b.Cols[0], &b.Cols[1]
		for i := 0; i < b.N; i++ {
			rep.Rows++
			bad := (b.Malformed != nil && b.Malformed[i] != "") || id.IsNull(i) || id.Str[i] == "" || ts.IsNull(i)
			a := 0.0
			if o.AmountCol != "" {
				am := &b.Cols[2]
				bad = bad || am.IsNull(i) || math.IsNaN(am.F[i]) || math.IsInf(am.F[i], 0) || am.F[i] < 0
				if !bad {
					a = am.F[i]
				}
			}
			if bad {
				rep.SkippedRows++
				continue
			}
			c, ok := index[id.Str[i]]
			if !ok {
				c = int32(len(index))
				index[id.Str[i]] = c
			}
			cust = append(cust, c)
			day = append(day, features.DayNumber(ts.I[i], time.UTC))
			amount = append(amount, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(day) == 0 {
		return nil, fmt.Errorf("%s: no usable transactions (%d rows, %d skipped)", o.Input, rep.Rows, rep.SkippedRows)
	}
	first, last := day[0], day[0]
	for _, d := range day {
		first, last = min(first, d), max(last, d)
	}
	calEnd := last
	if !o.CalibrationEnd.IsZero() {
		calEnd = features.DayNumber(o.CalibrationEnd.UnixMicro(), time.UTC)
		if calEnd < first {
			return nil, &UsageError{Msg: fmt.Sprintf("--calibration-end %s is before the first purchase (%s)", o.CalibrationEnd.Format(time.DateOnly), pipeline.DayDate(first))}
		}
	}
	rep.FirstDate, rep.LastDate, rep.CalibrationEnd = pipeline.DayDate(first), pipeline.DayDate(last), pipeline.DayDate(calEnd)

	n := len(index)
	sum, err := clv.Summarize(cust, day, amount, n, calEnd, unit)
	if err != nil {
		return nil, err
	}
	var rows []int
	for c, p := range sum.Present {
		if p {
			rows = append(rows, c)
			if sum.X[c] > 0 {
				rep.Repeaters++
			}
		}
	}
	rep.Customers = len(rows)
	pick := func(v []float64) []float64 {
		out := make([]float64, len(rows))
		for i, r := range rows {
			out[i] = v[r]
		}
		return out
	}
	x, tx, T := pick(sum.X), pick(sum.Tx), pick(sum.T)
	start := time.Now()
	opt := clv.FitOptions{}
	pm, res, err := clv.FitPurchaseModel(ctx, model, x, tx, T, opt)
	if err != nil {
		return nil, fmt.Errorf("fit %s on %s: %w", model, o.Input, err)
	}
	rep.FitSeconds = time.Since(start).Seconds()
	rep.Params, rep.LogLik, rep.Fit = pm.Params(), res.LogLik, pipeline.FitInfo{
		Method: res.Method, Iterations: res.Iterations, FuncEvals: res.FuncEvals, GradNorm: res.GradNorm,
		N: res.N, Distinct: res.Distinct, Excluded: res.Excluded,
	}
	if o.AmountCol != "" {
		gg, gr, err := clv.FitGammaGamma(ctx, x, pick(sum.MeanSpend), opt)
		if err != nil {
			return nil, fmt.Errorf("fit gamma-gamma on %s: %w", o.Input, err)
		}
		rep.Spend = &pipeline.SpendModel{Model: "gamma-gamma", Params: gg.Params(), LogLik: gr.LogLik, Fit: pipeline.FitInfo{
			Method: gr.Method, Iterations: gr.Iterations, FuncEvals: gr.FuncEvals, GradNorm: gr.GradNorm,
			N: gr.N, Distinct: gr.Distinct, Excluded: gr.Excluded,
		}}
	}
	if last > calEnd {
		h := &pipeline.HoldoutCheck{CalibrationEnd: rep.CalibrationEnd, Days: int(last - calEnd), Customers: len(rows)}
		pred, err := clv.ExpectedPurchasesAll(ctx, pm, float64(last-calEnd)/unit, x, tx, T, o.Workers)
		if err != nil {
			return nil, err
		}
		actual, err := clv.HoldoutCounts(cust, day, n, calEnd, last)
		if err != nil {
			return nil, err
		}
		chk, err := clv.CalibrationCheck(pred, pick(actual))
		if err != nil {
			return nil, err
		}
		h.MAE, h.Predicted, h.Actual, h.RelErr = chk.MAE, chk.Predicted, chk.Actual, chk.RelErr
		rep.Holdout = h
	}
	return rep, nil
}
