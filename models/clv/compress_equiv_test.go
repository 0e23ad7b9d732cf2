package clv

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// compressSpendRef is compressSpend as it was before the radix sort: each
// x group's spends sorted by slices.Sort. Kept as the reference the radix
// sort must reproduce bit for bit.
func compressSpendRef(x, m []float64) (cx, cm, w []float64) {
	xs, start, ms := groupByX(x, m)
	cx, cm, w = make([]float64, 0, len(m)), make([]float64, 0, len(m)), make([]float64, 0, len(m))
	for g, xv := range xs {
		grp := ms[start[g]:start[g+1]]
		slices.Sort(grp)
		for k, v := range grp {
			if k > 0 && v == grp[k-1] {
				w[len(w)-1]++
				continue
			}
			cx, cm, w = append(cx, xv), append(cm, v), append(w, 1)
		}
	}
	return cx, cm, w
}

func equalBits(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("%s[%d] = %v (%#x), want %v (%#x)", what, i, got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
		}
	}
}

// TestCompressSpendEqualsReference: the radix-sorted groups give the rows
// of the comparison sort, bit for bit, on spends of every sign, size and
// multiplicity (groups above and below radixMin, -0, subnormals, repeats),
// and on the CDNOW customers.
func TestCompressSpendEqualsReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 40000
	x, m := make([]float64, n), make([]float64, n)
	for i := range n {
		x[i] = float64(1 + rng.IntN(3)*rng.IntN(40)) // one large group, many small
		switch rng.IntN(6) {
		case 0:
			m[i] = float64(rng.IntN(500)) / 4 // cents-like repeats
		case 1:
			m[i] = -rng.ExpFloat64() * 100
		case 2:
			m[i] = math.Copysign(0, -1)
		case 3:
			m[i] = rng.Float64() * 1e-310 // subnormal
		default:
			m[i] = rng.ExpFloat64() * math.Pow(10, float64(rng.IntN(12)-3))
		}
	}
	check := func(x, m []float64) {
		cx, cm, w := compressSpend(x, m)
		rx, rm, rw := compressSpendRef(x, m)
		equalBits(t, "x", cx, rx)
		equalBits(t, "spend", cm, rm)
		equalBits(t, "w", w, rw)
	}
	check(x, m)
	sx, _, _, sm := present(sampleSummary(t))
	var fx, fm []float64
	for i := range sx {
		if sx[i] > 0 && sm[i] > 0 {
			fx, fm = append(fx, sx[i]), append(fm, sm[i])
		}
	}
	check(fx, fm)
}

// TestWithoutTxEqualsCompress: the NBD rows merged from a fit's rows are
// those compressRows(x, zeros, T) builds, bit for bit, and so is the NBD
// fit on them; also when the dense table is refused.
func TestWithoutTxEqualsCompress(t *testing.T) {
	x, tx, T, _ := present(sampleSummary(t))
	rng := rand.New(rand.NewPCG(5, 6))
	// Spread T so that rows of one x and t_x fall apart by T.
	for i := range T {
		T[i] += float64(rng.IntN(50)) / 7
	}
	rows, err := compressRows(x, tx, T)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := rows.withoutTx()
	if !ok {
		t.Fatal("withoutTx refused the sample")
	}
	want, err := compressRows(x, make([]float64, len(x)), T)
	if err != nil {
		t.Fatal(err)
	}
	equalBits(t, "X", got.X, want.X)
	equalBits(t, "Tx", got.Tx, want.Tx)
	equalBits(t, "T", got.T, want.T)
	equalBits(t, "W", got.W, want.W)
	equalBits(t, "xs", got.xs, want.xs)
	equalBits(t, "txs", got.txs, want.txs)
	equalBits(t, "Ts", got.Ts, want.Ts)
	if !slices.Equal(got.ix, want.ix) || !slices.Equal(got.itx, want.itx) || !slices.Equal(got.iT, want.iT) {
		t.Fatal("indices differ")
	}
	nbd, res, err := fitNBDRows(context.Background(), x, T, &rows, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref, rres, err := FitNBD(context.Background(), x, make([]float64, len(x)), T, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	equalBits(t, "NBD", []float64{nbd.R, nbd.Alpha, res.LogLik}, []float64{ref.R, ref.Alpha, rres.LogLik})
	if res != rres {
		t.Fatalf("fit result %+v, want %+v", res, rres)
	}
	// Many distinct x and T: the dense table is refused and FitNBD runs.
	bx, bT := make([]float64, 3000), make([]float64, 3000)
	for i := range bx {
		bx[i], bT[i] = float64(i), float64(4000+i)
	}
	brows, err := compressRows(bx, make([]float64, len(bx)), bT)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := brows.withoutTx(); ok {
		t.Fatal("withoutTx accepted a 3000 × 3000 table for 3000 rows")
	}
}
