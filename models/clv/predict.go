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
	// Name is "bgnbd", "mbgnbd", "pnbd" or "nbd".
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

// FitPurchaseModel fits the purchase model called name ("bgnbd", "mbgnbd",
// "pnbd" or "nbd").
func FitPurchaseModel(ctx context.Context, name string, x, tx, T []float64, opt FitOptions) (PurchaseModel, FitResult, error) {
	switch name {
	case "bgnbd":
		return wrapFit(FitBGNBD(ctx, x, tx, T, opt))
	case "mbgnbd":
		return wrapFit(FitMBGNBD(ctx, x, tx, T, opt))
	case "pnbd":
		return wrapFit(FitParetoNBD(ctx, x, tx, T, opt))
	case "nbd":
		return wrapFit(FitNBD(ctx, x, tx, T, opt))
	}
	return nil, FitResult{}, fmt.Errorf("fit purchase model: unknown model %q (want bgnbd, mbgnbd, pnbd or nbd)", name)
}

func wrapFit[M PurchaseModel](m M, r FitResult, err error) (PurchaseModel, FitResult, error) {
	if err != nil {
		return nil, r, err
	}
	return m, r, nil
}

// factored is implemented by the package's purchase models: their
// conditional expectation is E[Y(t) | x, t_x, T] = P(alive | x, t_x, T) ·
// horizon(t, x, T), where horizon does not depend on t_x. The slice
// functions compute horizon once per distinct (x, T) — a few thousand
// pairs for a million customers of a real shop, since x is a count and T
// a whole number of days — and only the cheap P(alive) per customer.
type factored interface {
	PurchaseModel
	horizon(t, x, T float64) float64
}

var (
	_ factored = BGNBD{}
	_ factored = MBGNBD{}
	_ factored = ParetoNBD{}
)

// CLV returns the discounted expected margin of one customer over periods
// future periods of periodLength model time units each (e.g. 4.345 when the
// model is in weeks and periods are months):
//
//	CLV = Σ_{k=1..periods} margin · E[spend] · (E[Y(kL)] - E[Y((k-1)L)]) / (1+d)^k
//
// where E[Y(t)] is pm.ExpectedPurchases(t, x, tx, T), E[spend] is
// gg.ExpectedSpend(x, meanSpend), L = periodLength and d = discountRate per
// period. Discounting is discrete and per period: the purchases expected
// in period k are discounted by (1+d)^k, as if they fell at the period's
// end, as in lifetimes' customer_lifetime_value.
func CLV(pm PurchaseModel, gg GammaGamma, x, tx, T, meanSpend float64, periods int, periodLength, margin, discountRate float64) float64 {
	spend := gg.ExpectedSpend(x, meanSpend)
	if f, ok := pm.(factored); ok {
		// P(alive) factors out of every period's increment.
		return clvCombine(margin, spend, pm.PAlive(x, tx, T), discountedHorizon(f, x, T, periods, periodLength, discountRate))
	}
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

// discountedHorizon returns Σ_k (h(kL) - h((k-1)L)) / (1+d)^k for the
// horizon factor h of f, so that CLV = margin · E[spend] · P(alive) · this.
func discountedHorizon(f factored, x, T float64, periods int, L, d float64) float64 {
	var sum, prev float64
	disc := 1.0
	for k := 1; k <= periods; k++ {
		cur := f.horizon(float64(k)*L, x, T)
		disc /= 1 + d
		sum += (cur - prev) * disc
		prev = cur
	}
	return sum
}

// clvCombine is shared by CLV and CLVs so that they agree to the bit.
func clvCombine(margin, spend, pAlive, dh float64) float64 {
	return margin * spend * (pAlive * dh)
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

// scoreIndex maps customers to the distinct (x, T) pairs of their
// summaries and, when wanted, the distinct (x, t_x) pairs: row i has pair
// xT[i], whose values are pairX[xT[i]] and pairT[xT[i]] (up to the sign
// of zero), and likewise for t_x. The values of each column are numbered
// first, with hash tables that stay in cache because a real shop's
// summaries take few distinct values (x is a count, times are whole days);
// a pair is then a cell of a dense table, or of a hash table when that
// would be too large.
type scoreIndex struct {
	xT, xtx         []int32
	pairX, pairT    []float64
	pairXtx, pairTx []float64
}

func newScoreIndex(ctx context.Context, x, tx, T []float64, withTx bool) (scoreIndex, error) {
	n := len(x)
	xi, Ti, ti := newFloatIndex(64), newFloatIndex(1024), newFloatIndex(1024)
	jx, jT := make([]int32, n), make([]int32, n)
	var jt []int32
	if withTx {
		jt = make([]int32, n)
	}
	for lo := 0; lo < n; lo += 1 << 16 {
		if err := ctx.Err(); err != nil {
			return scoreIndex{}, err
		}
		for i := lo; i < min(lo+1<<16, n); i++ {
			jx[i], _ = xi.id(x[i] + 0)
			jT[i], _ = Ti.id(T[i] + 0)
			if withTx {
				jt[i], _ = ti.id(tx[i] + 0)
			}
		}
	}
	var s scoreIndex
	s.xT, s.pairX, s.pairT = pairIDs(jx, jT, xi.vals, Ti.vals, maxDenseCells)
	if withTx {
		s.xtx, s.pairXtx, s.pairTx = pairIDs(jx, jt, xi.vals, ti.vals, maxDenseCells)
	}
	return s, nil
}

// maxDenseCells bounds the dense pair table (16 MiB of int32).
const maxDenseCells = 1 << 22

// pairIDs numbers the distinct (ja[i], jb[i]) in order of first appearance
// and returns the values of each pair. It overwrites jb with the ids. A
// dense table is used when it has at most maxCells cells.
func pairIDs(ja, jb []int32, va, vb []float64, maxCells int) (ids []int32, pa, pb []float64) {
	na, nb := len(va), len(vb)
	ids = jb
	add := func(a, b int32) int32 {
		pa, pb = append(pa, va[a]), append(pb, vb[b])
		return int32(len(pa) - 1)
	}
	if na*nb <= maxCells {
		cell := make([]int32, na*nb) // id+1; 0 is unseen
		for i, a := range ja {
			c := int(a)*nb + int(jb[i])
			if cell[c] == 0 {
				cell[c] = add(a, jb[i]) + 1
			}
			ids[i] = cell[c] - 1
		}
		return ids, pa, pb
	}
	keys := newKeyIndex(1024)
	for i, a := range ja {
		id, added := keys.id(uint64(a), uint64(jb[i]))
		if added {
			add(a, jb[i])
		}
		ids[i] = id
	}
	return ids, pa, pb
}

// pAliveOf returns a function giving P(alive) of customer i, equal to
// pm.PAlive(x[i], tx[i], T[i]). For Pareto/NBD, whose P(alive) needs two
// hypergeometric series per customer, every term that depends on (x, T)
// or (x, t_x) alone is computed once per distinct pair of ix, which must
// have been built with t_x.
func pAliveOf(ctx context.Context, pm PurchaseModel, ix *scoreIndex, x, tx, T []float64, workers int) (func(i int) float64, error) {
	m, ok := pm.(ParetoNBD)
	if !ok {
		return func(i int) float64 { return pm.PAlive(x[i], tx[i], T[i]) }, nil
	}
	r, al, s, be := m.R, m.Alpha, m.S, m.Beta
	l1 := make([]float64, len(ix.pairX))
	f2 := make([]float64, len(ix.pairX))
	if err := parallel(ctx, l1, workers, func(q int) float64 {
		f2[q] = pnbdPhi(r, al, s, be, ix.pairX[q], ix.pairT[q])
		return pnbdAliveLog(r, al, s, be, ix.pairX[q], ix.pairT[q])
	}); err != nil {
		return nil, err
	}
	f1 := make([]float64, len(ix.pairXtx))
	g1 := make([]float64, len(ix.pairXtx))
	if err := parallel(ctx, g1, workers, func(q int) float64 {
		f1[q] = pnbdPhi(r, al, s, be, ix.pairXtx[q], ix.pairTx[q])
		return pnbdDiedBase(r, s, ix.pairXtx[q], f1[q])
	}); err != nil {
		return nil, err
	}
	return func(i int) float64 {
		if tx[i] >= T[i] {
			return 1
		}
		q, p := ix.xT[i], ix.xtx[i]
		return pnbdPAlive(l1[q], g1[p], f1[p], f2[q])
	}, nil
}

// prepare builds what the slice predictions of pm share: the index and
// P(alive). withT asks for the (x, T) pairs even if P(alive) does not
// need them.
func prepare(ctx context.Context, pm PurchaseModel, x, tx, T []float64, workers int, withT bool) (*scoreIndex, func(int) float64, error) {
	_, pnbd := pm.(ParetoNBD)
	ix := &scoreIndex{}
	if withT || pnbd {
		var err error
		if *ix, err = newScoreIndex(ctx, x, tx, T, pnbd); err != nil {
			return nil, nil, err
		}
	}
	pa, err := pAliveOf(ctx, pm, ix, x, tx, T, workers)
	return ix, pa, err
}

// perPair returns f(x, T) for every distinct (x, T) pair of ix.
func perPair(ctx context.Context, ix *scoreIndex, workers int, f func(x, T float64) float64) ([]float64, error) {
	h := make([]float64, len(ix.pairX))
	err := parallel(ctx, h, workers, func(q int) float64 { return f(ix.pairX[q], ix.pairT[q]) })
	return h, err
}

// PAlives returns pm.PAlive for every customer.
func PAlives(ctx context.Context, pm PurchaseModel, x, tx, T []float64, workers int) ([]float64, error) {
	if err := checkLens("p(alive)", len(x), tx, T); err != nil {
		return nil, err
	}
	_, pa, err := prepare(ctx, pm, x, tx, T, workers, false)
	if err != nil {
		return nil, fmt.Errorf("p(alive): %w", err)
	}
	out := make([]float64, len(x))
	if err := parallel(ctx, out, workers, pa); err != nil {
		return nil, fmt.Errorf("p(alive): %w", err)
	}
	return out, nil
}

// ExpectedPurchasesAll returns pm.ExpectedPurchases(t, ...) for every
// customer.
func ExpectedPurchasesAll(ctx context.Context, pm PurchaseModel, t float64, x, tx, T []float64, workers int) ([]float64, error) {
	if err := checkLens("expected purchases", len(x), tx, T); err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	f, ok := pm.(factored)
	if !ok {
		if err := parallel(ctx, out, workers, func(i int) float64 { return pm.ExpectedPurchases(t, x[i], tx[i], T[i]) }); err != nil {
			return nil, fmt.Errorf("expected purchases: %w", err)
		}
		return out, nil
	}
	if t == 0 {
		return out, nil
	}
	ix, pa, err := prepare(ctx, pm, x, tx, T, workers, true)
	if err != nil {
		return nil, fmt.Errorf("expected purchases: %w", err)
	}
	if out, err = expectedPrepared(ctx, f, ix, pa, t, workers); err != nil {
		return nil, fmt.Errorf("expected purchases: %w", err)
	}
	return out, nil
}

// expectedPrepared is ExpectedPurchasesAll of a factored model given what
// prepare(..., true) returned.
func expectedPrepared(ctx context.Context, f factored, ix *scoreIndex, pa func(int) float64, t float64, workers int) ([]float64, error) {
	out := make([]float64, len(ix.xT))
	if t == 0 {
		return out, nil
	}
	h, err := perPair(ctx, ix, workers, func(x, T float64) float64 { return f.horizon(t, x, T) })
	if err != nil {
		return nil, err
	}
	err = parallel(ctx, out, workers, func(i int) float64 { return h[ix.xT[i]] * pa(i) })
	return out, err
}

// ExpectedSpends returns gg.ExpectedSpend for every customer.
func ExpectedSpends(ctx context.Context, gg GammaGamma, x, meanSpend []float64, workers int) ([]float64, error) {
	if err := checkLens("expected spend", len(x), meanSpend); err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	if err := parallel(ctx, out, workers, func(i int) float64 { return gg.ExpectedSpend(x[i], meanSpend[i]) }); err != nil {
		return nil, fmt.Errorf("expected spend: %w", err)
	}
	return out, nil
}

// CLVs returns CLV for every customer; see CLV for the arguments and the
// discounting scheme.
func CLVs(ctx context.Context, pm PurchaseModel, gg GammaGamma, x, tx, T, meanSpend []float64, periods int, periodLength, margin, discountRate float64, workers int) ([]float64, error) {
	if err := checkLens("clv", len(x), tx, T, meanSpend); err != nil {
		return nil, err
	}
	if err := checkHorizon(periods, periodLength, discountRate); err != nil {
		return nil, fmt.Errorf("clv: %w", err)
	}
	out := make([]float64, len(x))
	f, ok := pm.(factored)
	if !ok {
		err := parallel(ctx, out, workers, func(i int) float64 {
			return CLV(pm, gg, x[i], tx[i], T[i], meanSpend[i], periods, periodLength, margin, discountRate)
		})
		if err != nil {
			return nil, fmt.Errorf("clv: %w", err)
		}
		return out, nil
	}
	ix, pa, err := prepare(ctx, pm, x, tx, T, workers, true)
	if err != nil {
		return nil, fmt.Errorf("clv: %w", err)
	}
	out, err = clvsPrepared(ctx, f, gg, ix, pa, x, meanSpend, periods, periodLength, margin, discountRate, workers)
	if err != nil {
		return nil, fmt.Errorf("clv: %w", err)
	}
	return out, nil
}

func checkHorizon(periods int, periodLength, discountRate float64) error {
	if periods < 0 || !(periodLength > 0) || !(discountRate > -1) || math.IsInf(periodLength, 0) {
		return fmt.Errorf("invalid horizon: %d periods of length %v at discount rate %v", periods, periodLength, discountRate)
	}
	return nil
}

// clvsPrepared is CLVs of a factored model given what prepare(..., true)
// returned, so that several horizons share one index and P(alive).
func clvsPrepared(ctx context.Context, f factored, gg GammaGamma, ix *scoreIndex, pa func(int) float64, x, meanSpend []float64, periods int, periodLength, margin, discountRate float64, workers int) ([]float64, error) {
	dh, err := perPair(ctx, ix, workers, func(x, T float64) float64 {
		return discountedHorizon(f, x, T, periods, periodLength, discountRate)
	})
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	err = parallel(ctx, out, workers, func(i int) float64 {
		return clvCombine(margin, gg.ExpectedSpend(x[i], meanSpend[i]), pa(i), dh[ix.xT[i]])
	})
	return out, err
}
