package cluster

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
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
// change over many iterations.
func TestHamerlyEqualsLloyd(t *testing.T) {
	for _, tc := range []struct{ n, d, k int }{{20000, 2, 12}, {20000, 8, 8}, {9000, 10, 20}, {5000, 3, 1}} {
		X, _, _ := blobs(tc.n, tc.d, max(tc.k/2, 1), 2, 5)
		cfg := Config{K: tc.k, Seed: 9, NInit: 2, Tol: -1, Workers: 2}
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
	C, err := seedPlusPlus(context.Background(), X, k, nil, newRestartRNG(seed, 0), 1, make([]float64, X.N))
	if err != nil {
		t.Fatal(err)
	}
	return C
}

// Kernels: the chunk kernels, nearest, nearest2 and sqDist must agree to
// the bit, or Lloyd, Hamerly and Assign drift apart.
func TestKernelsAgree(t *testing.T) {
	for _, d := range []int{1, 3, 4, 7, 8, 10, 17} {
		X, _, _ := blobs(500, d, 5, 1, uint64(d))
		C := slices.Clone(X.Data[:5*d])
		labels := make([]int32, X.N)
		sums, counts := make([]float64, 5*d), make([]int64, 5)
		inertia, _ := lloydChunk(X.Data, d, C, 5, 0, X.N, labels, sums, counts)
		var want float64
		dist := make([]float64, 5)
		for i := 0; i < X.N; i++ {
			x := X.Row(i)
			j, best := nearest(x, C, 5)
			j2, b1, b2 := nearest2(x, C, 5)
			sqDists(x, C, dist)
			if j != int(labels[i]) || j2 != j || b1 != best || best != sqDist(x, C[j*d:j*d+d]) || dist[j] != best {
				t.Fatalf("d=%d row %d: kernels disagree", d, i)
			}
			sorted := slices.Clone(dist)
			slices.Sort(sorted)
			if b2 != sorted[1] || slices.Index(dist, best) != j {
				t.Fatalf("d=%d row %d: second distance %v, want %v (or tie not to lowest)", d, i, b2, sorted[1])
			}
			want += best
		}
		// Same per-row values, one chunk: same sum.
		if inertia != want {
			t.Errorf("d=%d: chunk inertia %v, sum of sqDist %v", d, inertia, want)
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

func TestAssignReproducesFit(t *testing.T) {
	X, _, _ := blobs(3*chunkRows, 8, 6, 3, 4)
	res, err := KMeans(context.Background(), X, Config{K: 6, Seed: 5, NInit: 2})
	if err != nil {
		t.Fatal(err)
	}
	labels, inertia, err := Assign(context.Background(), X, res.Centroids, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(labels, res.Labels) || inertia != res.Inertia {
		t.Errorf("Assign: inertia %v vs fit %v, labels equal %v", inertia, res.Inertia, slices.Equal(labels, res.Labels))
	}
	if in, err := Inertia(X, res.Centroids, res.Labels); err != nil || in != res.Inertia {
		t.Errorf("Inertia = %v, %v; want %v", in, err, res.Inertia)
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
