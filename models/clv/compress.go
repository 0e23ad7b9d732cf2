package clv

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Compressed holds distinct (x, t_x, T) summaries with the number of
// customers sharing each one. Rows are sorted by (X, Tx, T), which lets the
// likelihoods compute terms that depend on x alone once per distinct x.
type Compressed struct {
	X, Tx, T, W []float64
}

// Len returns the number of distinct rows.
func (c Compressed) Len() int { return len(c.X) }

// Compress collapses identical (x[i], tx[i], T[i]) triples into weighted
// rows. The weighted log-likelihood of the result equals the log-likelihood
// of the input, so fits on a million customers cost what their distinct
// summaries cost.
func Compress(x, tx, T []float64) (Compressed, error) {
	if len(x) != len(tx) || len(x) != len(T) {
		return Compressed{}, fmt.Errorf("compress: length mismatch: x %d, tx %d, T %d", len(x), len(tx), len(T))
	}
	u, w := uniqueRows(x, tx, T)
	return Compressed{X: u[0], Tx: u[1], T: u[2], W: w}, nil
}

// uniqueRows returns the distinct rows of the columns a, b, c sorted
// lexicographically, with their multiplicities. -0 is folded into +0 so that
// equal values share a row.
func uniqueRows(a, b, c []float64) ([3][]float64, []float64) {
	type key [3]float64
	idx := make(map[key]int, 1024)
	var keys []key
	var w []float64
	for i := range a {
		k := key{a[i] + 0, b[i] + 0, c[i] + 0}
		if j, ok := idx[k]; ok {
			w[j]++
			continue
		}
		idx[k] = len(keys)
		keys = append(keys, k)
		w = append(w, 1)
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		ki, kj := keys[i], keys[j]
		for d := range ki {
			if c := cmp.Compare(ki[d], kj[d]); c != 0 {
				return c
			}
		}
		return 0
	})
	var out [3][]float64
	for d := range out {
		out[d] = make([]float64, len(keys))
	}
	ws := make([]float64, len(keys))
	for n, i := range order {
		for d := range out {
			out[d][n] = keys[i][d]
		}
		ws[n] = w[i]
	}
	return out, ws
}

// validatePurchases checks summaries before a fit: the likelihoods assume
// 0 <= t_x <= T and x >= 0, and silently produce NaN otherwise.
func validatePurchases(x, tx, T []float64) error {
	if len(x) != len(tx) || len(x) != len(T) {
		return fmt.Errorf("length mismatch: x %d, tx %d, T %d", len(x), len(tx), len(T))
	}
	for i := range x {
		xi, ti, Ti := x[i], tx[i], T[i]
		if !(xi >= 0) || !(ti >= 0) || !(Ti >= ti) || math.IsInf(Ti, 0) || math.IsInf(xi, 0) {
			return fmt.Errorf("customer %d: invalid summary x=%v t_x=%v T=%v (need x >= 0, 0 <= t_x <= T < Inf)", i, xi, ti, Ti)
		}
		if xi == 0 && ti != 0 {
			return fmt.Errorf("customer %d: t_x=%v with x=0 (t_x must be 0 without repeat purchases)", i, ti)
		}
	}
	return nil
}
