package clv

import (
	"fmt"
	"math"
	"slices"
)

// Summary holds the calibration summary of every customer row.
type Summary struct {
	// X is the number of repeat purchase days, Tx the time from the first
	// to the last purchase day and T the time from the first purchase day
	// to the calibration end, in the unit given to Summarize.
	X, Tx, T []float64
	// MeanSpend is the mean amount of the repeat purchase days (the first
	// day excluded, same-day amounts summed); 0 when X is 0.
	MeanSpend []float64
	// First is the first purchase day, valid where Present.
	First []int32
	// Present is false for customers with no transaction on or before the
	// calibration end; their other fields are zero.
	Present []bool
}

// Summarize builds the calibration summary from columnar transactions.
// Row j says that customer cust[j] (a dense index in [0, nCustomers)) spent
// amount[j] on day day[j] (days since the Unix epoch). Rows may come in any
// order. Rows after calEnd are ignored; calEnd itself is inclusive. Purchases
// on the same day are one purchase with their amounts summed, and the first
// purchase day is not counted, as in the CDNOW reference summaries. unitDays
// is the time unit in days (7 for weeks).
func Summarize(cust []int32, day []int32, amount []float64, nCustomers int, calEnd int32, unitDays float64) (Summary, error) {
	if len(cust) != len(day) || len(cust) != len(amount) {
		return Summary{}, fmt.Errorf("summarize: length mismatch: cust %d, day %d, amount %d", len(cust), len(day), len(amount))
	}
	if !(unitDays > 0) || math.IsInf(unitDays, 0) {
		return Summary{}, fmt.Errorf("summarize: unitDays %v, want positive", unitDays)
	}
	off, rows, err := groupByCustomer(cust, day, nCustomers, calEnd)
	if err != nil {
		return Summary{}, fmt.Errorf("summarize: %w", err)
	}
	s := newSummary(nCustomers)
	var days []int32
	var amounts []float64
	for c := range nCustomers {
		rs := rows[off[c]:off[c+1]]
		days, amounts = days[:0], amounts[:0]
		for _, j := range rs {
			days, amounts = append(days, day[j]), append(amounts, amount[j])
		}
		if err := s.set(c, days, amounts, calEnd, unitDays); err != nil {
			return Summary{}, fmt.Errorf("summarize: customer %d: %w", c, err)
		}
	}
	return s, nil
}

// SummarizeCounts builds the calibration summary from per-customer
// aggregates instead of transactions — what a streaming engine keeps:
// customer c made purchases on days[c] distinct days up to calEnd, the
// first on first[c] and the last on last[c], and spent repeat[c] on the
// days after the first. days[c] = 0 means no purchase by calEnd. repeat
// may be nil (MeanSpend is then zero). From aggregates of the same
// transactions it gives what Summarize gives, but for the rounding of
// the repeat spend, which a streaming sum adds in another order.
func SummarizeCounts(first, last, days []int32, repeat []float64, calEnd int32, unitDays float64) (Summary, error) {
	if err := checkCounts(first, last, days, repeat, unitDays); err != nil {
		return Summary{}, err
	}
	s := newSummary(len(days))
	for c, d := range days {
		if d == 0 {
			continue
		}
		x, tx, T, m, err := countsSummary(c, first[c], last[c], d, repeat, calEnd, unitDays)
		if err != nil {
			return Summary{}, err
		}
		s.Present[c] = true
		s.First[c] = first[c]
		s.X[c], s.Tx[c], s.T[c], s.MeanSpend[c] = x, tx, T, m
	}
	return s, nil
}

// PresentSummary is the calibration summary of the customers with a
// purchase by the calibration end: Rows are their indices, ascending,
// and X, Tx, T and MeanSpend their values, as in Summary.
type PresentSummary struct {
	Rows                []int
	X, Tx, T, MeanSpend []float64
}

// SummarizeCountsPresent is SummarizeCounts gathered to the present
// customers, the rows a fit uses: the same values, bit for bit, without
// the whole-population columns (37 bytes a customer) a gather would copy
// them from.
func SummarizeCountsPresent(first, last, days []int32, repeat []float64, calEnd int32, unitDays float64) (PresentSummary, error) {
	if err := checkCounts(first, last, days, repeat, unitDays); err != nil {
		return PresentSummary{}, err
	}
	n := 0
	for _, d := range days {
		if d != 0 {
			n++
		}
	}
	s := PresentSummary{Rows: make([]int, 0, n),
		X: make([]float64, 0, n), Tx: make([]float64, 0, n), T: make([]float64, 0, n), MeanSpend: make([]float64, 0, n)}
	for c, d := range days {
		if d == 0 {
			continue
		}
		x, tx, T, m, err := countsSummary(c, first[c], last[c], d, repeat, calEnd, unitDays)
		if err != nil {
			return PresentSummary{}, err
		}
		s.Rows = append(s.Rows, c)
		s.X, s.Tx, s.T, s.MeanSpend = append(s.X, x), append(s.Tx, tx), append(s.T, T), append(s.MeanSpend, m)
	}
	return s, nil
}

// checkCounts validates the arguments of SummarizeCounts.
func checkCounts(first, last, days []int32, repeat []float64, unitDays float64) error {
	n := len(days)
	if len(first) != n || len(last) != n || (repeat != nil && len(repeat) != n) {
		return fmt.Errorf("summarize counts: length mismatch: first %d, last %d, days %d, repeat %d",
			len(first), len(last), n, len(repeat))
	}
	if !(unitDays > 0) || math.IsInf(unitDays, 0) {
		return fmt.Errorf("summarize counts: unitDays %v, want positive", unitDays)
	}
	return nil
}

// countsSummary returns the summary of customer c, who bought on d > 0
// distinct days from day f to day l: x = d-1, t_x = (l-f)/unit,
// T = (calEnd-f)/unit and the mean repeat spend repeat[c]/(d-1) (0 for
// d = 1 or nil repeat).
func countsSummary(c int, f, l, d int32, repeat []float64, calEnd int32, unitDays float64) (x, tx, T, m float64, err error) {
	if d < 0 || f > l || l > calEnd || (d == 1 && f != l) || int64(d) > int64(l)-int64(f)+1 {
		return 0, 0, 0, 0, fmt.Errorf("summarize counts: customer %d: %d days from %d to %d, calibration end %d", c, d, f, l, calEnd)
	}
	if repeat != nil && d > 1 {
		if r := repeat[c]; math.IsNaN(r) || math.IsInf(r, 0) {
			return 0, 0, 0, 0, fmt.Errorf("summarize counts: customer %d: repeat spend %v", c, r)
		}
		m = repeat[c] / float64(d-1)
	}
	return float64(d - 1), float64(l-f) / unitDays, float64(calEnd-f) / unitDays, m, nil
}

func newSummary(n int) Summary {
	return Summary{
		X: make([]float64, n), Tx: make([]float64, n), T: make([]float64, n),
		MeanSpend: make([]float64, n), First: make([]int32, n), Present: make([]bool, n),
	}
}

// set summarises customer c from their transactions up to calEnd, in day
// order.
func (s *Summary) set(c int, days []int32, amounts []float64, calEnd int32, unitDays float64) error {
	if len(days) == 0 {
		return nil
	}
	for k, a := range amounts {
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return fmt.Errorf("day %d: amount %v", days[k], a)
		}
	}
	first, last := days[0], days[0]
	var nDays int
	var repeat float64
	for k, d := range days {
		if d == first {
			continue
		}
		if k == 0 || d != days[k-1] {
			nDays++
			last = d
		}
		repeat += amounts[k]
	}
	s.Present[c] = true
	s.First[c] = first
	s.X[c] = float64(nDays)
	s.Tx[c] = float64(last-first) / unitDays
	s.T[c] = float64(calEnd-first) / unitDays
	if nDays > 0 {
		s.MeanSpend[c] = repeat / float64(nDays)
	}
	return nil
}

// groupByCustomer returns the indices of rows with day <= end grouped by
// customer (rows[off[c]:off[c+1]] for customer c), each group sorted by
// day. A counting sort keeps this linear in the number of rows; groups are
// usually short and already in order.
func groupByCustomer(cust, day []int32, nCustomers int, end int32) (off []int, rows []int32, err error) {
	if nCustomers < 0 {
		return nil, nil, fmt.Errorf("nCustomers %d", nCustomers)
	}
	if len(cust) > math.MaxInt32 {
		return nil, nil, fmt.Errorf("%d rows exceed the int32 row index", len(cust))
	}
	off = make([]int, nCustomers+1)
	for j, c := range cust {
		if c < 0 || int(c) >= nCustomers {
			return nil, nil, fmt.Errorf("row %d: customer %d outside [0, %d)", j, c, nCustomers)
		}
		if day[j] <= end {
			off[c+1]++
		}
	}
	for c := range nCustomers {
		off[c+1] += off[c]
	}
	rows = make([]int32, off[nCustomers])
	next := slices.Clone(off[:nCustomers])
	for j, c := range cust {
		if day[j] <= end {
			rows[next[c]] = int32(j)
			next[c]++
		}
	}
	for c := range nCustomers {
		g := rows[off[c]:off[c+1]]
		if !slices.IsSortedFunc(g, func(a, b int32) int { return int(day[a]) - int(day[b]) }) {
			// Stable, so same-day rows keep input order and sums are reproducible.
			slices.SortStableFunc(g, func(a, b int32) int { return int(day[a]) - int(day[b]) })
		}
	}
	return off, rows, nil
}

// HoldoutCounts returns, for each customer present in calibration (a
// transaction on or before calEnd), the number of distinct purchase days in
// (calEnd, holdoutEnd]. Those are all repeat purchases, comparable with
// ExpectedPurchases over the holdout length. Customers absent from
// calibration have no summary to predict from and get 0.
func HoldoutCounts(cust []int32, day []int32, nCustomers int, calEnd, holdoutEnd int32) ([]float64, error) {
	if len(cust) != len(day) {
		return nil, fmt.Errorf("holdout counts: length mismatch: cust %d, day %d", len(cust), len(day))
	}
	if holdoutEnd < calEnd {
		return nil, fmt.Errorf("holdout counts: holdout end %d before calibration end %d", holdoutEnd, calEnd)
	}
	off, rows, err := groupByCustomer(cust, day, nCustomers, holdoutEnd)
	if err != nil {
		return nil, fmt.Errorf("holdout counts: %w", err)
	}
	out := make([]float64, nCustomers)
	for c := range nCustomers {
		rs := rows[off[c]:off[c+1]]
		if len(rs) == 0 || day[rs[0]] > calEnd {
			continue
		}
		n := 0
		for k, j := range rs {
			if d := day[j]; d > calEnd && d != day[rs[k-1]] {
				n++
			}
		}
		out[c] = float64(n)
	}
	return out, nil
}

// Check compares per-customer predictions with holdout actuals.
type Check struct {
	N int
	// MAE is the mean absolute per-customer error.
	MAE float64
	// Predicted and Actual are the totals; RelErr is (Predicted-Actual)/Actual.
	Predicted, Actual, RelErr float64
}

// CalibrationCheck returns the per-customer and aggregate error of pred
// against actual.
func CalibrationCheck(pred, actual []float64) (Check, error) {
	if len(pred) != len(actual) {
		return Check{}, fmt.Errorf("calibration check: length mismatch: pred %d, actual %d", len(pred), len(actual))
	}
	if len(pred) == 0 {
		return Check{}, fmt.Errorf("calibration check: no customers")
	}
	c := Check{N: len(pred)}
	for i := range pred {
		c.MAE += math.Abs(pred[i] - actual[i])
		c.Predicted += pred[i]
		c.Actual += actual[i]
	}
	c.MAE /= float64(c.N)
	c.RelErr = (c.Predicted - c.Actual) / c.Actual
	return c, nil
}
