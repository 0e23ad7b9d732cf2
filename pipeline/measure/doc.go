// Package measure judges an earlier run by the orders that came after it:
// campaign results with lift (campaign_results), KPIs per earlier RFM
// segment and cluster (segment_kpis) and the CLV backtest (clv_backtest).
// It is pure computation over columns: the caller reads the earlier run's
// published tables and the orders, and publishes the rows.
//
// # Windows and leaks
//
// Days end at midnight in the run's time zone (UTC unless configured), as
// in the rest of the pipeline, and an as-of date D covers orders before
// the midnight ending D (the cutoff). A window of w days starting at
// instant s covers orders at times t with s ≤ t < s + w days (calendar
// days in that zone). It is measured only when it has fully elapsed,
// s + w days ≤ cutoff of the measuring run, and only from orders inside
// it: orders after the window (or after the as-of date) never count, so
// re-measuring later gives the same figures. Campaign windows start at
// the midnight starting the campaign's start date, segment and backtest
// windows at the earlier run's cutoff, the first instant its tables could
// not see.
//
// # Orders
//
// An order with a negative net amount is a refund: it counts in revenue
// (reducing it) but is not an order, a conversion nor a purchase. Every
// other order, zero amounts included, is a purchase.
//
// # campaign_results
//
// Per audience, window and group (control, then treatment): customers,
// converters (customers with a purchase in the window), conversion rate
// = converters/customers, orders (purchases in the window), revenue (sum
// of net amounts in the window), revenue per customer = revenue /
// customers (both rates NaN for a group without customers, e.g. an
// audience without a control group). The treated row also carries the comparison with the control
// group, from package lift: the conversion difference with Newcombe's
// interval and the pooled z-test p-value, the relative lift with Katz's
// interval, and the revenue-per-customer difference with Welch's interval
// and p-value (over every customer's window revenue, zeros included). The
// control row has them NaN (null when published), as does the treated row
// when a group is empty or too small.
//
// # segment_kpis
//
// Per earlier RFM segment and per earlier cluster and window: customers,
// converters and conversion rate, revenue and revenue per customer as
// above; buyers (customers with at least one order before the earlier
// run, frequency ≥ 1), retained (buyers with a purchase in the window),
// retention = retained/buyers and churn = 1 − retention (NaN without
// buyers, e.g. for No Purchases).
//
// # clv_backtest
//
// The earlier run's predictions over its horizon H (its model.json's
// horizon_months × L, L = 365.2425/12 days, the pipeline's month),
// against what its customers did in [cutoff, cutoff + H), measured once H
// has elapsed. For expected_purchases the actual value is
// the number of distinct days with a purchase (the models count
// same-day orders as one purchase); for clv it is the margin times the
// net amount of the orders in month k of the horizon (k = ⌊Δ/L⌋ + 1 for
// an order Δ after the cutoff), divided by (1 + d)^k with
// d = (1 + annual rate)^(1/12) − 1, as the prediction is discounted; the
// margin and annual rate are the earlier run's (model.json).
// Customers with a null prediction are left out.
//
// The n customers with a prediction are sorted by prediction descending
// (ties by customer id) and the i-th (0-based) goes to decile
// 1 + ⌊10 i / n⌋, so decile 1 holds the highest predictions. Per decile
// the rows give customers, the mean and sum of the predicted and the
// actual values. Over all n, with P̄_d, Ā_d the decile means and n_d
// their sizes:
//
//	calibration error = Σ_d (n_d / n) · |P̄_d − Ā_d|
//
// in the metric's units (0 when every decile's mean prediction is right),
// and the normalised Gini of the ranking
//
//	G(order) = Σ_{i=1..n} (C_i − i/n),  C_i = (Σ_{j≤i} a_j) / Σ_j a_j
//	Gini = G(by prediction) / G(by actual)
//
// where C_i is the cumulative share of the actual total taken by the
// first i customers of the order: 1 when the prediction ranks customers
// as well as their actual values would, 0 for a ranking no better than
// chance, negative for a worse one (NaN when Σ a ≤ 0 or all actual values
// are equal). Both are repeated on every decile row of their metric.
//
// # Order of rows
//
// campaign_results by audience, window, group; segment_kpis by type (rfm,
// then cluster), segment (name; cluster id) and window; clv_backtest by
// metric (expected_purchases, then clv) and decile. The same inputs give
// the same rows, whatever the order of the input columns' rows.
package measure
