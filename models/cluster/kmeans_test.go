package cluster

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/strata-oss/strata/internal/racetest"
)

func TestKMeansRecoversPlantedBlobs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, d, k int
		algo    Algorithm
	}{
		{"lloyd d=2", 3000, 2, 4, Lloyd},
		{"lloyd d=8", 3000, 8, 6, Lloyd},
		{"hamerly d=10", 3000, 10, 6, Hamerly},
		{"minibatch d=10", 20000, 10, 5, MiniBatch},
		{"auto d=3", 3000, 3, 5, Auto},
	} {
		t.Run(tc.name, func(t *testing.T) {
			X, truth, _ := blobs(tc.n, tc.d, tc.k, 10, 1)
			res, err := KMeans(context.Background(), X, Config{K: tc.k, Seed: 3, Algorithm: tc.algo, BatchSize: 512})
			if err != nil {
				t.Fatal(err)
			}
			if ari := adjustedRand(truth, res.Labels); ari < 0.99 {
				t.Errorf("ARI %.4f < 0.99", ari)
			}
			// Inertia against an independent recomputation.
			var want float64
			for i := 0; i < X.N; i++ {
				c := res.Centroids.Row(int(res.Labels[i]))
				for q, v := range X.Row(i) {
					want += (v - c[q]) * (v - c[q])
				}
			}
			if math.Abs(res.Inertia-want) > 1e-9*want {
				t.Errorf("inertia %v, recomputed %v", res.Inertia, want)
			}
			// Labels are the nearest centroid (a brute-force scan).
			for i := 0; i < X.N; i++ {
				best, bj := math.Inf(1), -1
				for j := 0; j < tc.k; j++ {
					var s float64
					for q, v := range X.Row(i) {
						e := v - res.Centroids.Row(j)[q]
						s += e * e
					}
					if s < best {
						best, bj = s, j
					}
				}
				if int(res.Labels[i]) != bj {
					t.Fatalf("row %d labelled %d, nearest is %d", i, res.Labels[i], bj)
				}
			}
		})
	}
}

func TestKMeansKnownAnswer1D(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		k    int
		want []float64 // sorted centroids
	}{
		{[]float64{0, 1, 2, 10, 11, 12}, 2, []float64{1, 11}},
		{[]float64{-5, -4, 0, 1, 8, 9, 10}, 3, []float64{-4.5, 0.5, 9}},
		{[]float64{1, 1, 1, 5}, 2, []float64{1, 5}},
	} {
		for _, algo := range []Algorithm{Lloyd, Hamerly, MiniBatch} {
			X := Matrix{Data: tc.xs, N: len(tc.xs), D: 1}
			res, err := KMeans(context.Background(), X, Config{K: tc.k, Seed: 1, Algorithm: algo, BatchSize: 64})
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Clone(res.Centroids.Data)
			slices.Sort(got)
			tol := 1e-12
			if algo == MiniBatch { // a running mean of random batches: close, not exact
				tol = 0.1
			}
			for j := range got {
				if math.Abs(got[j]-tc.want[j]) > tol {
					t.Errorf("%s %v: centroids %v, want %v", algo, tc.xs, got, tc.want)
					break
				}
			}
		}
	}
}

// Hamerly's bounds only skip work; from the same seeding the result must be
// bit-identical to Lloyd's, including on overlapping data where many labels
// change over many iterations. Auto switches between the two by shape, so
// a default-config run publishes the same bytes whichever it picks: the
// customer-like cases are shapes of autoAlgorithm's measurements, fitted
// with the default tolerance as a default config fits them.
func TestHamerlyEqualsLloyd(t *testing.T) {
	for _, tc := range []struct {
		n, d, k  int
		customer bool
		tol      float64
	}{
		{20000, 2, 12, false, -1}, {20000, 8, 8, false, -1}, {9000, 10, 20, false, -1}, {5000, 3, 1, false, -1},
		{20000, 3, 8, true, 0}, {20000, 2, 16, true, 0}, {20000, 10, 8, true, 0}, {10000, 16, 32, true, 0},
	} {
		X, _, _ := blobs(tc.n, tc.d, max(tc.k/2, 1), 2, 5)
		if tc.customer {
			X = customerLikeSeeded(tc.n, tc.d, 5)
		}
		cfg := Config{K: tc.k, Seed: 9, NInit: 2, Tol: tc.tol, Workers: 2}
		cfg.Algorithm = Lloyd
		a, err := KMeans(context.Background(), X, cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Algorithm = Hamerly
		b, err := KMeans(context.Background(), X, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if a.Iterations < 3 && tc.k > 1 {
			t.Errorf("k=%d d=%d: only %d iterations; the test needs a harder problem", tc.k, tc.d, a.Iterations)
		}
		if !slices.Equal(a.Centroids.Data, b.Centroids.Data) || !slices.Equal(a.Labels, b.Labels) ||
			a.Inertia != b.Inertia || a.Iterations != b.Iterations {
			t.Errorf("k=%d d=%d: lloyd (inertia %v, %d it) and hamerly (inertia %v, %d it) differ",
				tc.k, tc.d, a.Inertia, a.Iterations, b.Inertia, b.Iterations)
		}
	}
}

// TestAutoAlgorithm pins the rule behind Auto (measurements in
// autoAlgorithm's comment): a change of rule changes the algorithm named in
// every default-config model.json whose shape crosses it.
func TestAutoAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		k, d int
		want Algorithm
	}{
		{1, 1, Lloyd},
		{3, 5, Lloyd},
		{8, 3, Lloyd}, // the e2e pipeline's shape
		{8, 10, Lloyd},
		{4, 12, Lloyd},
		{8, 12, Lloyd},
		{8, 13, Hamerly},
		{8, 32, Hamerly},
		{4, 100, Hamerly},
		{9, 2, Hamerly}, // past Lloyd's vector kernel
		{12, 3, Hamerly},
		{16, 10, Hamerly},
		{32, 32, Hamerly},
		{64, 100, Hamerly},
	} {
		if got := autoAlgorithm(tc.k, tc.d); got != tc.want {
			t.Errorf("autoAlgorithm(k=%d, d=%d) = %s, want %s", tc.k, tc.d, got, tc.want)
		}
	}
	// The resolved algorithm is what a fit reports.
	X, _, _ := blobs(2000, 2, 9, 3, 1)
	res, err := KMeans(context.Background(), X, Config{K: 9, NInit: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Algorithm != Hamerly {
		t.Errorf("auto at k=9 d=2 fitted with %s, want hamerly", res.Algorithm)
	}
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	// 5 chunks, so the chunked reductions really run in parallel.
	X, _, _ := blobs(5*chunkRows-17, 6, 7, 2.5, 11)
	for _, algo := range []Algorithm{Lloyd, Hamerly, MiniBatch} {
		for _, nInit := range []int{1, 3, 10} {
			var ref Result
			for i, w := range []int{1, 2, 8} {
				res, err := KMeans(context.Background(), X, Config{K: 7, NInit: nInit, Seed: 42, Workers: w, Algorithm: algo})
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					ref = res
					continue
				}
				if !slices.Equal(ref.Centroids.Data, res.Centroids.Data) || !slices.Equal(ref.Labels, res.Labels) ||
					ref.Inertia != res.Inertia || ref.BestInit != res.BestInit || ref.Iterations != res.Iterations {
					t.Errorf("%s nInit=%d: workers=%d differs from workers=1", algo, nInit, w)
				}
			}
		}
	}
	// A different seed gives a different seeding.
	a := seedPP(t, X, 7, 1)
	b := seedPP(t, X, 7, 2)
	if slices.Equal(a, b) {
		t.Error("seeds 1 and 2 gave the same k-means++ centres")
	}
}

func seedPP(t *testing.T, X Matrix, k int, seed uint64) []float64 {
	t.Helper()
	C, err := seedPlusPlus(context.Background(), X, newKernel(X.D), k, nil, newRestartRNG(seed, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	return C
}

// Kernels: the vector and the portable kernel, and pairDist, must agree to
// the bit for every width and number of centres (partial groups of 8,
// several groups), or fits would depend on the machine and Lloyd, Hamerly,
// Assign and Inertia would drift apart.
func TestKernelsAgree(t *testing.T) {
	kinds := []bool{false}
	if simdAvailable() {
		kinds = append(kinds, true)
	} else {
		t.Log("no vector kernel on this machine: checking the portable one only")
	}
	for _, d := range []int{1, 2, 3, 7, 8, 10, 17} {
		for _, m := range []int{1, 5, 8, 9, 20} {
			X, _, _ := blobs(300, d, 4, 1, uint64(d))
			C := slices.Clone(X.Data[:m*d])
			for _, simd := range kinds {
				kn := kernel{d: d, simd: simd}
				cs := &centres{}
				kn.prepare(cs, C)
				out := make([]float64, X.N*cs.stride)
				// Rows 3.. of X, so that the kernel does not start at row 0.
				kn.dists(X.Data, 3, X.N, cs, out)
				for i := 3; i < X.N; i++ {
					o := out[(i-3)*cs.stride : (i-3)*cs.stride+m]
					for j, v := range o {
						if w := pairDist(X.Row(i), C[j*d:j*d+d]); v != w {
							t.Fatalf("d=%d m=%d simd=%v row %d centre %d: kernel %v, pairDist %v", d, m, simd, i, j, v, w)
						}
						// Canonical, not merely close: against a naive sum.
						if w := sqDistN(X.Row(i), C[j*d:j*d+d]); math.Abs(v-w) > 1e-12*(1+w) {
							t.Fatalf("d=%d row %d centre %d: %v, naive %v", d, i, j, v, w)
						}
					}
					j, b1, b2 := argmin2(o)
					j1, v1 := argmin(o)
					sorted := slices.Clone(o)
					slices.Sort(sorted)
					want2 := math.Inf(1)
					if m > 1 {
						want2 = sorted[1]
					}
					if j != j1 || b1 != v1 || v1 != sorted[0] || slices.Index(o, v1) != j || b2 != want2 {
						t.Fatalf("d=%d m=%d row %d: argmin %d %v, argmin2 %d %v %v, sorted %v", d, m, i, j1, v1, j, b1, b2, sorted)
					}
				}
			}
		}
	}
	// Ties go to the lower index, however many there are.
	for _, o := range [][]float64{{1, 1}, {2, 0, 0, 0}, {0, 0}, {3, 1, 2, 1}} {
		j, _, b2 := argmin2(o)
		j1, _ := argmin(o)
		if j != slices.Index(o, slices.Min(o)) || j1 != j {
			t.Errorf("%v: argmin %d, argmin2 %d", o, j1, j)
		}
		sorted := slices.Clone(o)
		slices.Sort(sorted)
		if b2 != sorted[1] {
			t.Errorf("%v: second %v", o, b2)
		}
	}
}

func TestEmptyClusterRelocation(t *testing.T) {
	// A warm start with a centre far from every row: it gets no rows in the
	// first assignment and must be moved to the farthest row.
	X := Matrix{Data: []float64{0, 0.1, 0.2, 5, 5.1, 5.2, 20}, N: 7, D: 1}
	res, err := KMeans(context.Background(), X, Config{K: 3, NInit: 1, Algorithm: Lloyd, Init: [][]float64{{0.1}, {5.1}, {1000}}})
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(res.Centroids.Data)
	slices.Sort(got)
	if want := []float64{0.1, 5.1, 20}; math.Abs(got[0]-want[0]) > 1e-12 || math.Abs(got[1]-want[1]) > 1e-12 || got[2] != want[2] {
		t.Errorf("centroids %v, want %v", got, want)
	}
	// Duplicate rows: more clusters than distinct points still terminates
	// with every cluster non-empty where possible and consistent labels.
	Y := Matrix{Data: []float64{1, 1, 1, 1, 2, 2}, N: 6, D: 1}
	for _, algo := range []Algorithm{Lloyd, Hamerly} {
		r, err := KMeans(context.Background(), Y, Config{K: 3, Seed: 2, Algorithm: algo})
		if err != nil {
			t.Fatal(err)
		}
		if in, _ := Inertia(Y, r.Centroids, r.Labels); in != r.Inertia || r.Inertia != 0 {
			t.Errorf("%s: inertia %v, recomputed %v, want 0", algo, r.Inertia, in)
		}
	}
}

func TestWarmStart(t *testing.T) {
	X, truth, centres := blobs(4000, 4, 5, 10, 21)
	res, err := KMeans(context.Background(), X, Config{K: 5, NInit: 1, Init: centres})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iterations > 3 || adjustedRand(truth, res.Labels) != 1 {
		t.Errorf("warm start from the true centres: %d iterations, ARI %v", res.Iterations, adjustedRand(truth, res.Labels))
	}
	// Centre j stays near planted centre j: restart 0 starts from Init.
	for j, c := range centres {
		if math.Sqrt(sqDist(c, res.Centroids.Row(j))) > 0.5 {
			t.Errorf("centre %d moved from %v to %v", j, c, res.Centroids.Row(j))
		}
	}
	// A partial warm start is completed by k-means++.
	if _, err := KMeans(context.Background(), X, Config{K: 5, NInit: 2, Init: centres[:2]}); err != nil {
		t.Error(err)
	}
}

// TestAssignReproducesFit: the cluster stage keeps a fit's labels for the
// assignment of the same rows instead of the scaled matrix, so Assign on
// the fitted centroids must give them back, with every algorithm.
func TestAssignReproducesFit(t *testing.T) {
	for _, tc := range []struct {
		algo Algorithm
		k, d int
	}{{Auto, 6, 8}, {Lloyd, 8, 3}, {Hamerly, 8, 3}, {MiniBatch, 5, 4}} {
		X, _, _ := blobs(3*chunkRows, tc.d, tc.k, 3, 4)
		res, err := KMeans(context.Background(), X, Config{K: tc.k, Seed: 5, NInit: 2, Algorithm: tc.algo})
		if err != nil {
			t.Fatal(err)
		}
		labels, inertia, err := Assign(context.Background(), X, res.Centroids, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(labels, res.Labels) || inertia != res.Inertia {
			t.Errorf("%s: Assign: inertia %v vs fit %v, labels equal %v", tc.algo, inertia, res.Inertia, slices.Equal(labels, res.Labels))
		}
		if in, err := Inertia(X, res.Centroids, res.Labels); err != nil || in != res.Inertia {
			t.Errorf("%s: Inertia = %v, %v; want %v", tc.algo, in, err, res.Inertia)
		}
	}
}

// TestLloydSlotsHoldNoBounds: only Hamerly reads the lower bounds, so a
// Lloyd restart's memory has none (8 bytes a row a slot of the cluster
// stage's peak).
func TestLloydSlotsHoldNoBounds(t *testing.T) {
	var m jobMem
	m.ensure(100, false)
	if len(m.labels) != 100 || len(m.upper) != 100 || m.lower != nil {
		t.Fatalf("Lloyd: %d labels, %d upper, %d lower; want 100, 100, none", len(m.labels), len(m.upper), len(m.lower))
	}
	m.ensure(100, true)
	if len(m.lower) != 100 {
		t.Fatalf("Hamerly after Lloyd: %d lower bounds, want 100", len(m.lower))
	}
	m.ensure(50, false)
	if len(m.labels) != 50 || len(m.upper) != 50 || m.lower != nil {
		t.Fatalf("Lloyd on 50 rows: %d labels, %d upper, %d lower; want 50, 50, none", len(m.labels), len(m.upper), len(m.lower))
	}
}

func TestKMeansErrors(t *testing.T) {
	X, _, _ := blobs(20, 2, 2, 5, 1)
	bad := Matrix{Data: []float64{1, math.NaN()}, N: 2, D: 1}
	for _, tc := range []struct {
		name string
		X    Matrix
		cfg  Config
	}{
		{"k=0", X, Config{K: 0}},
		{"k>n", X, Config{K: 21}},
		{"nan", bad, Config{K: 1}},
		{"shape", Matrix{Data: []float64{1, 2, 3}, N: 2, D: 2}, Config{K: 1}},
		{"algo", X, Config{K: 2, Algorithm: "elkan"}},
		{"init rows", X, Config{K: 1, Init: [][]float64{{0, 0}, {1, 1}}}},
		{"init width", X, Config{K: 2, Init: [][]float64{{0}}}},
	} {
		if _, err := KMeans(context.Background(), tc.X, tc.cfg); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := KMeans(ctx, X, Config{K: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
}

func TestMiniBatchCloseToLloyd(t *testing.T) {
	X, _, _ := blobs(60000, 10, 8, 6, 8)
	full, err := KMeans(context.Background(), X, Config{K: 8, Seed: 1, Algorithm: Lloyd})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []int{256, 1024, 4096} {
		mb, err := KMeans(context.Background(), X, Config{K: 8, Seed: 1, Algorithm: MiniBatch, BatchSize: b, NInit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if rel := (mb.Inertia - full.Inertia) / full.Inertia; rel > 0.01 {
			t.Errorf("batch %d: minibatch inertia %.6g is %.3f%% above Lloyd's %.6g", b, mb.Inertia, 100*rel, full.Inertia)
		}
		if in, _ := Inertia(X, mb.Centroids, mb.Labels); in != mb.Inertia {
			t.Errorf("batch %d: inertia not from the final full pass", b)
		}
	}
}

// The vector kernels and the portable Go ones must give the same fit to the
// bit (so a fit does not depend on the machine), through every phase:
// seeding with and without a warm start, Lloyd, Hamerly and the final pass,
// for several widths and k with partial groups of 8 centres.
func TestVectorMatchesPortable(t *testing.T) {
	racetest.Skip(t, "a bit-for-bit check of the kernels, with no goroutines of its own")
	if !simdAvailable() {
		t.Skip("no vector kernel on this machine")
	}
	for _, tc := range []struct {
		n, d, k int
		algo    Algorithm
		warm    bool
	}{
		{3 * chunkRows / 2, 10, 8, Hamerly, false},
		{3 * chunkRows / 2, 10, 8, Lloyd, true},
		{5000, 3, 5, Hamerly, false},
		{5000, 17, 12, Lloyd, false},
		{5000, 1, 2, Hamerly, true},
		{3000, 6, 30, MiniBatch, false},
	} {
		X, _, centres := blobs(tc.n, tc.d, max(2, tc.k/2), 2.5, uint64(tc.d))
		cfg := Config{K: tc.k, NInit: 3, Seed: 7, Algorithm: tc.algo, Workers: 2}
		if tc.warm {
			cfg.Init = centres[:min(len(centres), tc.k)]
		}
		var res [2]Result
		for q, simd := range []bool{true, false} {
			p, err := cfg.resolve(context.Background(), X)
			if err != nil {
				t.Fatal(err)
			}
			p.kern.simd = simd
			if res[q], err = fit(context.Background(), X, p); err != nil {
				t.Fatal(err)
			}
		}
		a, b := res[0], res[1]
		if !slices.Equal(a.Centroids.Data, b.Centroids.Data) || !slices.Equal(a.Labels, b.Labels) ||
			a.Inertia != b.Inertia || a.Iterations != b.Iterations || a.BestInit != b.BestInit {
			t.Errorf("%+v: vector (inertia %v, %d it) and portable (inertia %v, %d it) differ",
				tc, a.Inertia, a.Iterations, b.Inertia, b.Iterations)
		}
	}
}

// The fused Hamerly rescan (vector kernels only) must match dists, argmin2
// and the bound update, including ties (duplicate centres go to the lower
// index), k below 8 (padding never wins) and listed as well as consecutive
// rows.
func TestRescanKernel(t *testing.T) {
	if !simdAvailable() {
		t.Skip("no vector kernel on this machine")
	}
	for _, d := range []int{1, 2, 5, 10} {
		for _, k := range []int{1, 2, 5, 8} {
			X, _, _ := blobs(500, d, 3, 1, uint64(10*d+k))
			C := slices.Clone(X.Data[:k*d])
			if k > 2 {
				copy(C[2*d:3*d], C[:d]) // centre 2 duplicates centre 0
			}
			kn := kernel{d: d, simd: true}
			cs := &centres{}
			kn.prepare(cs, C)
			rows := []int32{7, 3, 499, 3, 250}
			for _, listed := range []bool{false, true} {
				labels := make([]int32, X.N)
				for i := range labels {
					labels[i] = int32(i % k)
				}
				upper, lower := make([]float64, X.N), make([]float64, X.N)
				prev := make([]int32, X.N)
				var changed int
				check := []int32{}
				if listed {
					changed = rescanSIMD(&X.Data[0], &rows[0], len(rows), d, &cs.ct[0], &cs.bias, &labels[0], &upper[0], &lower[0], &prev[0])
					check = rows
				} else {
					changed = rescanSIMD(&X.Data[10*d], nil, X.N-10, d, &cs.ct[0], &cs.bias, &labels[10], &upper[10], &lower[10], &prev[0])
					for i := 10; i < X.N; i++ {
						check = append(check, int32(i))
					}
				}
				want := 0
				seen := map[int32]bool{}
				for _, i := range check {
					o := make([]float64, k)
					for j := range o {
						o[j] = pairDist(X.Row(int(i)), C[j*d:j*d+d])
					}
					j, d1, d2 := argmin2(o)
					if !seen[i] {
						want += b2i(int(i)%k != j)
						seen[i] = true
					}
					if labels[i] != int32(j) || upper[i] != math.Sqrt(d1) || lower[i] != math.Sqrt(d2) {
						t.Fatalf("d=%d k=%d listed=%v row %d: label %d bounds %v %v, want %d %v %v",
							d, k, listed, i, labels[i], upper[i], lower[i], j, math.Sqrt(d1), math.Sqrt(d2))
					}
				}
				if changed != want && !listed {
					t.Errorf("d=%d k=%d: %d changed labels, want %d", d, k, changed, want)
				}
				if !listed {
					for r := range X.N - 10 {
						if prev[r] != int32((r+10)%k) {
							t.Fatalf("d=%d k=%d: prev[%d] = %d, want %d", d, k, r, prev[r], (r+10)%k)
						}
					}
				} else if prev[0] != int32(7%k) || prev[2] != int32(499%k) {
					t.Fatalf("d=%d k=%d: prev %v", d, k, prev[:len(rows)])
				}
			}
		}
	}
}
