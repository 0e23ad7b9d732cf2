package clv

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// PurchaseModel is what the purchase-frequency models share. Times are in
// the unit the model was fitted in.
type PurchaseModel interface {
	// Name is "bgnbd", "mbgnbd" or "pnbd".
	Name() string
	// Params returns the parameters by name.
	Params() map[string]float64
	// LogLik returns the weighted log-likelihood of the summaries; a nil w
	// means unit weights.
	LogLik(x, tx, T, w []float64) float64
	// PAlive returns P(alive at T | x, t_x, T).
	PAlive(x, tx, T float64) float64
	// ExpectedPurchases returns the expected number of purchases in
	// (T, T+t] for a customer with summary (x, t_x, T).
	ExpectedPurchases(t, x, tx, T float64) float64
	// UnconditionalExpectedPurchases returns E[X(t)], the expected
	// number of repeat purchases in (0, t] for a newly acquired customer.
	UnconditionalExpectedPurchases(t float64) float64
	// ProbNPurchases returns P(X(t) = n) for a newly acquired customer.
	ProbNPurchases(n int, t float64) float64
}

var (
	_ PurchaseModel = BGNBD{}
	_ PurchaseModel = MBGNBD{}
	_ PurchaseModel = ParetoNBD{}
)

// FitPurchaseModel fits the purchase model called name ("bgnbd", "mbgnbd"
// or "pnbd").
func FitPurchaseModel(ctx context.Context, name string, x, tx, T []float64, opt FitOptions) (PurchaseModel, FitResult, error) {
	switch name {
	case "bgnbd":
		return wrapFit(FitBGNBD(ctx, x, tx, T, opt))
	case "mbgnbd":
		return wrapFit(FitMBGNBD(ctx, x, tx, T, opt))
	case "pnbd":
		return wrapFit(FitParetoNBD(ctx, x, tx, T, opt))
	}
	return nil, FitResult{}, fmt.Errorf("fit purchase model: unknown model %q (want bgnbd, mbgnbd or pnbd)", name)
}

func wrapFit[M PurchaseModel](m M, r FitResult, err error) (PurchaseModel, FitResult, error) {
	if err != nil {
		return nil, r, err
	}
	return m, r, nil
}

// CLV returns the discounted expected margin of one customer over periods
// future periods of periodLength model time units each (e.g. 4.345 when the
// model is in weeks and periods are months):
//
//	CLV = Σ_{k=1..periods} margin · E[spend] · (E[Y(kL)] - E[Y((k-1)L)]) / (1+d)^k
//
// where E[Y(t)] is pm.ExpectedPurchases(t, x, tx, T), E[spend] is
// gg.ExpectedSpend(x, meanSpend), L = periodLength and d = discountRate per
// period. Each period's purchases are discounted as if they fell at its end,
// as in lifetimes' customer_lifetime_value.
func CLV(pm PurchaseModel, gg GammaGamma, x, tx, T, meanSpend float64, periods int, periodLength, margin, discountRate float64) float64 {
	spend := gg.ExpectedSpend(x, meanSpend)
	var clv, prev float64
	disc := 1.0
	for k := 1; k <= periods; k++ {
		cur := pm.ExpectedPurchases(float64(k)*periodLength, x, tx, T)
		disc /= 1 + discountRate
		clv += (cur - prev) * disc
		prev = cur
	}
	return margin * spend * clv
}

// parallel computes out[i] = f(i) for every i on at most workers goroutines
// (workers <= 0 means GOMAXPROCS). Each element is computed by the same
// pure function of its inputs, so results do not depend on workers.
func parallel(ctx context.Context, out []float64, workers int, f func(i int) float64) error {
	n := len(out)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 4096
	if workers == 1 || n <= chunk {
		for lo := 0; lo < n; lo += chunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			for i := lo; i < min(lo+chunk, n); i++ {
				out[i] = f(i)
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for lo := 0; lo < n; lo += chunk {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			for i := lo; i < min(lo+chunk, n); i++ {
				out[i] = f(i)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

func checkLens(what string, n int, s ...[]float64) error {
	for _, v := range s {
		if len(v) != n {
			return fmt.Errorf("%s: length mismatch: %d and %d", what, n, len(v))
		}
	}
	return nil
}

// PAlives returns pm.PAlive for every customer.
func PAlives(ctx context.Context, pm PurchaseModel, x, tx, T []float64, workers int) ([]float64, error) {
	if err := checkLens("p(alive)", len(x), tx, T); err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	err := parallel(ctx, out, workers, func(i int) float64 { return pm.PAlive(x[i], tx[i], T[i]) })
	return out, err
}

// ExpectedPurchasesAll returns pm.ExpectedPurchases(t, ...) for every
// customer.
func ExpectedPurchasesAll(ctx context.Context, pm PurchaseModel, t float64, x, tx, T []float64, workers int) ([]float64, error) {
	if err := checkLens("expected purchases", len(x), tx, T); err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	err := parallel(ctx, out, workers, func(i int) float64 { return pm.ExpectedPurchases(t, x[i], tx[i], T[i]) })
	return out, err
}

// ExpectedSpends returns gg.ExpectedSpend for every customer.
func ExpectedSpends(ctx context.Context, gg GammaGamma, x, meanSpend []float64, workers int) ([]float64, error) {
	if err := checkLens("expected spend", len(x), meanSpend); err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	err := parallel(ctx, out, workers, func(i int) float64 { return gg.ExpectedSpend(x[i], meanSpend[i]) })
	return out, err
}

// CLVs returns CLV for every customer; see CLV for the arguments.
func CLVs(ctx context.Context, pm PurchaseModel, gg GammaGamma, x, tx, T, meanSpend []float64, periods int, periodLength, margin, discountRate float64, workers int) ([]float64, error) {
	if err := checkLens("clv", len(x), tx, T, meanSpend); err != nil {
		return nil, err
	}
	if periods < 0 || !(periodLength > 0) || !(discountRate > -1) || math.IsInf(periodLength, 0) {
		return nil, fmt.Errorf("clv: invalid horizon: %d periods of length %v at discount rate %v", periods, periodLength, discountRate)
	}
	out := make([]float64, len(x))
	err := parallel(ctx, out, workers, func(i int) float64 {
		return CLV(pm, gg, x[i], tx[i], T[i], meanSpend[i], periods, periodLength, margin, discountRate)
	})
	return out, err
}
