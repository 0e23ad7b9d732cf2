package stages

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/mat"

	"github.com/strata-oss/strata/models/clv"
)

// Why the stage draws the P(alive) and expected-purchase bounds itself:
// clv.PurchaseIntervals also walks every customer's predictive count
// distribution (a count interval the segments table does not publish),
// which costs two thirds of the whole CLV stage on the demo — a hundred
// times the point estimates. drawBounds makes the same parameter draws
// (the same generator, seed and Cholesky factor) and takes the same
// quantiles, so its bounds equal PurchaseIntervals' to the bit
// (TestDrawBoundsMatchLibrary), without the walk.

// drawModels draws n purchase models called name from d, as clv's
// ParamUncertainty draws them: ln θ = LogTheta + L·z, L the lower Cholesky
// factor of Cov and z standard normal from PCG(seed, 0x5eed).
func (d *ParamDist) drawModels(name string, n int, seed uint64) ([]clv.PurchaseModel, error) {
	k := len(d.LogTheta)
	if len(d.Names) != k || len(d.Cov) != k*k {
		return nil, fmt.Errorf("parameter distribution: %d names, %d log-parameters, %d covariances", len(d.Names), k, len(d.Cov))
	}
	var ch mat.Cholesky
	if !ch.Factorize(mat.NewSymDense(k, slices.Clone(d.Cov))) {
		return nil, fmt.Errorf("parameter covariance not positive definite")
	}
	var L mat.TriDense
	ch.LTo(&L)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	z := make([]float64, k)
	out := make([]clv.PurchaseModel, n)
	for m := range out {
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		p := make(map[string]float64, k)
		for i := range k {
			v := d.LogTheta[i]
			for j := 0; j <= i; j++ {
				v += L.At(i, j) * z[j]
			}
			p[d.Names[i]] = math.Exp(v)
		}
		pm, err := clv.ModelFromParams(name, p)
		if err != nil {
			return nil, err
		}
		out[m] = pm
	}
	return out, nil
}

// drawBounds returns the level bounds of P(alive) and of the expected
// purchases over horizon for every customer (x, t_x, T), over the draws
// ms, computed once per distinct summary.
func drawBounds(ctx context.Context, ms []clv.PurchaseModel, x, tx, T []float64, horizon, level float64, workers int) (paLo, paHi, exLo, exHi []float64, err error) {
	type key [3]float64
	ids := map[key]int{}
	row := make([]int, len(x))
	var ux, utx, uT []float64
	for i := range x {
		k := key{x[i] + 0, tx[i] + 0, T[i] + 0}
		id, ok := ids[k]
		if !ok {
			id = len(ux)
			ids[k] = id
			ux, utx, uT = append(ux, x[i]), append(utx, tx[i]), append(uT, T[i])
		}
		row[i] = id
	}
	u := len(ux)
	bpl, bph, bel, beh := make([]float64, u), make([]float64, u), make([]float64, u), make([]float64, u)
	qlo, qhi := (1-level)/2, (1+level)/2
	if workers <= 0 {
		workers = 4
	}
	const chunk = 256
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for start := 0; start < u; start += chunk {
		end := min(start+chunk, u)
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			pa, ex := make([]float64, len(ms)), make([]float64, len(ms))
			for i := start; i < end; i++ {
				for d, m := range ms {
					pa[d] = m.PAlive(ux[i], utx[i], uT[i])
					ex[d] = m.ExpectedPurchases(horizon, ux[i], utx[i], uT[i])
				}
				bpl[i], bph[i] = quantileOf(pa, qlo), quantileOf(pa, qhi)
				bel[i], beh[i] = quantileOf(ex, qlo), quantileOf(ex, qhi)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, nil, nil, err
	}
	n := len(x)
	paLo, paHi, exLo, exHi = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, r := range row {
		paLo[i], paHi[i], exLo[i], exHi[i] = bpl[r], bph[r], bel[r], beh[r]
	}
	return paLo, paHi, exLo, exHi, nil
}

// quantileOf is the q-quantile of v by linear interpolation between order
// statistics (clv's rule); v is sorted in place.
func quantileOf(v []float64, q float64) float64 {
	slices.Sort(v)
	h := q * float64(len(v)-1)
	i := int(h)
	if i >= len(v)-1 {
		return v[len(v)-1]
	}
	return v[i] + (h-float64(i))*(v[i+1]-v[i])
}
