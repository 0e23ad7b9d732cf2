// Package features is Strata's columnar feature engine: it reads a run's
// inputs as of a date (through package extract) and turns them into
// per-customer features — one dense slice per feature, indexed by the
// customer's row in the dataset's dictionary.
//
// The engine streams: Parquet row groups are decoded by a bounded pool of
// workers and every accepted row is folded at once into per-customer
// running aggregates, held in flat slices by shards that each own the
// customers whose id hashes to them. No order is kept, so memory grows
// with customers, not orders. Every customer's aggregates are
// updated in input order and every global statistic is summed in customer
// order, so the features are the same, to the bit, for any number of
// workers.
//
// Features (Table, with Feature metadata on each column):
//
//   - behavioural, from orders: recency_days, frequency (orders),
//     purchase_days (distinct days), monetary_value (net of refunds),
//     avg_order_value and max_order_value (purchases), tenure_days (since
//     signup or first purchase), gap_mean_days and gap_std_days (between
//     consecutive distinct purchase days; population std), orders_<w>d and
//     spend_<w>d per trailing window (net spend), refund_rate (refund rows
//     per purchase), cat_share_* (share of purchase spend, top categories
//     plus other) and channel_share_* (share of orders);
//   - behavioural, from events: email_opens, email_clicks, sessions, all
//     time and per window, and days_since_last_event;
//   - demographic: age_years (completed years at the as-of date) and
//     age_band_*, income and income_band_*, gender_*, education_*,
//     occupation_* (one-hot);
//   - geographic: country_* (one-hot), region_freq, city_freq,
//     postal_code_freq (frequency encoding);
//   - psychographic: interest_* (multi-hot, top interests),
//     interests_unknown, email_opt_in;
//   - technographic: device_*, os_* (one-hot).
//
// Missing values are explicit: a numeric feature that is undefined (the
// recency of someone who never bought, the age of someone without a birth
// date) is null in its Column, never a zero; a categorical attribute that
// is unknown sets its "<attr>_unknown" indicator. Zeros are real zeros
// (no orders in a window is 0 orders).
//
// Point in time: the stream cuts every table at the end of the as-of day
// in the run's zone, and a customer's attributes are those of the latest
// version (updated_at) at or before it. Days are calendar days in the
// run's zone: an order at 23:30 on D has recency 0.
package features

import (
	"context"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Levels are a categorical column of every customer as codes into Dict,
// -1 when unknown: a column of strings would give the garbage collector a
// header per customer to scan from the features stage to publish.
type Levels struct {
	Codes []int32
	Dict  []string
}

// At is customer i's level, "" when unknown.
func (l Levels) At(i int) string {
	if c := l.Codes[i]; c >= 0 {
		return l.Dict[c]
	}
	return ""
}

// Behaviour holds the RFM family of features in the types the models and
// publishers use; the slices are the Table's columns of the same names.
// Customers without a purchase have HasOrders false, and their recency,
// average and maximum order value are 0 and mean nothing.
type Behaviour struct {
	N int
	// OwnLevels are, by name, each customer's level of the user's own
	// categorical attributes: what audiences filter on.
	OwnLevels map[string]Levels
	// NoAmount: the orders had no amount; Monetary, AvgOrder, MaxOrder
	// and the spends are 0 and mean nothing.
	NoAmount     bool
	HasOrders    []bool
	RecencyDays  []int32   // as-of day − day of the last purchase
	Frequency    []int32   // orders (refunds excluded)
	PurchaseDays []int32   // distinct days with an order
	Monetary     []float64 // net spend: orders minus refunds
	AvgOrder     []float64 // mean order value (refunds excluded)
	MaxOrder     []float64
	TenureDays   []int32 // as-of day − first known day (signup or first order)
	HasTenure    []bool
	FirstOrder   []int64 // µs, extract.NoTime when none
	LastOrder    []int64

	// With Options.Repeat, FirstDay is the day of the first purchase (days
	// since 1970-01-01 in the run's zone; 0 without one) and RepeatSpend
	// the spend of the purchases made after that day (refunds are not
	// purchases and are left out); nil otherwise.
	FirstDay    []int32
	RepeatSpend []float64
	// With Options.CalibrationDays, CalDays and CalLast are the distinct
	// purchase days up to the calibration end (the as-of day minus
	// CalibrationDays) and the last of them (days since 1970-01-01 in the
	// run's zone; 0 when CalDays is 0); nil otherwise.
	CalDays []int32
	CalLast []int32
}

// Run extracts the inputs of spec and computes their features.
func Run(ctx context.Context, spec extract.Spec, opt Options) (*extract.Dataset, *Set, error) {
	agg, err := Extract(ctx, spec, opt)
	if err != nil {
		return nil, nil, err
	}
	set, err := agg.Compute(ctx)
	if err != nil {
		return nil, nil, err
	}
	return agg.Dataset, set, nil
}

// DayDate formats a day number (days since 1970-01-01) as YYYY-MM-DD.
func DayDate(day int32) string { return tables.DayDate(day) }

// DayNumber is the calendar day of instant us in loc, counted from
// 1970-01-01.
func DayNumber(us int64, loc *time.Location) int32 {
	if loc == time.UTC {
		return int32(floorDiv(us, 86_400_000_000))
	}
	y, m, d := time.UnixMicro(us).In(loc).Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
