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
}

func (cfg Config) resolve(ctx context.Context, X Matrix) (fitParams, error) {
	p := fitParams{k: cfg.K, nInit: cfg.NInit, maxIter: cfg.MaxIter, batch: cfg.BatchSize,
		seed: cfg.Seed, workers: resolveWorkers(cfg.Workers), algo: cfg.Algorithm}
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

// autoAlgorithm is the rule behind Auto: Hamerly when k ≥ 8 and d ≤ 16,
// Lloyd otherwise. Hamerly replaces the scan of k centres (3kd flops) by a
// bound update and one compare for most rows once centres settle, at the
// price of 16 bytes of bound traffic and an unpredictable skip branch per
// row; the saving grows with k and the bounds hold less often as d grows.
// Measured (BenchmarkAutoRule, BenchmarkKMeans*, 2-core shared VM, noisy):
// Hamerly/Lloyd time 0.6 at 1M×10 k=8 on customer-like data, 0.66 at k=16
// and 0.36 at k=32 (d=10), but 1.2 at k=32 d=32 and 1.35 at k=16 d=100; at
// k=8 on well-separated blobs, which converge in 2-3 iterations, Lloyd wins.
func autoAlgorithm(k, d int) Algorithm {
	if k >= 8 && d <= 16 {
		return Hamerly
	}
	return Lloyd
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

// scratch is the per-concurrent-restart memory, reused across restarts.
type scratch struct {
	labels       []int32
	upper, lower []float64
}

func fit(ctx context.Context, X Matrix, p fitParams) (Result, error) {
	// Restarts are the coarsest and cheapest parallelism (no synchronisation
	// inside a restart); leftover workers go inside each restart.
	conc := min(p.workers, p.nInit)
	inner := max(1, p.workers/conc)
	pool := make(chan *scratch, conc)
	for range conc {
		pool <- &scratch{}
	}
	var (
		mu    sync.Mutex
		best  restart
		bestR = -1
	)
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
			var (
				out restart
				err error
			)
			if p.algo == MiniBatch {
				out, err = runMiniBatch(gctx, X, p, r, inner, init, s)
			} else {
				out, err = runLloyd(gctx, X, p, r, inner, init, s)
			}
			if err != nil {
				return fmt.Errorf("restart %d: %w", r, err)
			}
			mu.Lock()
			defer mu.Unlock()
			// (inertia, restart) is a total order, so the winner does not
			// depend on completion order.
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
			return nil
		})
	}
	if err := g.Wait(); err != nil {
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

func (s *scratch) ensure(n int, bounds bool) {
	if len(s.labels) != n {
		s.labels = make([]int32, n)
	}
	if (bounds || s.upper != nil) && len(s.upper) != n {
		s.upper, s.lower = make([]float64, n), make([]float64, n)
	}
}

// partials holds one chunk-indexed slot per chunk for a reduction.
type partials struct {
	sums    []float64 // nc×k×d
	counts  []int64   // nc×k
	inertia []float64 // nc
	changed []int     // nc
}

func newPartials(nc, k, d int) *partials {
	return &partials{make([]float64, nc*k*d), make([]int64, nc*k), make([]float64, nc), make([]int, nc)}
}

// merge adds the chunk slots in chunk order.
func (pt *partials) merge(sums []float64, counts []int64) (inertia float64, changed int) {
	kd, k := len(sums), len(counts)
	clear(sums)
	clear(counts)
	for c := range pt.inertia {
		s := pt.sums[c*kd : c*kd+kd]
		for i, v := range s {
			sums[i] += v
		}
		for j, v := range pt.counts[c*k : c*k+k] {
			counts[j] += v
		}
		inertia += pt.inertia[c]
		changed += pt.changed[c]
	}
	return inertia, changed
}

// runLloyd runs one restart of Lloyd's or Hamerly's algorithm.
func runLloyd(ctx context.Context, X Matrix, p fitParams, r, workers int, init []float64, s *scratch) (restart, error) {
	n, d, k := X.N, X.D, p.k
	hamerly := p.algo == Hamerly && k > 1
	s.ensure(n, true) // upper doubles as k-means++ scratch
	rng := newRestartRNG(p.seed, r)
	C, err := seedPlusPlus(ctx, X, k, init, rng, workers, s.upper)
	if err != nil {
		return restart{}, err
	}
	labels := s.labels
	for i := range labels {
		labels[i] = -1
	}
	nc := numChunks(n)
	pt := newPartials(nc, k, d)
	sums, counts := make([]float64, k*d), make([]int64, k)
	newC := make([]float64, k*d)
	h := newHamerlyState(k, d)
	out := restart{labels: labels}
	strict := false
	var inertia float64
	for it := 1; it <= p.maxIter; it++ {
		out.iterations = it
		first := it == 1
		if hamerly && !first {
			h.prepare(C)
		}
		err := forChunks(ctx, n, workers, func(c, lo, hi int) {
			cs, cc := pt.sums[c*k*d:(c+1)*k*d], pt.counts[c*k:(c+1)*k]
			clear(cs)
			clear(cc)
			switch {
			case !hamerly:
				pt.inertia[c], pt.changed[c] = lloydChunk(X.Data, d, C, k, lo, hi, labels, cs, cc)
			case first:
				pt.changed[c] = hamerlyInitChunk(X.Data, d, C, k, lo, hi, labels, s.upper, s.lower, cs, cc)
			default:
				pt.changed[c] = h.chunk(X.Data, d, C, lo, hi, labels, s.upper, s.lower, cs, cc)
			}
		})
		if err != nil {
			return restart{}, err
		}
		var changed int
		inertia, changed = pt.merge(sums, counts)
		moved := relocateEmpty(X, C, labels, sums, counts)
		if hamerly {
			for _, i := range moved {
				s.upper[i], s.lower[i] = math.Inf(1), 0
			}
		}
		var shift float64
		for j := 0; j < k; j++ {
			cj, nj := newC[j*d:j*d+d], C[j*d:j*d+d]
			if counts[j] == 0 {
				copy(cj, nj)
				continue
			}
			inv := float64(counts[j])
			for t := range cj {
				cj[t] = sums[j*d+t] / inv
				e := cj[t] - nj[t]
				shift += e * e
			}
		}
		if hamerly {
			h.recordMoves(C, newC)
		}
		C, newC = newC, C
		if changed == 0 && len(moved) == 0 {
			strict = true
			out.converged = true
			break
		}
		if shift <= p.tolAbs {
			out.converged = true
			break
		}
	}
	if hamerly || !strict {
		// Labels and inertia must describe the final centres.
		inertia, err = assignInto(ctx, X, Matrix{Data: C, N: k, D: d}, labels, workers)
		if err != nil {
			return restart{}, err
		}
	}
	out.C, out.inertia = C, inertia
	return out, nil
}

// relocateEmpty gives every empty cluster the row farthest from its centre
// (as sklearn does), farthest first, lowest row index on ties, and fixes the
// sums, counts and labels. It returns the moved rows.
func relocateEmpty(X Matrix, C []float64, labels []int32, sums []float64, counts []int64) []int {
	var empty []int
	for j, c := range counts {
		if c == 0 {
			empty = append(empty, j)
		}
	}
	if len(empty) == 0 {
		return nil
	}
	d := X.D
	m := min(len(empty), X.N)
	// Top-m by (distance desc, index asc); m ≤ k so insertion is fine.
	top := make([]int, 0, m)
	dist := make([]float64, 0, m)
	for i := 0; i < X.N; i++ {
		a := int(labels[i])
		v := sqDist(X.Row(i), C[a*d:a*d+d])
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
		j, old := empty[q], int(labels[i])
		x := X.Row(i)
		for t, v := range x {
			sums[old*d+t] -= v
		}
		counts[old]--
		copy(sums[j*d:j*d+d], x)
		counts[j] = 1
		labels[i] = int32(j)
	}
	return top
}

// assignInto writes the nearest-centre labels of X's rows into labels and
// returns the inertia.
func assignInto(ctx context.Context, X, C Matrix, labels []int32, workers int) (float64, error) {
	part := make([]float64, numChunks(X.N))
	err := forChunks(ctx, X.N, workers, func(c, lo, hi int) {
		part[c], _ = lloydChunk(X.Data, X.D, C.Data, C.N, lo, hi, labels, nil, nil)
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
	in, err := assignInto(ctx, X, centroids, labels, resolveWorkers(workers))
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
	d := X.D
	var total float64
	for c := 0; c < numChunks(X.N); c++ {
		lo, hi := chunkBounds(c, X.N)
		var s float64
		for i := lo; i < hi; i++ {
			s += sqDist(X.Row(i), centroids.Row(int(labels[i])))
		}
		total += s
	}
	_ = d
	return total, nil
}
