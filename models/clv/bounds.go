package clv

import (
	"cmp"
	"context"
	"math"
	"runtime"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// pairGroups groups rows by their (x, T) pair, the part of a summary that
// the horizon terms of the factored models (E[Y(t)] / P(alive), the
// count distribution of AliveModel, the no-drop-out bound) depend on:
// the rows of pair p are members[start[p]:start[p+1]], ordered by t_x
// and then by row, so that rows with the same summary are adjacent. Pairs
// are ordered by x, then T. The grouping depends on the values only, not
// on the number of workers.
type pairGroups struct {
	pairX, pairT []float64
	start        []int32
	members      []int32
}

func groupByPair(x, tx, T []float64) pairGroups {
	n := len(x)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(i, j int32) int {
		if c := cmp.Compare(x[i]+0, x[j]+0); c != 0 {
			return c
		}
		if c := cmp.Compare(T[i]+0, T[j]+0); c != 0 {
			return c
		}
		if c := cmp.Compare(tx[i]+0, tx[j]+0); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	g := pairGroups{members: idx}
	for k, i := range idx {
		if k == 0 || x[i]+0 != g.pairX[len(g.pairX)-1] || T[i]+0 != g.pairT[len(g.pairT)-1] {
			g.pairX, g.pairT = append(g.pairX, x[i]+0), append(g.pairT, T[i]+0)
			g.start = append(g.start, int32(k))
		}
	}
	g.start = append(g.start, int32(n))
	return g
}

func (g *pairGroups) rows(p int) []int32 { return g.members[g.start[p]:g.start[p+1]] }

// eachGroup calls the function that newWorker returns for every group
// 0..n-1, on at most workers goroutines (workers <= 0: GOMAXPROCS), each
// with its own function (and so its own scratch space). Groups are handed
// out in small chunks, since their costs differ widely; a group's results
// must depend on the group alone, so they do not depend on workers.
func eachGroup(ctx context.Context, n, workers int, newWorker func() func(g int)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 16
	nc := (n + chunk - 1) / chunk
	var next atomic.Int64
	work := func() error {
		fn := newWorker()
		for {
			c := int(next.Add(1) - 1)
			if c >= nc {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			for g := c * chunk; g < min((c+1)*chunk, n); g++ {
				fn(g)
			}
		}
	}
	w := min(workers, nc)
	if w <= 1 {
		if err := work(); err != nil {
			return err
		}
		return ctx.Err()
	}
	var eg errgroup.Group
	for range w {
		eg.Go(work)
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// quantileSorted returns the q-quantile of the sorted v by linear
// interpolation between order statistics.
func quantileSorted(v []float64, q float64) float64 {
	h := q * float64(len(v)-1)
	i := int(h)
	if i >= len(v)-1 {
		return v[len(v)-1]
	}
	return v[i] + (h-float64(i))*(v[i+1]-v[i])
}

// quantiles returns the qa- and qb-quantiles of v (as quantile), sorting
// one copy of v in buf, which it returns grown.
func quantiles(v, buf []float64, qa, qb float64) (a, b float64, grown []float64) {
	buf = append(buf[:0], v...)
	slices.Sort(buf)
	return quantileSorted(buf, qa), quantileSorted(buf, qb), buf
}

// bgHorizonSeries evaluates the discounted horizon of BG/NBD and MBG/NBD
// draws (discountedHorizon) without a hypergeometric function call per
// period. Their horizon is
//
//	h(t) = C/(a-1) · (1 - g),  g = (1-z)^{a-1} 2F1(A, a-1; C; z),  z = t/(α+T+t)
//
// with A = a+b-1-r, C = a+b+x-1 (BG/NBD) or A = a+b-r, C = a+b+x
// (MBG/NBD). The series coefficients of 2F1 depend on the draw and x
// only, not on T or t, so they are computed once per draw and x (the
// groups come ordered by x) and each period costs one power series in z
// with precomputed coefficients. Pfaff's transformation gives also
//
//	g = 2F1(a-1, C-A; C; w),  w = -t/(α+T),
//
// which needs no power of 1-z: it is used where |w| ≤ 1/2, the z series
// elsewhere up to z = 0.9, and beyond that, or where a series would lose
// digits to cancellation, or for parameters where the hypergeometric
// function has special cases (a near 1, C ≤ 0), the model's own horizon.
// Both series are summed until a term is below the rounding of the sum,
// as the hypergeometric function's own series is. The w series gives
// 1 - g as its own tail, without the cancellation of 1 - g for short
// horizons; the results agree with discountedHorizon to ~1e-12 relative,
// the rounding of that cancellation in discountedHorizon, and to 1e-10
// where a is near 1 (TestSeriesDiscountedHorizon).
type bgHorizonSeries struct {
	d      int
	x      float64
	ok     bool
	r, al  float64
	a, C   float64
	pref   float64
	zc, wc coefSeq
}

// coefSeq holds the coefficients c_j = (p)_j (q)_j / ((s)_j j!) of
// 2F1(p, q; s; ·), grown on demand.
type coefSeq struct {
	p, q, s float64
	c       []float64
}

func (cs *coefSeq) reset(p, q, s float64) {
	cs.p, cs.q, cs.s = p, q, s
	cs.c = append(cs.c[:0], 1)
}

func (cs *coefSeq) at(j int) float64 {
	for len(cs.c) <= j {
		k := float64(len(cs.c) - 1)
		cs.c = append(cs.c, cs.c[len(cs.c)-1]*((cs.p+k)*(cs.q+k)/((cs.s+k)*(k+1))))
	}
	return cs.c[j]
}

// tail returns Σ_{j≥1} c_j v^j, the series less its leading 1, summed
// until a term is below the rounding of the partial sum, and false when
// the sum lost more than ~1e-12 to cancellation or did not converge in
// maxSeriesTerms terms. Leaving out the 1 lets 1 - 2F1 be formed without
// cancellation.
func (cs *coefSeq) tail(v float64) (float64, bool) {
	var acc seriesSum
	pw := 1.0
	c := cs.c
	for j := 1; j < maxSeriesTerms; j++ {
		if j >= len(c) {
			cs.at(2 * j)
			c = cs.c
		}
		pw *= v
		if acc.add(c[j] * pw) {
			return acc.s, acc.exact()
		}
	}
	return acc.s, false
}

const maxSeriesTerms = 2000

// seriesSum sums a series' terms: add reports when a term falls below the
// rounding of the partial sum, exact whether the sum then lost no more
// than ~1e-12 to cancellation (no term was over 1e4 times it).
type seriesSum struct{ s, umax float64 }

func (a *seriesSum) add(u float64) (converged bool) {
	a.s += u
	au := math.Abs(u)
	if au > a.umax {
		a.umax = au
	}
	return au <= 0x1p-53*math.Abs(a.s)
}

func (a *seriesSum) exact() bool { return a.umax <= 1e4*math.Abs(a.s) }

// horizonSeries is the per-worker state: one bgHorizonSeries per draw,
// and the discount weights and moments of the periods' sum.
//
// Summed by parts, the discounted horizon is a weighted sum of the
// horizons, Σ_{k=1..K} (h_k - h_{k-1}) δ_k = Σ_k β_k h_k with δ_k the
// discount of period k, β_k = δ_k - δ_{k+1} for k < K and β_K = δ_K. Where
// w_k = kL/(α+T) ≤ 1/2, h_k = -C/(a-1) Σ_{j≥1} e_j (-w_k)^j (the tail of
// the w series, coefficients e_j), and w_k = k w_1, so the periods k ≤ k0
// with w_k ≤ 1/2 sum to one series,
//
//	Σ_{k≤k0} β_k h_k = -C/(a-1) Σ_{j≥1} e_j (-w_{k0})^j M_j,  M_j = Σ_{k≤k0} β_k (k/k0)^j,
//
// whose moments M_j depend on the periods and the rate only: one series
// per draw and (x, T) pair instead of one per period. The periods beyond
// k0 are summed one by one.
type horizonSeries struct {
	st      []bgHorizonSeries
	periods int
	disc    float64
	beta    []float64   // β_k, k = 1..periods at beta[k-1]
	mom     [][]float64 // mom[k0][j-1] = M_j for the first k0 periods, grown on demand
}

func newHorizonSeries(D int) *horizonSeries {
	return &horizonSeries{st: make([]bgHorizonSeries, D), periods: -1}
}

// weights sets β and clears the moments when periods or disc change.
func (hs *horizonSeries) weights(periods int, disc float64) {
	if periods == hs.periods && disc == hs.disc {
		return
	}
	hs.periods, hs.disc = periods, disc
	dk := make([]float64, periods+2)
	df := 1.0
	for k := 1; k <= periods+1; k++ {
		df /= 1 + disc
		dk[k] = df
	}
	hs.beta = make([]float64, periods)
	for k := 1; k <= periods; k++ {
		hs.beta[k-1] = dk[k] - dk[k+1]
	}
	if periods > 0 {
		hs.beta[periods-1] = dk[periods]
	}
	hs.mom = make([][]float64, periods+1)
}

// moment returns M_j of the first k0 periods.
func (hs *horizonSeries) moment(k0, j int) float64 {
	m := hs.mom[k0]
	for len(m) < j {
		jj := float64(len(m) + 1)
		var v float64
		for k := 1; k <= k0; k++ {
			v += hs.beta[k-1] * math.Pow(float64(k)/float64(k0), jj)
		}
		m = append(m, v)
	}
	hs.mom[k0] = m
	return m[j-1]
}

// discounted returns discountedHorizon(f, x, T, periods, L, disc) of draw
// d, by the series where f is a BG/NBD or MBG/NBD.
func (hs *horizonSeries) discounted(d int, f factored, x, T float64, periods int, L, disc float64) float64 {
	s := &hs.st[d]
	if s.d != d || s.x != x || s.c0() == 0 {
		var r, al, a, A, C float64
		switch m := f.(type) {
		case BGNBD:
			r, al, a = m.R, m.Alpha, m.A
			A, C = m.A+m.B-1-m.R, m.A+m.B+x-1
		case MBGNBD:
			r, al, a = m.R, m.Alpha, m.A
			A, C = m.A+m.B-m.R, m.A+m.B+x
		default:
			return discountedHorizon(f, x, T, periods, L, disc)
		}
		*s = bgHorizonSeries{d: d, x: x, r: r, al: al, a: a, C: C, zc: s.zc, wc: s.wc,
			ok: math.Abs(a-1) >= 1e-7 && C > 0 && !math.IsNaN(A) && !math.IsInf(C, 0)}
		s.pref = C / (a - 1)
		s.zc.reset(A, a-1, C)
		s.wc.reset(a-1, C-A, C)
	}
	if !s.ok || periods < 1 {
		return discountedHorizon(f, x, T, periods, L, disc)
	}
	hs.weights(periods, disc)
	k0 := 0
	for k0 < periods && float64(k0+1)*L/(s.al+T) <= 0.5 {
		k0++
	}
	var sum float64
	if k0 > 0 {
		tl, ok := hs.momentTail(s, k0, float64(k0)*L/(s.al+T))
		if !ok {
			k0 = 0 // every period by itself
		} else {
			sum = s.pref * -tl
		}
	}
	for k := k0 + 1; k <= periods; k++ {
		t := float64(k) * L
		h, ok := s.horizon(t, T)
		if !ok {
			h = f.horizon(t, x, T)
		}
		sum += hs.beta[k-1] * h
	}
	return sum
}

// momentTail returns Σ_{j≥1} e_j (-w)^j M_j for the first k0 periods, w
// the w of period k0, summed as coefSeq.tail.
func (hs *horizonSeries) momentTail(s *bgHorizonSeries, k0 int, w float64) (float64, bool) {
	var acc seriesSum
	pw := 1.0
	for j := 1; j < maxSeriesTerms; j++ {
		pw *= -w
		if acc.add(s.wc.at(j) * pw * hs.moment(k0, j)) {
			return acc.s, acc.exact()
		}
	}
	return acc.s, false
}

// c0 is 0 for a state never set (the zero value).
func (s *bgHorizonSeries) c0() float64 {
	if len(s.zc.c) == 0 {
		return 0
	}
	return s.zc.c[0]
}

// horizon returns h(t) for this draw and x at T by a series, or false.
func (s *bgHorizonSeries) horizon(t, T float64) (float64, bool) {
	if w := t / (s.al + T); w <= 0.5 {
		// 1 - g = -(g - 1), the series' tail.
		tl, ok := s.wc.tail(-w)
		return s.pref * -tl, ok
	}
	z := t / (s.al + T + t)
	if !(z <= 0.9) {
		return 0, false
	}
	tl, ok := s.zc.tail(z)
	g := math.Exp((s.a-1)*math.Log1p(-z)) * (1 + tl)
	return s.pref * (1 - g), ok
}

// pAlives evaluates P(alive) of the draws for the summaries of one (x, T)
// pair. BG/NBD's and MBG/NBD's P(alive) is
//
//	1 / (1 + exp(ln a - ln(b+x-[BG]) + (r+x) ln(1 + (T-t_x)/(α+t_x))))
//
// whose two first logarithms depend on the draw and x only: they are taken
// once per draw (ln a) and per draw and pair (ln(b+x…)), and the rest is
// the models' PAlive expression, so the values are PAlive's to the bit
// (TestBoundsMatchReference). Other models call PAlive.
type pAlives struct {
	ms   []PurchaseModel
	kind int // 0: PAlive, 1: BG/NBD, 2: MBG/NBD, the draws all of one
	// By draw, for kinds 1 and 2: the parameters, ln a, and (worker, per
	// pair) ln(b+x…).
	r, alpha, b, logA []float64
	logBx             []float64
}

// bgKind is m's pAlives kind.
func bgKind(m PurchaseModel) int {
	switch m.(type) {
	case BGNBD:
		return 1
	case MBGNBD:
		return 2
	}
	return 0
}

func newPAlives(ms []PurchaseModel) *pAlives {
	p := &pAlives{ms: ms, kind: bgKind(ms[0])}
	for _, m := range ms {
		if bgKind(m) != p.kind {
			p.kind = 0
		}
	}
	if p.kind == 0 {
		return p
	}
	for _, m := range ms {
		var r, al, a, b float64
		switch v := m.(type) {
		case BGNBD:
			r, al, a, b = v.R, v.Alpha, v.A, v.B
		case MBGNBD:
			r, al, a, b = v.R, v.Alpha, v.A, v.B
		}
		p.r, p.alpha, p.b = append(p.r, r), append(p.alpha, al), append(p.b, b)
		p.logA = append(p.logA, math.Log(a))
	}
	return p
}

// worker returns a copy with its own per-pair scratch.
func (p *pAlives) worker() *pAlives {
	q := *p
	q.logBx = make([]float64, len(p.ms))
	return &q
}

// pair sets the per-pair terms for x.
func (p *pAlives) pair(x float64) {
	for d := range p.b {
		if p.kind == 1 {
			p.logBx[d] = math.Log(p.b[d] + x - 1)
		} else {
			p.logBx[d] = math.Log(p.b[d] + x)
		}
	}
}

// into sets pa[d] to draw d's P(alive | x, t_x, T), x the pair's.
func (p *pAlives) into(pa []float64, x, tx, T float64) {
	switch {
	case p.kind == 0:
		for d, m := range p.ms {
			pa[d] = m.PAlive(x, tx, T)
		}
	case p.kind == 1 && x == 0:
		for d := range pa {
			pa[d] = 1
		}
	default:
		for d := range pa {
			l := p.logA[d] - p.logBx[d] + (p.r[d]+x)*math.Log1p((T-tx)/(p.alpha[d]+tx))
			pa[d] = 1 / (1 + math.Exp(l))
		}
	}
}
