package clv

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// Compressed holds distinct (x, t_x, T) summaries with the number of
// customers sharing each one. Rows are sorted by (X, Tx, T), so a fit's
// result does not depend on the order of the customers.
type Compressed struct {
	X, Tx, T, W []float64
}

// Len returns the number of distinct rows.
func (c Compressed) Len() int { return len(c.X) }

// Compress collapses identical (x[i], tx[i], T[i]) triples into weighted
// rows. The weighted log-likelihood of the result equals the log-likelihood
// of the input, so fits on a million customers cost what their distinct
// summaries cost. -0 and +0 are the same value; NaN is an error.
func Compress(x, tx, T []float64) (Compressed, error) {
	pr, err := compressRows(x, tx, T)
	if err != nil {
		return Compressed{}, fmt.Errorf("compress: %w", err)
	}
	return pr.Compressed, nil
}

// purchaseRows is what the purchase likelihoods iterate over: weighted rows
// that point into tables of the distinct values of x, t_x and T. Whatever
// depends on one value alone (ln Γ(r+x), ln(α+T), a hypergeometric factor
// of (x, τ)) is then computed once per distinct value and evaluation rather
// than once per row; in cohort data there are a few dozen distinct x and a
// few hundred distinct times for thousands of rows.
type purchaseRows struct {
	Compressed
	xs, txs, Ts []float64 // distinct values, ascending
	ix, itx, iT []int32   // per row: index into xs, txs, Ts
}

// compressRows groups identical rows. Distinct values are found by hashing
// and ranked by sorting only the (few) distinct values; each row becomes
// the integer key (rank x, rank t_x, rank T), whose order is the
// lexicographic order of (x, t_x, T); the keys are radix sorted and equal
// neighbours merged. Everything is linear in the number of customers and
// avoids a hash table keyed by the whole triple, whose cache misses made
// compression cost a third of a BG/NBD fit.
func compressRows(x, tx, T []float64) (purchaseRows, error) {
	n := len(x)
	if len(tx) != n || len(T) != n {
		return purchaseRows{}, fmt.Errorf("length mismatch: x %d, tx %d, T %d", n, len(tx), len(T))
	}
	var pr purchaseRows
	var rx, rtx, rT []int32
	// The columns are ranked concurrently: each is a pass of hash lookups
	// over all customers, a third of compressRows's time.
	var errs [3]error
	var wg sync.WaitGroup
	wg.Go(func() { pr.txs, rtx, errs[1] = rankValues(tx) })
	wg.Go(func() { pr.Ts, rT, errs[2] = rankValues(T) })
	pr.xs, rx, errs[0] = rankValues(x)
	wg.Wait()
	for i, name := range []string{"x", "t_x", "T"} {
		if errs[i] != nil {
			return purchaseRows{}, fmt.Errorf("%s: %w", name, errs[i])
		}
	}
	// Pack the ranks into one integer key per row: sorting the keys sorts
	// the rows lexicographically, and equal keys are equal rows.
	if n == 0 {
		return pr, nil
	}
	nx, ntx, nT := uint64(len(pr.xs)), uint64(len(pr.txs)), uint64(len(pr.Ts))
	hi1, nxtx := bits.Mul64(nx, ntx)
	if hi2, _ := bits.Mul64(nxtx, nT); hi1 != 0 || hi2 != 0 {
		return compressRowsSlow(pr, rx, rtx, rT), nil
	}
	keys := make([]uint64, n)
	for i := range n {
		keys[i] = (uint64(rx[i])*ntx+uint64(rtx[i]))*nT + uint64(rT[i])
	}
	keys = radixSort(keys, make([]uint64, n), bits.Len64(nx*ntx*nT))
	distinct := 0
	for i, k := range keys {
		if i == 0 || k != keys[i-1] {
			distinct++
		}
	}
	pr.alloc(distinct)
	r := -1
	for i, k := range keys {
		if i > 0 && k == keys[i-1] {
			pr.W[r]++
			continue
		}
		r++
		pr.set(r, int32(k/(ntx*nT)), int32(k/nT%ntx), int32(k%nT), 1)
	}
	return pr, nil
}

// compressRowsSlow is compressRows for more distinct values than a 64-bit
// key holds (millions in every column, x included): a comparison sort of
// the rows.
func compressRowsSlow(pr purchaseRows, rx, rtx, rT []int32) purchaseRows {
	key := func(i int32) [3]int32 { return [3]int32{rx[i], rtx[i], rT[i]} }
	order := make([]int32, len(rx))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		ka, kb := key(a), key(b)
		return slices.Compare(ka[:], kb[:])
	})
	var first []int32
	var w []float64
	for k, i := range order {
		if k > 0 && key(i) == key(order[k-1]) {
			w[len(w)-1]++
			continue
		}
		first, w = append(first, i), append(w, 1)
	}
	pr.alloc(len(first))
	for r, i := range first {
		pr.set(r, rx[i], rtx[i], rT[i], w[r])
	}
	return pr
}

// radixSort sorts keys below 2^nbits with least-significant-digit radix
// passes of 11 bits (two passes for the CDNOW master's keys), using tmp
// as scratch, and returns the sorted slice (keys or tmp). A digit all keys
// share is skipped.
func radixSort(keys, tmp []uint64, nbits int) []uint64 {
	const digit = 11
	if len(keys) == 0 {
		return keys
	}
	var count [1 << digit]int
	for shift := 0; shift < nbits; shift += digit {
		clear(count[:])
		for _, k := range keys {
			count[k>>shift&(1<<digit-1)]++
		}
		if count[keys[0]>>shift&(1<<digit-1)] == len(keys) {
			// All keys share this digit (the exponents of floats of
			// similar size): the pass would only copy.
			continue
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, k := range keys {
			d := k >> shift & (1<<digit - 1)
			tmp[count[d]] = k
			count[d]++
		}
		keys, tmp = tmp, keys
	}
	return keys
}

// withoutTx returns what compressRows(X, zeros, T) returns for the
// customers behind pr (a compressRows result): the rows of one x, sorted
// by (t_x, T), are merged by T, their weights (customer counts, exact
// integers) added. A dense table over the distinct T does that in one pass
// per x; it reports false when the table scans (distinct x × distinct T)
// would cost more than compressing again.
func (pr *purchaseRows) withoutTx() (purchaseRows, bool) {
	n, nT := pr.Len(), len(pr.Ts)
	if len(pr.xs)*nT > 4*n+1<<16 {
		return purchaseRows{}, false
	}
	out := purchaseRows{xs: pr.xs, txs: []float64{0}, Ts: pr.Ts}
	acc := make([]float64, nT)
	// Two passes over the groups of equal x: count the rows, then fill.
	merge := func(emit func(jx, jT int32, w float64)) {
		for lo := 0; lo < n; {
			jx := pr.ix[lo]
			hi := lo
			for ; hi < n && pr.ix[hi] == jx; hi++ {
				acc[pr.iT[hi]] += pr.W[hi]
			}
			for jT, w := range acc {
				if w != 0 {
					emit(jx, int32(jT), w)
					acc[jT] = 0
				}
			}
			lo = hi
		}
	}
	distinct := 0
	merge(func(int32, int32, float64) { distinct++ })
	out.alloc(distinct)
	r := 0
	merge(func(jx, jT int32, w float64) {
		out.set(r, jx, 0, jT, w)
		r++
	})
	return out, true
}

// indexRows builds purchaseRows over the rows as given, without merging
// duplicates: LogLik's path, where the caller may already have compressed.
func indexRows(x, tx, T, w []float64) purchaseRows {
	pr := purchaseRows{Compressed: Compressed{X: x, Tx: tx, T: T, W: w}}
	pr.xs, pr.ix, _ = rankValues(x)
	pr.txs, pr.itx, _ = rankValues(tx)
	pr.Ts, pr.iT, _ = rankValues(T)
	if w == nil {
		pr.W = make([]float64, len(x))
		for i := range pr.W {
			pr.W[i] = 1
		}
	}
	return pr
}

func (pr *purchaseRows) alloc(n int) {
	pr.X, pr.Tx, pr.T, pr.W = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	pr.ix, pr.itx, pr.iT = make([]int32, n), make([]int32, n), make([]int32, n)
}

func (pr *purchaseRows) set(r int, jx, jtx, jT int32, w float64) {
	pr.ix[r], pr.itx[r], pr.iT[r] = jx, jtx, jT
	pr.X[r], pr.Tx[r], pr.T[r], pr.W[r] = pr.xs[jx], pr.txs[jtx], pr.Ts[jT], w
}

// rankValues returns the distinct values of v in ascending order and, for
// each element, the rank of its value. -0 is folded into +0. NaN is
// reported as an error (it has no rank); the ranks are then still usable
// for evaluation, with NaN first.
func rankValues(v []float64) (vals []float64, rank []int32, err error) {
	ix := newFloatIndex(64)
	id := make([]int32, len(v))
	for i, f := range v {
		if f != f && err == nil {
			err = fmt.Errorf("element %d is NaN", i)
		}
		id[i], _ = ix.id(f + 0)
	}
	vals = ix.vals
	order := make([]int32, len(vals))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(vals[a], vals[b]) })
	toRank := make([]int32, len(vals))
	sorted := make([]float64, len(vals))
	for r, i := range order {
		toRank[i] = int32(r)
		sorted[r] = vals[i]
	}
	for i := range id {
		id[i] = toRank[id[i]]
	}
	return sorted, id, err
}

// floatIndex numbers distinct float64 values (by bit pattern) in order of
// first appearance. It is an open-addressing hash table: the values it
// sees are few and repeated, so lookups stay in cache and cost a few
// nanoseconds, a fraction of a Go map lookup.
type floatIndex struct {
	slots []floatSlot
	vals  []float64
	shift uint
}

type floatSlot struct {
	key uint64
	id  int32 // -1: empty
}

func newFloatIndex(hint int) *floatIndex {
	ix := &floatIndex{}
	ix.grow(hint)
	return ix
}

func (ix *floatIndex) grow(hint int) {
	size, shift := 16, uint(60)
	for size < 2*hint {
		size, shift = size*2, shift-1
	}
	ix.slots, ix.shift = make([]floatSlot, size), shift
	for i := range ix.slots {
		ix.slots[i].id = -1
	}
	for id, v := range ix.vals {
		k := math.Float64bits(v)
		h := hash64(k) >> ix.shift
		for ix.slots[h].id >= 0 {
			h = (h + 1) & uint64(size-1)
		}
		ix.slots[h] = floatSlot{k, int32(id)}
	}
}

// id returns the number of v and whether v was new.
func (ix *floatIndex) id(v float64) (int32, bool) {
	k := math.Float64bits(v)
	mask := uint64(len(ix.slots) - 1)
	for h := hash64(k) >> ix.shift; ; h = (h + 1) & mask {
		s := ix.slots[h]
		if s.id < 0 {
			id := int32(len(ix.vals))
			ix.slots[h] = floatSlot{k, id}
			ix.vals = append(ix.vals, v)
			if 2*len(ix.vals) > len(ix.slots) {
				ix.grow(len(ix.vals))
			}
			return id, true
		}
		if s.key == k {
			return s.id, false
		}
	}
}

// keyIndex numbers distinct 128-bit keys in order of first appearance,
// like floatIndex.
type keyIndex struct {
	slots []int32 // id+1; 0 is empty
	keys  [][2]uint64
	shift uint
}

func newKeyIndex(hint int) *keyIndex {
	ix := &keyIndex{}
	ix.grow(hint)
	return ix
}

func (ix *keyIndex) grow(hint int) {
	size, shift := 16, uint(60)
	for size < 2*hint {
		size, shift = size*2, shift-1
	}
	ix.slots, ix.shift = make([]int32, size), shift
	for id, k := range ix.keys {
		h := hash128(k) >> ix.shift
		for ix.slots[h] != 0 {
			h = (h + 1) & uint64(size-1)
		}
		ix.slots[h] = int32(id + 1)
	}
}

func (ix *keyIndex) id(a, b uint64) (int32, bool) {
	k := [2]uint64{a, b}
	mask := uint64(len(ix.slots) - 1)
	for h := hash128(k) >> ix.shift; ; h = (h + 1) & mask {
		s := ix.slots[h]
		if s == 0 {
			id := int32(len(ix.keys))
			ix.slots[h] = id + 1
			ix.keys = append(ix.keys, k)
			if 2*len(ix.keys) > len(ix.slots) {
				ix.grow(len(ix.keys))
			}
			return id, true
		}
		if ix.keys[s-1] == k {
			return s - 1, false
		}
	}
}

// hash64 mixes all bits into the top ones, which the tables use: float
// keys that differ only in low mantissa bits must not collide.
func hash64(k uint64) uint64 {
	k ^= k >> 31
	k *= 0x9E3779B97F4A7C15
	k ^= k >> 29
	return k * 0xBF58476D1CE4E5B9
}

func hash128(k [2]uint64) uint64 { return hash64(k[0] ^ hash64(k[1])) }

// validatePurchases checks summaries before a fit: the likelihoods assume
// 0 <= t_x <= T and x >= 0, and silently produce NaN otherwise.
func validatePurchases(x, tx, T []float64) error {
	if len(x) != len(tx) || len(x) != len(T) {
		return fmt.Errorf("length mismatch: x %d, tx %d, T %d", len(x), len(tx), len(T))
	}
	for i := range x {
		xi, ti, Ti := x[i], tx[i], T[i]
		// One predictable branch per valid row; NaN fails every comparison.
		if xi >= 0 && ti >= 0 && Ti >= ti && Ti <= math.MaxFloat64 && xi <= math.MaxFloat64 && (xi != 0 || ti == 0) {
			continue
		}
		if !(xi >= 0) || !(ti >= 0) || !(Ti >= ti) || math.IsInf(Ti, 0) || math.IsInf(xi, 0) {
			return fmt.Errorf("customer %d: invalid summary x=%v t_x=%v T=%v (need x >= 0, 0 <= t_x <= T < Inf)", i, xi, ti, Ti)
		}
		if xi == 0 && ti != 0 {
			return fmt.Errorf("customer %d: t_x=%v with x=0 (t_x must be 0 without repeat purchases)", i, ti)
		}
	}
	return nil
}
