package jobs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/strata-oss/strata/models/clv"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/stages"
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
	// Model is "auto" (the default: chosen by holdout, see FitCLV) or a
	// model FitPurchaseModel knows: "bgnbd", "mbgnbd", "pnbd", "nbd".
	Model string
	// SelectBy is the holdout score of "auto": "loglik" (default) or "mae".
	SelectBy string
	// HoldoutDays is the window "auto" holds out when CalibrationEnd is
	// not given; 0 means 90. It is cut to a third of the history when the
	// history is short.
	HoldoutDays int
	// Predictions, when set, is a .csv or .parquet file (local or s3://)
	// that receives every customer's predictions; see writePredictions.
	Predictions string
	// HorizonMonths is the horizon of expected_purchases and clv; 0 means 12.
	HorizonMonths int
	// Level is the nominal coverage of the intervals; 0 means 0.9.
	Level float64
	// Draws is the number of parameter draws behind the intervals; 0 means 200.
	Draws int
	// Margin (0 means 1) and AnnualDiscountRate value the CLV as the run does.
	Margin, AnnualDiscountRate float64
	// Seed seeds the parameter draws: the same inputs and seed give the
	// same file, byte for byte.
	Seed    uint64
	Workers int
}

// CLVCandidate is one purchase model scored by "auto" on the holdout.
type CLVCandidate struct {
	Model         string             `json:"model"`
	Scored        string             `json:"scored,omitempty"` // "nbd" when the fit found no drop-out and its NBD limit was scored
	Params        map[string]float64 `json:"params,omitempty"`
	LogLik        float64            `json:"log_likelihood"`
	HoldoutLogLik float64            `json:"holdout_log_likelihood"`
	HoldoutMAE    float64            `json:"holdout_mae"`
	Error         string             `json:"error,omitempty"`
}

// CLVSelection records how "auto" chose the purchase model.
type CLVSelection struct {
	Metric         string         `json:"metric"`
	CalibrationEnd string         `json:"calibration_end"`
	HoldoutDays    int            `json:"holdout_days"`
	Chosen         string         `json:"chosen"`
	Reason         string         `json:"reason"`
	Candidates     []CLVCandidate `json:"candidates"`
}

// CLVReport is what `strata clv` prints.
type CLVReport struct {
	Input          string               `json:"input"`
	Rows           int64                `json:"rows"`
	SkippedRows    int64                `json:"skipped_rows"`
	Customers      int                  `json:"customers"`
	Repeaters      int                  `json:"repeaters"`
	FirstDate      string               `json:"first_date"`
	LastDate       string               `json:"last_date"`
	CalibrationEnd string               `json:"calibration_end"`
	TimeUnitDays   float64              `json:"time_unit_days"`
	PurchaseModel  string               `json:"purchase_model"`
	Params         map[string]float64   `json:"params"`
	LogLik         float64              `json:"log_likelihood"`
	Fit            stages.FitInfo       `json:"fit"`
	FitSeconds     float64              `json:"fit_seconds"`
	Spend          *stages.SpendModel   `json:"spend_model,omitempty"`
	Holdout        *stages.HoldoutCheck `json:"holdout,omitempty"`
	Selection      *CLVSelection        `json:"selection,omitempty"`
	// Predictions is the file written, with what it holds.
	Predictions *CLVPredictionsInfo `json:"predictions,omitempty"`
}

// FitCLV fits a lifetime-value model on one transactions file: the
// summary follows Fader & Hardie's conventions (same-day purchases merged,
// the first purchase not counted, the calibration end inclusive).
//
// A named model is fitted on the history up to the calibration end and,
// when the file runs past it, checked on the rest. "auto" instead splits
// the history at the calibration end (or HoldoutDays before the last day),
// lets clv.SelectPurchaseModel choose on that split, and refits the
// winner on the whole history: the model and any predictions are as of
// the last day, as a marketer wants them, while the choice and the
// holdout check were made on data the candidates had not seen.
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
		model = "auto"
	}
	switch model {
	case "auto", "bgnbd", "mbgnbd", "pnbd", "nbd":
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("--model must be auto, bgnbd, mbgnbd, pnbd or nbd, got %q", model)}
	}
	metric := clv.HoldoutLogLik
	switch o.SelectBy {
	case "", "loglik":
	case "mae":
		metric = clv.HoldoutMAE
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("--select-by must be loglik or mae, got %q", o.SelectBy)}
	}
	if o.Predictions != "" {
		if _, err := outFormat("--predictions", o.Predictions); err != nil {
			return nil, err
		}
	}
	if o.Level != 0 && !(o.Level > 0 && o.Level < 1) {
		return nil, &UsageError{Msg: fmt.Sprintf("--level %v: want a coverage in (0, 1), e.g. 0.9", o.Level)}
	}
	if o.HorizonMonths < 0 || o.Draws < 0 || o.Margin < 0 || o.Margin > 1 || o.AnnualDiscountRate < 0 || o.HoldoutDays < 0 {
		return nil, &UsageError{Msg: "--horizon-months, --draws, --holdout-days and --annual-discount-rate must not be negative, --margin in (0, 1]"}
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
	var ids []string
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
				ids = append(ids, id.Str[i])
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
			return nil, &UsageError{Msg: fmt.Sprintf("--calibration-end %s is before the first purchase (%s)", o.CalibrationEnd.Format(time.DateOnly), features.DayDate(first))}
		}
	}
	rep.FirstDate, rep.LastDate = features.DayDate(first), features.DayDate(last)
	tx := &transactions{ids: ids, cust: cust, day: day, amount: amount, first: first, last: last, unit: unit}

	var pm clv.PurchaseModel
	var fitted *summaryRows
	if model == "auto" {
		// Choose on a calibration/holdout split, then refit the winner on
		// the whole history: the predictions are as of the last day.
		if o.CalibrationEnd.IsZero() {
			hold := o.HoldoutDays
			if hold == 0 {
				hold = 90
			}
			hold = min(hold, int(last-first)/3)
			if hold < 1 {
				return nil, &UsageError{Msg: fmt.Sprintf("%s spans %d days, too short to hold any out for --model auto; name a model", o.Input, last-first)}
			}
			calEnd = last - int32(hold)
		}
		if calEnd >= last {
			return nil, &UsageError{Msg: fmt.Sprintf("--calibration-end %s leaves no holdout after it for --model auto (last purchase %s)", features.DayDate(calEnd), features.DayDate(last))}
		}
		cal, err := tx.summary(calEnd)
		if err != nil {
			return nil, err
		}
		actual, err := tx.holdout(cal, calEnd)
		if err != nil {
			return nil, err
		}
		tau := float64(last-calEnd) / unit
		start := time.Now()
		sel, err := clv.SelectPurchaseModel(ctx, cal.x, cal.tx, cal.T, actual, tau, clv.SelectOptions{Metric: metric, Fit: clv.FitOptions{Workers: o.Workers}})
		if err != nil {
			return nil, fmt.Errorf("choose a purchase model for %s: %w", o.Input, err)
		}
		rs := &CLVSelection{Metric: metric.String(), CalibrationEnd: features.DayDate(calEnd), HoldoutDays: int(last - calEnd), Chosen: sel.Model.Name(), Reason: sel.Reason}
		for _, c := range sel.Candidates {
			rc := CLVCandidate{Model: c.Name, LogLik: c.LogLik, HoldoutLogLik: c.HoldoutLogLik, HoldoutMAE: c.HoldoutMAE}
			if c.Model != nil {
				rc.Params = c.Model.Params()
				if c.NoDropout {
					rc.Scored = c.Model.Name()
				}
			} else if c.Err != nil {
				rc.Error = c.Err.Error()
			}
			rs.Candidates = append(rs.Candidates, rc)
		}
		rep.Selection = rs
		if rep.Holdout, err = holdoutCheck(ctx, sel.Model, cal, actual, calEnd, last, tau, o.Workers); err != nil {
			return nil, err
		}
		if fitted, err = tx.summary(last); err != nil {
			return nil, err
		}
		// The winner's name: the NBD when a drop-out model won with its
		// no-drop-out limit.
		var res clv.FitResult
		pm, res, err = clv.FitPurchaseModel(ctx, sel.Model.Name(), fitted.x, fitted.tx, fitted.T, clv.FitOptions{Workers: o.Workers})
		var nd *clv.NoDropoutError
		if errors.As(err, &nd) {
			pm, res, err = nd.NBD, nd.NBDFit, nil
		}
		if err != nil {
			return nil, fmt.Errorf("refit %s on the whole history of %s: %w", sel.Model.Name(), o.Input, err)
		}
		rep.FitSeconds = time.Since(start).Seconds()
		rep.setFit(pm, res)
		calEnd = last
	} else {
		var err error
		if fitted, err = tx.summary(calEnd); err != nil {
			return nil, err
		}
		start := time.Now()
		var res clv.FitResult
		pm, res, err = clv.FitPurchaseModel(ctx, model, fitted.x, fitted.tx, fitted.T, clv.FitOptions{Workers: o.Workers})
		if err != nil {
			return nil, fmt.Errorf("fit %s on %s: %w", model, o.Input, err)
		}
		rep.FitSeconds = time.Since(start).Seconds()
		rep.setFit(pm, res)
		if last > calEnd {
			actual, err := tx.holdout(fitted, calEnd)
			if err != nil {
				return nil, err
			}
			if rep.Holdout, err = holdoutCheck(ctx, pm, fitted, actual, calEnd, last, float64(last-calEnd)/unit, o.Workers); err != nil {
				return nil, err
			}
		}
	}
	rep.CalibrationEnd = features.DayDate(calEnd)
	rep.Customers, rep.Repeaters = len(fitted.rows), 0
	for _, v := range fitted.x {
		if v > 0 {
			rep.Repeaters++
		}
	}
	var gg *clv.GammaGamma
	if o.AmountCol != "" {
		g, gr, err := clv.FitGammaGamma(ctx, fitted.x, fitted.spend, clv.FitOptions{Workers: o.Workers})
		if err != nil {
			return nil, fmt.Errorf("fit gamma-gamma on %s: %w", o.Input, err)
		}
		gg = &g
		rep.Spend = &stages.SpendModel{Model: "gamma-gamma", Params: g.Params(), LogLik: gr.LogLik, Fit: stages.FitInfo{
			Method: gr.Method, Iterations: gr.Iterations, FuncEvals: gr.FuncEvals, GradNorm: gr.GradNorm,
			N: gr.N, Distinct: gr.Distinct, Excluded: gr.Excluded,
		}}
	}
	if o.Predictions != "" {
		info, err := writePredictions(ctx, o, pm, gg, tx, fitted)
		if err != nil {
			return nil, err
		}
		rep.Predictions = info
	}
	return rep, nil
}

func (rep *CLVReport) setFit(pm clv.PurchaseModel, res clv.FitResult) {
	rep.PurchaseModel = pm.Name()
	rep.Params, rep.LogLik, rep.Fit = pm.Params(), res.LogLik, stages.FitInfo{
		Method: res.Method, Iterations: res.Iterations, FuncEvals: res.FuncEvals, GradNorm: res.GradNorm,
		N: res.N, Distinct: res.Distinct, Excluded: res.Excluded,
	}
}

// transactions are the usable rows of the input: customer cust[j] (an
// index into ids, in order of first appearance) bought amount[j] on day
// day[j].
type transactions struct {
	ids         []string
	cust, day   []int32
	amount      []float64
	first, last int32
	unit        float64
}

// summaryRows are the summaries of the customers who had bought by a
// calibration end: rows[i] is the customer (index into ids) of x[i] etc.
type summaryRows struct {
	rows            []int
	x, tx, T, spend []float64
	calEnd          int32
}

func (t *transactions) summary(calEnd int32) (*summaryRows, error) {
	sum, err := clv.Summarize(t.cust, t.day, t.amount, len(t.ids), calEnd, t.unit)
	if err != nil {
		return nil, fmt.Errorf("summarise purchases to %s: %w", features.DayDate(calEnd), err)
	}
	s := &summaryRows{calEnd: calEnd}
	for c, p := range sum.Present {
		if p {
			s.rows = append(s.rows, c)
			s.x, s.tx, s.T, s.spend = append(s.x, sum.X[c]), append(s.tx, sum.Tx[c]), append(s.T, sum.T[c]), append(s.spend, sum.MeanSpend[c])
		}
	}
	return s, nil
}

// holdout returns the purchase days of s's customers after calEnd.
func (t *transactions) holdout(s *summaryRows, calEnd int32) ([]float64, error) {
	all, err := clv.HoldoutCounts(t.cust, t.day, len(t.ids), calEnd, t.last)
	if err != nil {
		return nil, fmt.Errorf("count holdout purchases: %w", err)
	}
	out := make([]float64, len(s.rows))
	for i, r := range s.rows {
		out[i] = all[r]
	}
	return out, nil
}

func holdoutCheck(ctx context.Context, pm clv.PurchaseModel, s *summaryRows, actual []float64, calEnd, last int32, tau float64, workers int) (*stages.HoldoutCheck, error) {
	h := &stages.HoldoutCheck{CalibrationEnd: features.DayDate(calEnd), Days: int(last - calEnd), Customers: len(s.rows), Model: pm.Name()}
	pred, err := clv.ExpectedPurchasesAll(ctx, pm, tau, s.x, s.tx, s.T, workers)
	if err != nil {
		return nil, err
	}
	chk, err := clv.CalibrationCheck(pred, actual)
	if err != nil {
		return nil, err
	}
	h.MAE, h.Predicted, h.Actual, h.RelErr = chk.MAE, chk.Predicted, chk.Actual, chk.RelErr
	return h, nil
}
