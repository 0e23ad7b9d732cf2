package cluster

import (
	"context"
	"fmt"
	"math"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Algorithm names a k-means variant.
type Algorithm string

const (
	// Auto picks Lloyd or Hamerly by the rule in autoAlgorithm. It never
	// picks MiniBatch: trading exactness for speed is the caller's call.
	Auto      Algorithm = "auto"
	Lloyd     Algorithm = "lloyd"
	Hamerly   Algorithm = "hamerly"
	MiniBatch Algorithm = "minibatch"
)

// Defaults for zero Config fields, as in scikit-learn except NInit (sklearn
// now defaults to 1 restart for k-means++; segmentation runs are rare and
// cheap enough that 10 restarts buy stability).
const (
	DefaultNInit     = 10
	DefaultMaxIter   = 300
	DefaultTol       = 1e-4
	DefaultBatchSize = 1024
)

// Config parameterises KMeans. The zero value of every field but K selects
// the default.
type Config struct {
	K int
	// NInit is the number of seeded restarts; the one with the lowest
	// inertia wins, the earliest on ties.
	NInit int
	// MaxIter bounds the Lloyd iterations of a restart (for MiniBatch: the
	// number of passes over the data's worth of batches).
	MaxIter int
	// Tol is relative to the data: a restart has converged when the summed
	// squared centre shift of an iteration is at most Tol times the mean of
	// the per-feature variances. Negative means 0 (stop only when no label
	// changes).
	Tol float64
	// Seed determines the result together with the data; Workers does not.
	Seed uint64
	// Workers bounds the goroutines; 0 means GOMAXPROCS.
	Workers   int
	Algorithm Algorithm
	// BatchSize is the rows per MiniBatch step.
	BatchSize int
	// Init, if non-nil, holds up to K centres (in the same space as X) that
	// start restart 0; missing centres are filled in by k-means++.
	Init [][]float64
}

// Result is a fitted clustering.
type Result struct {
	Centroids Matrix // K×D
	// Labels[i] is the index of the centroid nearest to row i, lowest index
	// on ties.
	Labels []int32
	// Inertia is the sum of squared distances of the rows to their centroid,
	// computed from Centroids and Labels.
	Inertia    float64
	Iterations int
	Converged  bool
	// BestInit is the index of the winning restart.
	BestInit  int
	Algorithm Algorithm
}

type fitParams struct {
	k, nInit, maxIter, batch int
	tolAbs                   float64
	seed                     uint64
	workers                  int
	algo                     Algorithm
	init                     []float64
	kern                     kernel
}

func (cfg Config) resolve(ctx context.Context, X Matrix) (fitParams, error) {
	p := fitParams{k: cfg.K, nInit: cfg.NInit, maxIter: cfg.MaxIter, batch: cfg.BatchSize,
		seed: cfg.Seed, workers: resolveWorkers(cfg.Workers), algo: cfg.Algorithm, kern: newKernel(X.D)}
	if err := X.validateFinite("data"); err != nil {
		return p, err
	}
	if p.k < 1 || p.k > X.N {
		return p, fmt.Errorf("k=%d outside [1, %d rows]", p.k, X.N)
	}
	if p.nInit <= 0 {
		p.nInit = DefaultNInit
	}
	if p.maxIter <= 0 {
		p.maxIter = DefaultMaxIter
	}
	if p.batch <= 0 {
		p.batch = DefaultBatchSize
	}
	tol := cfg.Tol
	if tol == 0 {
		tol = DefaultTol
	}
	switch p.algo {
	case "", Auto:
		p.algo = autoAlgorithm(p.k, X.D)
	case Lloyd, Hamerly, MiniBatch:
	default:
		return p, fmt.Errorf("unknown algorithm %q", p.algo)
	}
	if len(cfg.Init) > p.k {
		return p, fmt.Errorf("warm start has %d centres for k=%d", len(cfg.Init), p.k)
	}
	for i, r := range cfg.Init {
		if len(r) != X.D {
			return p, fmt.Errorf("warm start centre %d has %d features, data has %d", i, len(r), X.D)
		}
		for _, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return p, fmt.Errorf("warm start centre %d is not finite", i)
			}
		}
		p.init = append(p.init, r...)
	}
	if tol > 0 {
		v, err := columnVarianceMean(ctx, X, p.workers)
		if err != nil {
			return p, err
		}
		p.tolAbs = tol * v
	}
	return p, nil
}

// autoAlgorithm is the rule behind Auto: Lloyd when k ≤ 8 and d ≤ 12,
// Hamerly otherwise. The two give the same centroids, labels and inertia to
// the bit (doc.go), so the rule decides only the time, the memory (Hamerly
// holds 8 more bytes of bounds a row per restart in flight) and the name in
// the outputs. Up to 8 centres (one vector group) Lloyd's kernel keeps four
// rows' distances to every centre in registers and picks the nearest there
// (lloydQuadSIMD); from 9 it stores k distances a row and scans them, and
// Hamerly's bounds, which spare most rows that scan once centres settle,
// win at every d. Within 8 centres Hamerly's bound work costs more than
// Lloyd's whole scan on narrow data and less as d grows.
//
// Measured 2026-12-07 on the 2-core VM, shared (load 3-8), with
// TestAutoRuleGrid (STRATA_AUTORULE_GRID=FILE go test -run AutoRuleGrid:
// default settings, 10 restarts; medians of 3-5 alternated fits, one or
// two at k=12 and k ≥ 32 where the gap is 2-3×; each fit under
// /tmp/strata-bench.lock) and bench/cluster on the shared generator's 1M×10
// customers (-k K -algo A, alternated pairs). Hamerly/Lloyd CPU time,
// customerLike at 1M rows, k=8: 1.29 at d=2, 1.22 at d=3 (the e2e
// pipeline's shape), 1.06 at 5, 0.84 and 1.00 (two runs) at 10, 1.07 at 12,
// 0.92 at 16, 0.80 at 32; k=4: 1.42, 1.23, 1.12, 1.18 and 1.25, 1.14,
// 0.88, 1.01; k=12 and 16: 0.44-0.56 (d=2-10); k=32: 0.30 (d=3), 0.31
// (d=10). bench/cluster: 1.21 (k=4),
// 1.02 (k=8, 9 pairs), 0.48 (16), 0.34 (32). At 100k rows, k ≤ 8: 1.00-1.34
// (customerLike) and 0.97-1.19 (benchBlobs, which converge in 2-4
// iterations) up to d=10, 0.75-1.04 and 1.02-1.10 at d=16-32; k ≥ 16:
// 0.30-0.58 and 0.49-0.94. k ≤ 8 at d=10-12 is close to even, and Lloyd,
// holding no bounds, takes the tie. The rule does not look at the CPU:
// without the vector kernels Lloyd would lose more often, but the algorithm
// a config fits with, and names, should not depend on the machine.
func autoAlgorithm(k, d int) Algorithm {
	if k <= simdGroup && d <= 12 {
		return Lloyd
	}
	return Hamerly
}

// KMeans clusters the rows of X into cfg.K clusters.
func KMeans(ctx context.Context, X Matrix, cfg Config) (Result, error) {
	p, err := cfg.resolve(ctx, X)
	if err != nil {
		return Result{}, fmt.Errorf("kmeans: %w", err)
	}
	res, err := fit(ctx, X, p)
	if err != nil {
		return Result{}, fmt.Errorf("kmeans k=%d: %w", p.k, err)
	}
	return res, nil
}

// restart is the outcome of one seeded run.
type restart struct {
	C          []float64
	labels     []int32
	inertia    float64
	iterations int
	converged  bool
}

// blockRows is how many rows go through the distance kernel at a time: the
// rows and their k distances stay in L1 between the kernel and the argmin,
// and in the lockstep engine between one restart's use and the next's.
const blockRows = 128

// scratch is the memory of one concurrent mini-batch restart, reused
// across restarts.
type scratch struct {
	labels []int32
	ws     []*workerScratch
}

// workerScratch is the memory of one goroutine.
type workerScratch struct {
	out  []float64 // kernel output, blockRows × stride
	rows []int32   // a block's row list (Hamerly)
	prev []int32   // the previous labels of rescanned rows
	// moved lists the offsets of a Lloyd block's rows whose label changed.
	moved []int32
	// touched sinks runJobs' cache warming reads.
	touched float64
}

func (w *workerScratch) prevFor(n int) []int32 {
	if len(w.prev) < n {
		w.prev = make([]int32, max(n, passRows))
	}
	return w.prev[:n]
}

func (w *workerScratch) movedFor(n int) []int32 {
	if len(w.moved) < n {
		w.moved = make([]int32, max(n, passRows))
	}
	return w.moved[:n]
}

// outFor returns the kernel output buffer for blockRows rows of the given
// stride, with a group of slack at the end for kernels that read a whole
// group past a row's last centre.
func (w *workerScratch) outFor(stride int) []float64 {
	if len(w.out) < blockRows*stride+simdGroup {
		w.out = make([]float64, blockRows*stride+simdGroup)
	}
	return w.out
}

// workers returns n per-goroutine scratches.
func (s *scratch) workers(n int) []*workerScratch {
	for len(s.ws) < n {
		s.ws = append(s.ws, &workerScratch{})
	}
	return s.ws[:n]
}

// maxSlots bounds how many restarts the lockstep engine runs at once.
// Sharing a pass pays off quickly (the rows are read once for all of them)
// and then flattens out, while every restart in flight holds 20 bytes per
// row with Hamerly (labels and two bounds), 12 with Lloyd; the rule keeps
// Hamerly's within twice the data (8·d bytes per row) and at most 10.
func maxSlots(d int) int { return max(2, min(10, 16*d/20)) }

func fit(ctx context.Context, X Matrix, p fitParams) (Result, error) {
	var (
		best  restart
		bestR = -1
	)
	// (inertia, restart) is a total order, so the winner does not depend on
	// completion order.
	offer := func(r int, out restart) {
		if bestR < 0 || out.inertia < best.inertia || (out.inertia == best.inertia && r < bestR) {
			if best.labels == nil {
				best.labels = make([]int32, X.N)
			}
			keep := best.labels
			best = out
			best.labels = keep
			copy(best.labels, out.labels)
			bestR = r
		}
	}
	var err error
	if p.algo == MiniBatch {
		err = fitMiniBatch(ctx, X, p, offer)
	} else {
		r := 0
		err = runJobs(ctx, X, p.workers, min(p.nInit, maxSlots(X.D)), func(mem *jobMem) *job {
			if r == p.nInit {
				return nil
			}
			var init []float64
			if r == 0 {
				init = p.init
			}
			r++
			return newJob(X, p, r-1, newRestartRNG(p.seed, r-1), init, mem)
		}, func(jb *job) {
			offer(jb.r, restart{C: jb.C, labels: jb.mem.labels, inertia: jb.inertia,
				iterations: jb.it, converged: jb.converged})
		})
	}
	if err != nil {
		return Result{}, err
	}
	return Result{
		Centroids:  Matrix{Data: best.C, N: p.k, D: X.D},
		Labels:     best.labels,
		Inertia:    best.inertia,
		Iterations: best.iterations,
		Converged:  best.converged,
		BestInit:   bestR,
		Algorithm:  p.algo,
	}, nil
}

// fitMiniBatch runs the mini-batch restarts, which are sequential by nature,
// concurrently, and offers each result.
func fitMiniBatch(ctx context.Context, X Matrix, p fitParams, offer func(int, restart)) error {
	conc := min(p.workers, p.nInit)
	inner := max(1, p.workers/conc)
	pool := make(chan *scratch, conc)
	for range conc {
		pool <- &scratch{}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for r := 0; r < p.nInit; r++ {
		g.Go(func() error {
			s := <-pool
			defer func() { pool <- s }()
			var init []float64
			if r == 0 {
				init = p.init
			}
			out, err := runMiniBatch(gctx, X, p, r, inner, init, s)
			if err != nil {
				return fmt.Errorf("restart %d: %w", r, err)
			}
			mu.Lock()
			defer mu.Unlock()
			offer(r, out)
			return nil
		})
	}
	return g.Wait()
}

// partials holds one chunk-indexed slot per chunk for a reduction. The
// sums and counts of a chunk's clusters live across iterations: the first
// iteration adds every row, later ones only move the rows whose label
// changed (see moveRow), in row order. Lloyd and Hamerly change the same
// labels of the same rows, so their sums stay equal to the bit, and an
// iteration touches the data of the few rows that move instead of all.
type partials struct {
	sums    []float64 // nc×k×d
	counts  []int64   // nc×k
	changed []int     // nc
}

func newPartials(nc, k, d int) *partials {
	return &partials{make([]float64, nc*k*d), make([]int64, nc*k), make([]int, nc)}
}

// chunk returns chunk c's slots.
func (pt *partials) chunk(c, k, d int) ([]float64, []int64) {
	return pt.sums[c*k*d : (c+1)*k*d], pt.counts[c*k : (c+1)*k]
}

// merge adds the chunk slots in chunk order.
func (pt *partials) merge(sums []float64, counts []int64) (changed int) {
	kd, k := len(sums), len(counts)
	clear(sums)
	clear(counts)
	for c := range pt.changed {
		for i, v := range pt.sums[c*kd : (c+1)*kd] {
			sums[i] += v
		}
		for j, v := range pt.counts[c*k : (c+1)*k] {
			counts[j] += v
		}
		changed += pt.changed[c]
	}
	return changed
}

// relocateEmpty gives every empty cluster the row farthest from its centre
// (as sklearn does), farthest first, lowest row index on ties, moving it in
// labels and in its chunk's partial sums. counts are the merged ones. It
// returns the moved rows.
func relocateEmpty(X Matrix, C []float64, labels []int32, counts []int64, pt *partials) []int {
	var empty []int
	for j, c := range counts {
		if c == 0 {
			empty = append(empty, j)
		}
	}
	if len(empty) == 0 {
		return nil
	}
	d, k := X.D, len(counts)
	m := min(len(empty), X.N)
	// Top-m by (distance desc, index asc); m ≤ k so insertion is fine.
	top := make([]int, 0, m)
	dist := make([]float64, 0, m)
	for i := 0; i < X.N; i++ {
		a := int(labels[i])
		v := pairDist(X.Row(i), C[a*d:a*d+d])
		if len(top) == m && v <= dist[m-1] {
			continue
		}
		pos := len(top)
		for pos > 0 && v > dist[pos-1] {
			pos--
		}
		if len(top) < m {
			top, dist = append(top, 0), append(dist, 0)
		}
		copy(top[pos+1:], top[pos:len(top)-1])
		copy(dist[pos+1:], dist[pos:len(dist)-1])
		top[pos], dist[pos] = i, v
	}
	for q, i := range top {
		sums, cnt := pt.chunk(i/chunkRows, k, d)
		moveRow(X.Row(i), int(labels[i]), empty[q], sums, cnt)
		labels[i] = int32(empty[q])
	}
	return top
}

// assignInto writes the nearest-centre labels of X's rows into labels and
// returns the inertia, summed per chunk in row order and over chunks in
// chunk order. wss must hold one scratch per worker.
func assignInto(ctx context.Context, kn kernel, X Matrix, C []float64, labels []int32, workers int, wss []*workerScratch) (float64, error) {
	cs := &centres{}
	kn.prepare(cs, C)
	k, st := cs.m, cs.stride
	part := make([]float64, numChunks(X.N))
	err := forChunks(ctx, X.N, workers, func(w, c, lo, hi int) {
		out := wss[w].outFor(st)
		var s float64
		for b := lo; b < hi; b += blockRows {
			e := min(hi, b+blockRows)
			kn.dists(X.Data, b, e, cs, out)
			for i := b; i < e; i++ {
				j, v := argmin(out[(i-b)*st : (i-b)*st+k])
				labels[i] = int32(j)
				s += v
			}
		}
		part[c] = s
	})
	if err != nil {
		return 0, err
	}
	var s float64
	for _, v := range part {
		s += v
	}
	return s, nil
}

// ownInertia is the inertia of labels under centres C, summed as assignInto
// sums it, so that the two agree to the bit when the labels are nearest.
func ownInertia(ctx context.Context, X Matrix, C []float64, labels []int32, workers int) (float64, error) {
	d := X.D
	part := make([]float64, numChunks(X.N))
	err := forChunks(ctx, X.N, workers, func(_, c, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			a := int(labels[i])
			s += pairDist(X.Data[i*d:i*d+d:i*d+d], C[a*d:a*d+d])
		}
		part[c] = s
	})
	if err != nil {
		return 0, err
	}
	var s float64
	for _, v := range part {
		s += v
	}
	return s, nil
}

// Assign returns the index of the nearest centroid for every row of X
// (lowest index on ties) and the resulting inertia. It is the scoring entry
// point: the same kernel as the fit, so scoring the training rows reproduces
// Result.Labels exactly.
func Assign(ctx context.Context, X, centroids Matrix, workers int) ([]int32, float64, error) {
	if err := X.validate("data"); err != nil {
		return nil, 0, fmt.Errorf("assign: %w", err)
	}
	if err := centroids.validateFinite("centroids"); err != nil {
		return nil, 0, fmt.Errorf("assign: %w", err)
	}
	if centroids.D != X.D || centroids.N < 1 {
		return nil, 0, fmt.Errorf("assign: %d×%d centroids for %d features", centroids.N, centroids.D, X.D)
	}
	labels := make([]int32, X.N)
	w := resolveWorkers(workers)
	var s scratch
	in, err := assignInto(ctx, newKernel(X.D), X, centroids.Data, labels, w, s.workers(w))
	if err != nil {
		return nil, 0, fmt.Errorf("assign: %w", err)
	}
	return labels, in, nil
}

// Inertia returns the sum of squared distances of the rows of X to the
// centroid their label names, summed in the package's fixed chunk order.
func Inertia(X, centroids Matrix, labels []int32) (float64, error) {
	if err := X.validate("data"); err != nil {
		return 0, fmt.Errorf("inertia: %w", err)
	}
	if err := centroids.validate("centroids"); err != nil || centroids.D != X.D {
		return 0, fmt.Errorf("inertia: centroids %d×%d do not fit %d features", centroids.N, centroids.D, X.D)
	}
	if err := checkLabels(labels, X.N, centroids.N); err != nil {
		return 0, fmt.Errorf("inertia: %w", err)
	}
	in, err := ownInertia(context.Background(), X, centroids.Data, labels, 1)
	if err != nil {
		return 0, fmt.Errorf("inertia: %w", err)
	}
	return in, nil
}
