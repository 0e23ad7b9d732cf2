// Package clv estimates customer lifetime value from purchase histories.
//
// Its one job is the statistics: it turns columnar transactions into
// per-customer (x, t_x, T) summaries, fits the BG/NBD, MBG/NBD and Pareto/NBD
// purchase models, their no-dropout limit the NBD, and the Gamma-Gamma spend
// model by maximum likelihood, and predicts from them. It does no I/O and keeps no state; callers pass slices
// and get slices, values and errors back.
//
// Conventions follow Fader, Hardie and Lee (2005) and the lifetimes library:
// x is the number of repeat purchase days (same-day purchases merged, the
// first purchase not counted), t_x the time from the first to the last
// purchase and T the time from the first purchase to the end of calibration,
// both in a caller-chosen time unit (Summarize's unitDays). Parameters such as
// α and β are rates in that same unit.
//
// # Fitting
//
// Fits maximise the log-likelihood over log-parameters with gonum's
// optimize package: Newton's method first, with the Hessian shifted where
// needed so that every step is a descent step of bounded length (a trust
// region), then, if that does not reach an acceptable maximum, Nelder-Mead
// followed by BFGS. A fit is accepted only if the final gradient is small,
// the Hessian is positive definite and not nearly singular, and every
// parameter lies well inside (1e-8, 1e8); otherwise it fails with an error
// wrapping ErrNotConverged rather than returning doubtful parameters. That
// includes data whose likelihood keeps rising towards a boundary (a mixing
// distribution collapsing to a point), which Newton's method detects as a
// flat ridge and reports at once.
//
// One such boundary has an answer. In data where nobody appears to drop
// out, the likelihoods of BG/NBD, MBG/NBD and Pareto/NBD rise towards "no
// drop-out" (b → ∞, β → ∞), where they become the NBD's: a Gamma mixture of
// Poisson purchasing with P(alive) = 1, whose log-likelihood uses the same
// convention and so can be compared with theirs. A failed fit is checked
// against an NBD fit on the same summaries, and when it stopped next to
// that limit with no better likelihood than chance allows, the error is a
// *NoDropoutError carrying the fitted NBD, for the caller to use or refuse.
// The check is what keeps other failures apart: data with real drop-out
// that cannot be estimated (one drop-out probability shared by all, say)
// fit better than the NBD, and their error says so.
//
// BG/NBD, MBG/NBD, NBD and Gamma-Gamma have analytic gradients and Hessians.
// Pareto/NBD has an analytic gradient (the derivatives of its
// hypergeometric terms are summed with their series) and its Hessian is
// taken by differences of that gradient. Its likelihood is evaluated in a
// form that avoids the usual cancellation and overflow (see ParetoNBD).
//
// Identical summaries are compressed into weighted rows first (see
// Compress), and terms that depend on one value alone (ln Γ(r+x), ln(α+T),
// a hypergeometric factor of (x, τ)) are computed once per distinct value,
// so a fit costs what the distinct summaries cost, not what the customers
// cost. The rows are summed in parallel in chunks of a fixed size, and the
// chunks' partial sums are added in a fixed order: a fit gives bit-identical
// results for any GOMAXPROCS or FitOptions.Workers.
//
// # Predictions and discounting
//
// P(alive), conditional expected purchases, expected spend and CLV are
// provided per customer and for slices of customers; the slice functions
// compute the terms shared by customers with the same (x, T) or (x, t_x)
// once and agree to the bit with the per-customer ones, whatever the number
// of workers.
//
// CLV is discounted discretely, per period: over periods of length L (in
// model time units) at a rate d per period, the margin on the purchases
// expected in period k, (k-1)L < t <= kL, is divided by (1+d)^k, as if
// those purchases fell at the end of the period. This is lifetimes'
// customer_lifetime_value scheme; a continuous rate δ corresponds to
// d = e^{δL} - 1.
//
// # When P(alive) is unknowable
//
// P(alive) is a model's inference, not an observation, and some models
// cannot make it for some customers:
//
//   - BG/NBD lets a customer drop out only right after a repeat purchase,
//     so every one-time buyer (x = 0) has P(alive) = 1 however long ago
//     the purchase was. This is the model's assumption speaking, not the
//     data. MBG/NBD (Batislam, Denizel and Filiztekin 2007), which adds a
//     drop-out chance at the first purchase, and Pareto/NBD, whose
//     drop-out happens in continuous time, let a one-time buyer's P(alive)
//     fall with the time since the purchase; SelectPurchaseModel lets the
//     holdout decide between them.
//   - The NBD has no drop-out: P(alive) = 1 for everyone. It is what a fit
//     returns (in a *NoDropoutError) when the data show no evidence of
//     drop-out, and then P(alive) is not estimable from the data, not
//     known to be 1.
//   - A customer whose last purchase is at T (t_x = T) has P(alive) = 1 by
//     definition in every model: nothing has been observed since.
//
// Intervals (PurchaseIntervals) widen where the parameters are poorly
// determined, but they cannot repair a model's assumption: BG/NBD's
// interval for a one-time buyer's P(alive) is [1, 1].
//
// # Choosing a model and stating uncertainty
//
// SelectPurchaseModel fits the candidate models and ranks them by how well
// they predict a holdout period, using the exact conditional distribution
// of each customer's future count (ProbFuturePurchases, from AliveModel).
// PurchaseUncertainty and SpendUncertainty give the large-sample normal
// distribution of the log-parameters from the observed information;
// PurchaseIntervals and CLVIntervals turn draws from it into per-customer
// bounds, and the count bounds also include the randomness of the
// purchases. CustomerTraits derives churn risk, the median time to the
// next purchase and CLV over several horizons.
package clv
