// Package clv estimates customer lifetime value from purchase histories.
//
// Its one job is the statistics: it turns columnar transactions into
// per-customer (x, t_x, T) summaries, fits the BG/NBD, MBG/NBD and Pareto/NBD
// purchase models and the Gamma-Gamma spend model by maximum likelihood, and
// predicts from them. It does no I/O and keeps no state; callers pass slices
// and get slices, values and errors back.
//
// Conventions follow Fader, Hardie and Lee (2005) and the lifetimes library:
// x is the number of repeat purchase days (same-day purchases merged, the
// first purchase not counted), t_x the time from the first to the last
// purchase and T the time from the first purchase to the end of calibration,
// both in a caller-chosen time unit (Summarize's unitDays). Parameters such as
// α and β are rates in that same unit.
//
// Fits maximise the log-likelihood over log-parameters with gonum's BFGS,
// falling back to Nelder-Mead followed by another BFGS pass when BFGS does not
// reach a stationary point. A fit is accepted only if the final gradient is
// small, the numerical Hessian is positive definite and every parameter lies
// well inside (1e-8, 1e8); otherwise it fails with an error wrapping
// ErrNotConverged rather than returning doubtful parameters. Identical
// summaries are compressed into weighted rows first (see Compress), so a fit
// costs what the distinct summaries cost, not what the customers cost.
//
// BG/NBD, MBG/NBD and Gamma-Gamma use analytic gradients. Pareto/NBD uses
// central finite differences of its log-likelihood, because differentiating
// the Gauss hypergeometric terms with respect to their parameters and argument
// is not worth the risk; its likelihood is evaluated in a form that avoids the
// usual cancellation and overflow (see ParetoNBD).
package clv
