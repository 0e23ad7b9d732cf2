package cluster

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bruteAssign tries every injection of rows into columns.
func bruteAssign(cost [][]float64) float64 {
	n, m := len(cost), len(cost[0])
	best := math.Inf(1)
	used := make([]bool, m)
	var rec func(i int, acc float64)
	rec = func(i int, acc float64) {
		if i == n {
			best = math.Min(best, acc)
			return
		}
		for j := 0; j < m; j++ {
			if !used[j] {
				used[j] = true
				rec(i+1, acc+cost[i][j])
				used[j] = false
			}
		}
	}
	rec(0, 0)
	return best
}

func TestHungarianVsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 300; trial++ {
		n := 1 + rng.IntN(7)
		m := n + rng.IntN(3) // rectangular too
		cost := make([][]float64, n)
		for i := range cost {
			cost[i] = make([]float64, m)
			for j := range cost[i] {
				if trial%3 == 0 {
					cost[i][j] = float64(rng.IntN(4)) // many ties
				} else {
					cost[i][j] = rng.Float64()*10 - 3
				}
			}
		}
		assign, total, err := Hungarian(cost)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		var sum float64
		for i, j := range assign {
			if j < 0 || j >= m || seen[j] {
				t.Fatalf("trial %d: invalid assignment %v", trial, assign)
			}
			seen[j] = true
			sum += cost[i][j]
		}
		want := bruteAssign(cost)
		if math.Abs(total-want) > 1e-9 || math.Abs(sum-total) > 1e-9 {
			t.Fatalf("trial %d (%d×%d): cost %v (recomputed %v), brute force %v", trial, n, m, total, sum, want)
		}
		if n < m { // transposed: more rows than columns
			tr := make([][]float64, m)
			for j := range tr {
				tr[j] = make([]float64, n)
				for i := range cost {
					tr[j][i] = cost[i][j]
				}
			}
			a2, t2, err := Hungarian(tr)
			if err != nil {
				t.Fatal(err)
			}
			unassigned := 0
			for _, j := range a2 {
				if j < 0 {
					unassigned++
				}
			}
			if math.Abs(t2-want) > 1e-9 || unassigned != m-n {
				t.Fatalf("trial %d transposed: cost %v want %v, %d unassigned", trial, t2, want, unassigned)
			}
		}
	}
}

// relabel permutes the planted components' order: the same blobs, drawn in
// a different order, so k-means numbers them differently.
func permutedBlobs(n, d, k int, order []int, extra [][]float64, seed uint64) (Matrix, []int32) {
	_, _, centres := blobs(10, d, k, 12, 99)
	var cs [][]float64
	for _, o := range order {
		cs = append(cs, centres[o])
	}
	cs = append(cs, extra...)
	rng := rand.New(rand.NewPCG(seed, 1))
	X := NewMatrix(n, d)
	truth := make([]int32, n)
	for i := 0; i < n; i++ {
		j := rng.IntN(len(cs))
		if j < len(order) {
			truth[i] = int32(order[j])
		} else {
			truth[i] = int32(k + j - len(order))
		}
		for t, v := range cs[j] {
			X.Data[i*d+t] = v + rng.NormFloat64()
		}
	}
	return X, truth
}

func TestStableIDs(t *testing.T) {
	const k, d = 5, 3
	features := []string{"recency", "frequency", "monetary"}
	fit := func(X Matrix, k int) (Result, *Scaler) {
		sc, err := FitScaler(X, []Scaling{ScaleZScore, ScaleZScore, ScaleZScore}, features)
		if err != nil {
			t.Fatal(err)
		}
		Y, _ := sc.Transform(X)
		res, err := KMeans(context.Background(), Y, Config{K: k, Seed: 4, NInit: 3})
		if err != nil {
			t.Fatal(err)
		}
		return res, sc
	}
	// idOfBlob maps each planted blob to the id of the cluster holding most
	// of its rows.
	idOfBlob := func(truth []int32, labels []int32, ids []int, blobs int) []int {
		votes := make([]map[int]int, blobs)
		for i := range votes {
			votes[i] = map[int]int{}
		}
		for i, b := range truth {
			votes[b][ids[labels[i]]]++
		}
		out := make([]int, blobs)
		for b, v := range votes {
			best := -1
			for id, c := range v {
				if best < 0 || c > v[best] || (c == v[best] && id < best) {
					best = id
				}
			}
			out[b] = best
		}
		return out
	}

	X1, truth1 := permutedBlobs(3000, d, k, []int{0, 1, 2, 3, 4}, nil, 1)
	r1, sc1 := fit(X1, k)
	first, err := StableIDs(Snapshot{}, r1.Centroids, sc1, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids1 := idOfBlob(truth1, r1.Labels, first.IDs, k)
	snap, err := NewSnapshot(r1.Centroids, first.IDs, sc1)
	if err != nil {
		t.Fatal(err)
	}

	// Run 2: same blobs in another order (and other draws): ids follow blobs.
	X2, truth2 := permutedBlobs(3000, d, k, []int{3, 0, 4, 2, 1}, nil, 2)
	r2, sc2 := fit(X2, k)
	if equalInts(ids1, idOfBlob(truth2, r2.Labels, []int{0, 1, 2, 3, 4}, k)) {
		t.Fatal("run 2 numbers the clusters as run 1 does; the test would not test anything")
	}
	m2, err := StableIDs(snap, r2.Centroids, sc2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids2 := idOfBlob(truth2, r2.Labels, m2.IDs, k); !equalInts(ids1, ids2) {
		t.Errorf("ids per blob: run 1 %v, run 2 %v", ids1, ids2)
	}

	// Run 3: a sixth blob appears; it gets id max+1 = 5, the others keep theirs.
	X3, truth3 := permutedBlobs(3600, d, k, []int{4, 3, 2, 1, 0}, [][]float64{{30, -30, 30}}, 3)
	r3, sc3 := fit(X3, k+1)
	m3, err := StableIDs(snap, r3.Centroids, sc3, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids3 := idOfBlob(truth3, r3.Labels, m3.IDs, k+1)
	if !equalInts(ids1, ids3[:k]) || ids3[k] != 5 {
		t.Errorf("with a new blob: ids per blob %v, want %v then 5", ids3, ids1)
	}

	// maxDist refuses every match when tiny: all new ids from 5.
	m4, err := StableIDs(snap, r2.Centroids, sc2, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	for j, id := range m4.IDs {
		if id != 5+j || m4.Prev[j] != -1 {
			t.Errorf("maxDist: cluster %d got id %d (prev %d)", j, id, m4.Prev[j])
		}
	}

	// The snapshot as a warm start: restart 0 starts at the old centres.
	init, err := snap.WarmStart(sc2)
	if err != nil {
		t.Fatal(err)
	}
	Y2, _ := sc2.Transform(X2)
	warm, err := KMeans(context.Background(), Y2, Config{K: k, NInit: 1, Init: init})
	if err != nil {
		t.Fatal(err)
	}
	mw, _ := StableIDs(snap, warm.Centroids, sc2, 0)
	for j := range mw.IDs {
		if mw.IDs[j] != snap.IDs[j] {
			t.Errorf("warm start: cluster %d got id %d, want %d", j, mw.IDs[j], snap.IDs[j])
		}
	}

	// A dropped feature: matching uses the shared ones.
	sc5, _ := FitScaler(Matrix{Data: []float64{0, 1, 2, 3}, N: 2, D: 2}, []Scaling{ScaleNone, ScaleNone}, []string{"monetary", "tenure"})
	if _, err := StableIDs(snap, Matrix{Data: []float64{0, 0, 1, 1}, N: 2, D: 2}, sc5, 0); err != nil {
		t.Errorf("one shared feature: %v", err)
	}
	if _, err := snap.WarmStart(sc5); err == nil {
		t.Error("warm start with a missing feature accepted")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Hungarian's total must equal the brute-force optimum for every size up to
// k = 8 clusters on each side (the sizes stable ids meet), square and with
// spare columns (new clusters), under cost shapes that stress it: many ties,
// negative costs, a wide dynamic range. Tolerance: 1e-9 relative to the
// largest cost.
func TestHungarianEqualsBruteForceUpTo8(t *testing.T) {
	shapes := []struct {
		name string
		cost func(rng *rand.Rand) float64
	}{
		{"uniform", func(rng *rand.Rand) float64 { return rng.Float64() * 10 }},
		{"ties", func(rng *rand.Rand) float64 { return float64(rng.IntN(3)) }},
		{"negative", func(rng *rand.Rand) float64 { return rng.Float64()*10 - 7 }},
		{"wide range", func(rng *rand.Rand) float64 { return math.Exp(rng.Float64() * 20) }},
	}
	for n := 1; n <= 8; n++ {
		for _, extra := range []int{0, 1} {
			for _, sh := range shapes {
				t.Run(fmt.Sprintf("%dx%d/%s", n, n+extra, sh.name), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(n), uint64(extra)))
					for trial := 0; trial < 3; trial++ {
						cost := make([][]float64, n)
						scale := 0.0
						for i := range cost {
							cost[i] = make([]float64, n+extra)
							for j := range cost[i] {
								cost[i][j] = sh.cost(rng)
								scale = max(scale, math.Abs(cost[i][j]))
							}
						}
						assign, total, err := Hungarian(cost)
						if err != nil {
							t.Fatal(err)
						}
						var sum float64
						seen := map[int]bool{}
						for i, j := range assign {
							if j < 0 || j >= n+extra || seen[j] {
								t.Fatalf("invalid assignment %v", assign)
							}
							seen[j] = true
							sum += cost[i][j]
						}
						want := bruteAssign(cost)
						if tol := 1e-9 * max(1, scale); math.Abs(total-want) > tol || math.Abs(sum-total) > tol {
							t.Fatalf("trial %d: cost %v (recomputed %v), brute force %v", trial, total, sum, want)
						}
					}
				})
			}
		}
	}
}
