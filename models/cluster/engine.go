package cluster

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
)

// The lockstep engine runs several restarts (jobs) through the data
// together: every pass over the rows does one step of every active job —
// a k-means++ step for one, a Lloyd or Hamerly iteration for another, the
// final assignment for a third — block by block, so that a block of rows is
// read from memory once and then served from cache to all of them. Once
// Hamerly's bounds hold, an iteration costs a few instructions for most rows
// and a full scan for the rest, scattered over the data; alone, a restart
// would wait on memory for those rows, and the k-means++ passes would each
// stream all of it.
//
// Each job computes exactly what it would compute alone: its own random
// stream, its own chunk-indexed partial sums merged in chunk order. So the
// result depends neither on the worker count nor on which jobs share a pass.

// passRows is how many rows each active job handles before the next job
// takes them: few enough that they stay in L2 (160 KB at d = 10) for the
// next job, many enough that each job streams its own per-row state in
// long runs.
const passRows = 2048

type jobPhase int

const (
	phaseSeedFirst jobPhase = iota // closest distances to the given centres
	phaseSeedStep                  // one greedy k-means++ step
	phaseIterate                   // one Lloyd or Hamerly iteration
	phaseFinal                     // labels and inertia of the final centres
	phaseDone
)

// jobMem is the per-row memory of a job, reused by the next job of a slot.
type jobMem struct {
	labels       []int32
	upper, lower []float64 // Hamerly's bounds; upper doubles as k-means++'s closest distances
}

// ensure sizes m for n rows. Only Hamerly reads lower: a Lloyd slot
// without it holds 12 bytes a row instead of 20, which at 5M customers and
// two slots is 80 MB of the cluster stage's peak.
func (m *jobMem) ensure(n int, hamerly bool) {
	if len(m.labels) != n {
		m.labels = make([]int32, n)
		m.upper, m.lower = make([]float64, n), nil
	}
	if hamerly && len(m.lower) != n {
		m.lower = make([]float64, n)
	}
}

type job struct {
	r, n, d, k int
	kn         kernel
	hamerly    bool
	maxIter    int
	tolAbs     float64
	// seedOnly stops the job once k-means++ has chosen its k centres.
	seedOnly bool
	rng      *rand.Rand
	mem      *jobMem
	phase    jobPhase
	C        []float64
	g        int // centres chosen so far
	cs       centres

	// k-means++ (see seedRows)
	trials   int
	part     []float64 // chunk sums of the closest distances (the potential)
	candPart []float64 // chunk × candidate sums of the potential each candidate would leave
	prefix   []float64
	cand     []int
	set      []float64
	pending  bool // C[g-1] is chosen but not yet folded into the closest distances
	yc       centres
	sc       centres // set in the vector layout, for seedFused
	weights  []float64
	out      []float64 // main-goroutine kernel output, for sampling

	// iterations
	it        int
	pt        *partials
	sums      []float64
	counts    []int64
	newC      []float64
	h         *hamerlyState
	strict    bool
	converged bool
	part2     []float64 // chunk sums of the final inertia
	inertia   float64
}

// newJob starts restart r: k-means++ from the given centres (row-major,
// possibly none) with random stream rng, then iterations as p says.
func newJob(X Matrix, p fitParams, r int, rng *rand.Rand, init []float64, mem *jobMem) *job {
	n, d, k := X.N, X.D, p.k
	hamerly := p.algo == Hamerly && k > 1
	mem.ensure(n, hamerly)
	nc := numChunks(n)
	jb := &job{r: r, n: n, d: d, k: k, kn: p.kern, hamerly: hamerly,
		maxIter: p.maxIter, tolAbs: p.tolAbs, rng: rng, mem: mem,
		C: make([]float64, k*d)}
	jb.g = copy(jb.C, init) / d
	jb.trials = 2 + int(math.Log(float64(k)))
	jb.part = make([]float64, nc)
	if jb.g == k {
		jb.startIterations()
		return jb
	}
	if jb.g == 0 {
		copy(jb.C[:d], X.Row(jb.rng.IntN(n)))
		jb.g = 1
	}
	jb.phase = phaseSeedFirst
	return jb
}

// prepare sets up the job's work for the next pass. It touches only the
// job's own state, so jobs prepare concurrently.
func (jb *job) prepare(X Matrix) {
	d := jb.d
	switch jb.phase {
	case phaseSeedStep:
		nc := len(jb.part)
		if jb.prefix == nil {
			jb.prefix = make([]float64, nc+1)
			jb.cand = make([]int, jb.trials)
			jb.candPart = make([]float64, nc*jb.trials)
			jb.weights = make([]float64, chunkRows)
		}
		for c := 0; c < nc; c++ {
			jb.prefix[c+1] = jb.prefix[c] + jb.part[c]
		}
		pot := jb.prefix[nc]
		if jb.pending {
			jb.kn.prepare(&jb.yc, jb.C[(jb.g-1)*d:jb.g*d])
		}
		for t := range jb.cand {
			jb.cand[t] = sampleD2(jb.prefix, jb.rng.Float64()*pot, jb.n, jb.rng, func(c int) []float64 { return jb.chunkWeights(X, c) })
		}
		jb.set = jb.set[:0]
		if jb.pending {
			jb.set = append(jb.set, jb.C[(jb.g-1)*d:jb.g*d]...)
		}
		for _, i := range jb.cand {
			jb.set = append(jb.set, X.Row(i)...)
		}
		if jb.fused() {
			jb.kn.prepare(&jb.sc, jb.set)
		}
	case phaseIterate:
		jb.it++
		jb.kn.prepare(&jb.cs, jb.C)
		if jb.hamerly && jb.it > 1 {
			jb.h.prepare(jb.C)
		}
	case phaseFinal:
		jb.kn.prepare(&jb.cs, jb.C)
		if jb.part2 == nil {
			jb.part2 = make([]float64, len(jb.part))
		}
	}
}

// chunkWeights returns the k-means++ sampling weights of chunk c's rows:
// the closest distances with the pending centre folded in, computed as the
// step pass computes them.
func (jb *job) chunkWeights(X Matrix, c int) []float64 {
	lo, hi := chunkBounds(c, jb.n)
	w := jb.weights[:hi-lo]
	copy(w, jb.mem.upper[lo:hi])
	if !jb.pending {
		return w
	}
	st := jb.yc.stride
	if len(jb.out) < blockRows*st {
		jb.out = make([]float64, blockRows*st)
	}
	for b := lo; b < hi; b += blockRows {
		e := min(hi, b+blockRows)
		jb.kn.dists(X.Data, b, e, &jb.yc, jb.out)
		for i := b; i < e; i++ {
			w[i-lo] = minDist(w[i-lo], jb.out[(i-b)*st])
		}
	}
	return w
}

// beginChunk clears the job's results of this pass for chunk c; the centre
// sums only on the first iteration, as later ones move rows in them.
func (jb *job) beginChunk(c int) {
	switch jb.phase {
	case phaseSeedFirst:
		jb.part[c] = 0
	case phaseSeedStep:
		clear(jb.candPart[c*jb.trials : (c+1)*jb.trials])
	case phaseIterate:
		if jb.it == 1 {
			sums, counts := jb.pt.chunk(c, jb.k, jb.d)
			clear(sums)
			clear(counts)
		}
		jb.pt.changed[c] = 0
	case phaseFinal:
		jb.part2[c] = 0
	}
}

// seeding reports whether the job's pass is a k-means++ one, whose
// distances runJobs computes for all such jobs at once (seedCentres,
// seedRows).
func (jb *job) seeding() bool { return jb.phase == phaseSeedFirst || jb.phase == phaseSeedStep }

// seedCentres returns the centres (row-major) whose distances the job's
// k-means++ pass needs: the given ones for the first pass, then the centre
// chosen last (if not folded in yet) and the candidates.
func (jb *job) seedCentres() []float64 {
	if jb.phase == phaseSeedFirst {
		return jb.C[:jb.g*jb.d]
	}
	return jb.set
}

// fused reports whether the job's k-means++ step runs through
// seedFusedSIMD, on its own centres, rather than through the kernel output
// shared by the pass's k-means++ jobs: the vector kernel, and the pending
// centre and the candidates in one group of lanes (fold + trials ≤ 8, that
// is k ≤ 403).
func (jb *job) fused() bool {
	return jb.phase == phaseSeedStep && jb.kn.simd && len(jb.set)/jb.d <= simdGroup
}

// seedFused is seedRows for a fused job (see fused), on rows [lo,hi) of
// chunk c. Storing the distances of the shared kernel and reading them back
// in seedStepSIMD, with its running sums' one add per row in a chain, took
// 0.22 of the e2e run's 1.36 cluster CPU-s (1M rows, k = 8, d = 3; distsSIMD
// 0.14 s, seedStepSIMD 0.08 s).
func (jb *job) seedFused(X []float64, c, lo, hi int) {
	if hi <= lo {
		return
	}
	m, d := jb.mem, jb.d
	acc := jb.candPart[c*jb.trials : (c+1)*jb.trials]
	fold := jb.fold()
	// The kernel keeps candidate t's sum in lane fold+t, where its
	// distance is.
	var a8 [simdGroup]float64
	copy(a8[fold:], acc)
	_, _ = m.upper[hi-1], X[hi*d-1]
	_ = jb.sc.ct[simdGroup*d-1]
	seedFusedSIMD(&X[lo*d], hi-lo, d, &jb.sc.ct[0], &m.upper[lo], fold, &a8)
	copy(acc, a8[fold:])
}

// seedPair is two fused k-means++ jobs of at most 4 candidates each that
// share seedPairSIMD calls, with their centres in its layout.
type seedPair struct {
	a, b *job
	ct   []float64 // pairLayout
}

// pairSeeds pairs the fused jobs of at most 4 candidates (k ≤ 20) in
// order, in pairs' memory, and returns the pairs and the jobs left alone.
// Two jobs at a time is the e2e shape (maxSlots(3) = 2): two seedFusedSIMD
// calls spend 4 vectors of distances a dimension on their 10 centres,
// seedPairSIMD 3.
func pairSeeds(pairs []seedPair, singles, fused []*job) ([]seedPair, []*job) {
	pairs, singles = pairs[:0], singles[:0]
	var first *job
	for _, jb := range fused {
		switch {
		case jb.trials > 4:
			singles = append(singles, jb)
		case first == nil:
			first = jb
		default:
			if len(pairs) < cap(pairs) {
				pairs = pairs[:len(pairs)+1]
			} else {
				pairs = append(pairs, seedPair{})
			}
			p := &pairs[len(pairs)-1]
			p.a, p.b = first, jb
			p.ct = pairLayout(p.ct, first.set, first.fold(), jb.set, jb.fold(), jb.d)
			first = nil
		}
	}
	if first != nil {
		singles = append(singles, first)
	}
	return pairs, singles
}

// seedRows is seedFused for both jobs of p on rows [lo,hi) of chunk c.
func (p *seedPair) seedRows(X []float64, c, lo, hi int) {
	if hi <= lo {
		return
	}
	a, b, d := p.a, p.b, p.a.d
	accA := a.candPart[c*a.trials : (c+1)*a.trials]
	accB := b.candPart[c*b.trials : (c+1)*b.trials]
	var a4, b4 [4]float64
	copy(a4[:], accA)
	copy(b4[:], accB)
	_, _, _ = a.mem.upper[hi-1], b.mem.upper[hi-1], X[hi*d-1]
	_ = p.ct[pairLanes*d-1]
	seedPairSIMD(&X[lo*d], hi-lo, d, &p.ct[0], &a.mem.upper[lo], &b.mem.upper[lo], a.fold()|b.fold()<<1, &a4, &b4)
	copy(accA, a4[:])
	copy(accB, b4[:])
}

// fold is 1 when the job's k-means++ set starts with the pending centre,
// else 0.
func (jb *job) fold() int { return len(jb.set)/jb.d - jb.trials }

// seedRows does the job's k-means++ pass on rows [lo,hi) of chunk c, whose
// distances to seedCentres are in out, row r's at out[r*st+off:].
func (jb *job) seedRows(c, lo, hi int, out []float64, st, off int) {
	m := jb.mem
	if jb.phase == phaseSeedFirst {
		s := jb.part[c]
		for i := lo; i < hi; i++ {
			o := out[(i-lo)*st+off : (i-lo)*st+off+jb.g]
			_, v := argmin(o)
			m.upper[i] = v
			s += v
		}
		jb.part[c] = s
		return
	}
	acc := jb.candPart[c*jb.trials : (c+1)*jb.trials]
	fold := jb.fold()
	if jb.kn.simd && jb.trials <= simdGroup {
		var a8 [simdGroup]float64
		copy(a8[:], acc)
		_ = m.upper[hi-1]
		_ = out[(hi-lo-1)*st+off+fold+simdGroup-1]
		seedStepSIMD(&out[off], st, hi-lo, &m.upper[lo], fold, &a8)
		copy(acc, a8[:])
		return
	}
	for i := lo; i < hi; i++ {
		o := out[(i-lo)*st+off : (i-lo)*st+off+fold+jb.trials]
		cl := m.upper[i]
		if fold == 1 {
			cl = minDist(cl, o[0])
			m.upper[i] = cl
		}
		for t, v := range o[fold:] {
			acc[t] += minDist(cl, v)
		}
	}
}

// block does the job's work of this pass on rows [lo,hi) of chunk c.
func (jb *job) block(X []float64, c, lo, hi int, ws *workerScratch) {
	if jb.phase == phaseIterate && jb.hamerly && jb.it > 1 {
		// Hamerly blocks its kernel calls itself, over the rows its bounds
		// do not settle.
		sums, counts := jb.pt.chunk(c, jb.k, jb.d)
		m := jb.mem
		jb.pt.changed[c] += jb.h.block(jb.kn, X, &jb.cs, lo, hi, m.labels, m.upper, m.lower, sums, counts, ws)
		return
	}
	for b := lo; b < hi; b += blockRows {
		jb.kernelBlock(X, c, b, min(hi, b+blockRows), ws)
	}
}

// kernelBlock is block for at most blockRows rows and the phases that run
// every row through the distance kernel.
func (jb *job) kernelBlock(X []float64, c, lo, hi int, ws *workerScratch) {
	kn, cs := jb.kn, &jb.cs
	st := cs.stride
	out := ws.outFor(st)
	m := jb.mem
	switch jb.phase {
	case phaseIterate:
		sums, counts := jb.pt.chunk(c, jb.k, jb.d)
		switch {
		case !jb.hamerly:
			jb.pt.changed[c] += lloydBlock(kn, X, cs, lo, hi, m.labels, sums, counts, ws)
		default:
			jb.pt.changed[c] += hamerlyFirstBlock(kn, X, cs, lo, hi, m.labels, m.upper, m.lower, sums, counts, ws)
		}
	case phaseFinal:
		// Both cases read the distance off the same kernel output, so that
		// the inertia is the same bits whether labels were reassigned or not.
		kn.dists(X, lo, hi, cs, out)
		s := jb.part2[c]
		for i := lo; i < hi; i++ {
			o := out[(i-lo)*st : (i-lo)*st+cs.m]
			if jb.strict {
				s += o[m.labels[i]]
				continue
			}
			j, v := argmin(o)
			m.labels[i] = int32(j)
			s += v
		}
		jb.part2[c] = s
	}
}

// finish reduces the pass's partial sums and moves the job on.
func (jb *job) finish(X Matrix) {
	d := jb.d
	switch jb.phase {
	case phaseSeedFirst:
		jb.nextSeedPhase()
	case phaseSeedStep:
		bestT, bestPot := 0, math.Inf(1)
		for t := range jb.cand {
			var s float64
			for c := range jb.part {
				s += jb.candPart[c*jb.trials+t]
			}
			if s < bestPot {
				bestT, bestPot = t, s
			}
		}
		copy(jb.C[jb.g*d:], X.Row(jb.cand[bestT]))
		jb.g++
		jb.pending = true
		for c := range jb.part {
			jb.part[c] = jb.candPart[c*jb.trials+bestT]
		}
		jb.nextSeedPhase()
	case phaseIterate:
		jb.finishIteration(X)
	case phaseFinal:
		var s float64
		for _, v := range jb.part2 {
			s += v
		}
		jb.inertia = s
		jb.phase = phaseDone
	}
}

func (jb *job) nextSeedPhase() {
	switch {
	case jb.g < jb.k:
		jb.phase = phaseSeedStep
	case jb.seedOnly:
		jb.phase = phaseDone
	default:
		jb.startIterations()
	}
}

func (jb *job) startIterations() {
	k, d := jb.k, jb.d
	jb.phase = phaseIterate
	jb.pt = newPartials(numChunks(jb.n), k, d)
	jb.sums, jb.counts, jb.newC = make([]float64, k*d), make([]int64, k), make([]float64, k*d)
	jb.h = newHamerlyState(k, d)
	for i := range jb.mem.labels {
		jb.mem.labels[i] = -1
	}
}

func (jb *job) finishIteration(X Matrix) {
	k, d := jb.k, jb.d
	m := jb.mem
	changed := jb.pt.merge(jb.sums, jb.counts)
	moved := relocateEmpty(X, jb.C, m.labels, jb.counts, jb.pt)
	if len(moved) > 0 {
		jb.pt.merge(jb.sums, jb.counts)
	}
	if jb.hamerly {
		for _, i := range moved {
			m.upper[i], m.lower[i] = math.Inf(1), 0
		}
	}
	var shift float64
	C, newC := jb.C, jb.newC
	for j := 0; j < k; j++ {
		cj, nj := newC[j*d:j*d+d], C[j*d:j*d+d]
		if jb.counts[j] == 0 {
			copy(cj, nj)
			continue
		}
		inv := float64(jb.counts[j])
		for t := range cj {
			cj[t] = jb.sums[j*d+t] / inv
			e := cj[t] - nj[t]
			shift += e * e
		}
	}
	if jb.hamerly {
		jb.h.recordMoves(C, newC)
	}
	jb.C, jb.newC = newC, C
	switch {
	case changed == 0 && len(moved) == 0:
		// The centres are the means of unchanged labels, bit for bit, so
		// the labels already describe them.
		jb.strict, jb.converged = true, true
		jb.phase = phaseFinal
	case shift <= jb.tolAbs:
		jb.converged = true
		jb.phase = phaseFinal
	case jb.it >= jb.maxIter:
		jb.phase = phaseFinal
	}
}

// runJobs drives jobs through the data, at most slots at a time, taking new
// ones from next (nil when there are no more) as slots free up, and hands
// every finished job to done. Passes are parallel over chunks, and inside a
// chunk each block of rows goes to every active job in turn.
func runJobs(ctx context.Context, X Matrix, workers, slots int, next func(mem *jobMem) *job, done func(*job)) error {
	var (
		active []*job
		free   []*jobMem
		more   = true
		ws     []*workerScratch
		// this pass's k-means++ jobs, their shared centres and each one's
		// first lane in them; the other jobs
		seeds, others []*job
		fusedSeeds    []*job // k-means++ jobs on their own kernel (job.fused)
		pairs         []seedPair
		singles       []*job // fusedSeeds not in pairs
		seedSet       centres
		offs          []int
	)
	for w := 0; w < workers; w++ {
		ws = append(ws, &workerScratch{})
	}
	for {
		for more && len(active) < slots {
			var mem *jobMem
			if len(free) > 0 {
				mem, free = free[len(free)-1], free[:len(free)-1]
			} else {
				mem = &jobMem{}
			}
			jb := next(mem)
			if jb == nil {
				free = append(free, mem)
				more = false
				break
			}
			if jb.phase == phaseDone {
				done(jb)
				free = append(free, mem)
				continue
			}
			active = append(active, jb)
		}
		if len(active) == 0 {
			return ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		seeds, others, fusedSeeds = seeds[:0], others[:0], fusedSeeds[:0]
		var rows []float64
		offs = offs[:0]
		// k-means++ sampling reads a chunk per candidate: at 100k rows that
		// is as much work as the pass itself, so the jobs prepare in
		// parallel.
		var wg sync.WaitGroup
		sem := make(chan struct{}, workers)
		for _, jb := range active {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				jb.prepare(X)
			}()
		}
		wg.Wait()
		for _, jb := range active {
			if !jb.seeding() {
				others = append(others, jb)
				continue
			}
			if jb.fused() {
				fusedSeeds = append(fusedSeeds, jb)
				continue
			}
			offs = append(offs, len(rows)/X.D)
			rows = append(rows, jb.seedCentres()...)
			seeds = append(seeds, jb)
		}
		pairs, singles = pairSeeds(pairs, singles, fusedSeeds)
		if len(seeds) > 0 {
			// One kernel call serves the k-means++ jobs that are not fused
			// (first passes, the portable kernel, more than 8 centres):
			// their few centres share the vector lanes that each alone
			// would mostly leave empty.
			seeds[0].kn.prepare(&seedSet, rows)
		}
		// Only Hamerly's scattered reads gain from a block streamed into
		// cache first; Lloyd reads every row in order, which the
		// hardware prefetcher streams as well, and the extra pass cost
		// a tenth of the e2e run's k-means CPU (1M rows, d = 3).
		scattered := false
		for _, jb := range others {
			scattered = scattered || jb.hamerly
		}
		err := forChunks(ctx, X.N, workers, func(w, c, lo, hi int) {
			for _, jb := range active {
				jb.beginChunk(c)
			}
			for b := lo; b < hi; b += passRows {
				e := min(hi, b+passRows)
				if len(seeds) == 0 && len(fusedSeeds) == 0 && scattered {
					// Hamerly reads only the rows it rescans, scattered
					// over the block: stream the block into cache first,
					// at full memory speed, rather than wait for each of
					// those rows in turn.
					ws[w].touched += touch(X.Data[b*X.D : e*X.D])
				}
				if len(seeds) > 0 {
					st := seedSet.stride
					out := ws[w].outFor(st)
					for sb := b; sb < e; sb += blockRows {
						se := min(e, sb+blockRows)
						seeds[0].kn.dists(X.Data, sb, se, &seedSet, out)
						for q, jb := range seeds {
							jb.seedRows(c, sb, se, out, st, offs[q])
						}
					}
				}
				for q := range pairs {
					pairs[q].seedRows(X.Data, c, b, e)
				}
				for _, jb := range singles {
					jb.seedFused(X.Data, c, b, e)
				}
				for _, jb := range others {
					jb.block(X.Data, c, b, e, ws[w])
				}
			}
		})
		if err != nil {
			return err
		}
		kept := active[:0]
		for _, jb := range active {
			jb.finish(X)
			if jb.phase == phaseDone {
				done(jb)
				free = append(free, jb.mem)
				continue
			}
			kept = append(kept, jb)
		}
		clear(active[len(kept):])
		active = kept
	}
}

// lloydBlock assigns rows [lo,hi) to their nearest centre (lowest index on
// ties), moves those whose label changes in the chunk's sums and counts,
// and returns how many labels changed.
func lloydBlock(kn kernel, X []float64, cs *centres, lo, hi int, labels []int32, sums []float64, counts []int64, ws *workerScratch) (changed int) {
	k, st, d := cs.m, cs.stride, kn.d
	if kn.simd && st == simdGroup {
		// k ≤ 8: the nearest centre is found in the kernel's registers.
		// Stored as 8 distances and read back by argmin, its chain of
		// compares took twice the kernel's time (1M rows, k = 8, d = 3:
		// argmin 1.12 s, the kernel 0.52 s of a fit's CPU profile). The
		// sums move afterwards, in row order as below, for the rows the
		// kernel lists as moved: none in most blocks of a fit's last
		// iterations.
		_, _ = X[hi*d-1], labels[hi-1]
		prev, moved := ws.prevFor(hi-lo), ws.movedFor(hi-lo)
		changed = lloydAssignSIMD(X, d, cs, lo, hi, labels, prev, moved)
		for _, r := range moved[:changed] {
			i := lo + int(r)
			moveRow(X[i*d:i*d+d], int(prev[r]), int(labels[i]), sums, counts)
		}
		return changed
	}
	out := ws.outFor(st)
	kn.dists(X, lo, hi, cs, out)
	for i := lo; i < hi; i++ {
		j, _ := argmin(out[(i-lo)*st : (i-lo)*st+k])
		if old := labels[i]; old != int32(j) {
			changed++
			labels[i] = int32(j)
			moveRow(X[i*d:i*d+d], int(old), j, sums, counts)
		}
	}
	return changed
}

// lloydAssignSIMD is the vector assignment of rows [lo,hi) for k ≤ 8: the
// whole quads of rows through lloydQuadSIMD, the 0-3 left through
// lloydSIMD, which give the same labels (TestLloydQuadAgrees). It stores
// the previous labels in prev and the offsets (from lo) of the rows whose
// label changed in moved, in row order, and returns how many changed. The
// quad kernel keeps the argmin in the lanes, four rows at once (1M rows,
// d = 3, k = 8: 2.3-2.5 ns a row against lloydSIMD's 2.9-3.1), and its
// list of moved rows spares the caller a scan of every row's labels.
func lloydAssignSIMD(X []float64, d int, cs *centres, lo, hi int, labels, prev, moved []int32) (changed int) {
	q := (hi - lo) &^ (quadLanes - 1)
	_ = moved[hi-lo-1]
	if q > 0 {
		changed = lloydQuadSIMD(&X[lo*d], q, d, &cs.bt[0], &labels[lo], &prev[0], &moved[0])
	}
	if lo+q == hi || lloydSIMD(&X[(lo+q)*d], hi-lo-q, d, &cs.ct[0], &cs.bias, &labels[lo+q], &prev[q]) == 0 {
		return changed
	}
	for r := q; r < hi-lo; r++ {
		if prev[r] != labels[lo+r] {
			moved[changed] = int32(r)
			changed++
		}
	}
	return changed
}

// touch reads one value per cache line of x, so that x is in cache for the
// jobs that follow, and returns their sum so that the reads are not
// optimised away.
func touch(x []float64) float64 {
	var s float64
	for i := 0; i < len(x); i += 8 {
		s += x[i]
	}
	return s
}
