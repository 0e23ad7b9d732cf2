package cluster

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Naive references, written from the definitions.

func naiveSilhouette(X Matrix, labels []int32, k int) float64 {
	var total float64
	for i := 0; i < X.N; i++ {
		sum, cnt := make([]float64, k), make([]int, k)
		for j := 0; j < X.N; j++ {
			var s float64
			for t := 0; t < X.D; t++ {
				e := X.Row(i)[t] - X.Row(j)[t]
				s += e * e
			}
			sum[labels[j]] += math.Sqrt(s)
			cnt[labels[j]]++
		}
		own := labels[i]
		if cnt[own] == 1 {
			continue
		}
		a := sum[own] / float64(cnt[own]-1)
		b := math.Inf(1)
		for c := 0; c < k; c++ {
			if int32(c) != own && cnt[c] > 0 {
				b = math.Min(b, sum[c]/float64(cnt[c]))
			}
		}
		total += (b - a) / math.Max(a, b)
	}
	return total / float64(X.N)
}

func naiveMeans(X Matrix, labels []int32, k int) ([][]float64, []float64, []int) {
	means, cnt := make([][]float64, k), make([]int, k)
	all := make([]float64, X.D)
	for j := range means {
		means[j] = make([]float64, X.D)
	}
	for i := 0; i < X.N; i++ {
		cnt[labels[i]]++
		for t, v := range X.Row(i) {
			means[labels[i]][t] += v
			all[t] += v / float64(X.N)
		}
	}
	for j := range means {
		for t := range means[j] {
			means[j][t] /= float64(cnt[j])
		}
	}
	return means, all, cnt
}

func dist(a, b []float64) float64 {
	var s float64
	for t := range a {
		s += (a[t] - b[t]) * (a[t] - b[t])
	}
	return math.Sqrt(s)
}

func naiveCH(X Matrix, labels []int32, k int) float64 {
	means, all, cnt := naiveMeans(X, labels, k)
	var b, w float64
	for j := range means {
		b += float64(cnt[j]) * dist(means[j], all) * dist(means[j], all)
	}
	for i := 0; i < X.N; i++ {
		d := dist(X.Row(i), means[labels[i]])
		w += d * d
	}
	return b / float64(k-1) / (w / float64(X.N-k))
}

func naiveDB(X Matrix, labels []int32, k int) float64 {
	means, _, cnt := naiveMeans(X, labels, k)
	s := make([]float64, k)
	for i := 0; i < X.N; i++ {
		s[labels[i]] += dist(X.Row(i), means[labels[i]]) / float64(cnt[labels[i]])
	}
	var total float64
	for a := 0; a < k; a++ {
		worst := 0.0
		for b := 0; b < k; b++ {
			if a != b {
				worst = math.Max(worst, (s[a]+s[b])/dist(means[a], means[b]))
			}
		}
		total += worst
	}
	return total / float64(k)
}

func TestMetricsAgreeWithNaive(t *testing.T) {
	for _, tc := range []struct{ n, d, k int }{{300, 2, 3}, {500, 5, 4}, {400, 8, 6}} {
		// Overlapping blobs and labels from k-means: all three measures
		// far from their trivial values.
		X, _, _ := blobs(tc.n, tc.d, tc.k, 2, 3)
		res, err := KMeans(context.Background(), X, Config{K: tc.k, Seed: 1, NInit: 1})
		if err != nil {
			t.Fatal(err)
		}
		sil, err := Silhouette(context.Background(), X, res.Labels, tc.k, 0, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := CalinskiHarabasz(X, res.Labels, tc.k)
		if err != nil {
			t.Fatal(err)
		}
		db, err := DaviesBouldin(X, res.Labels, tc.k)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			name      string
			got, want float64
		}{
			{"silhouette", sil, naiveSilhouette(X, res.Labels, tc.k)},
			{"CH", ch, naiveCH(X, res.Labels, tc.k)},
			{"DB", db, naiveDB(X, res.Labels, tc.k)},
		} {
			if math.Abs(m.got-m.want) > 1e-9*math.Max(1, math.Abs(m.want)) {
				t.Errorf("n=%d d=%d k=%d %s = %.15g, naive %.15g", tc.n, tc.d, tc.k, m.name, m.got, m.want)
			}
		}
	}
}

// The sampled silhouette is the silhouette of the sampled rows, and it does
// not depend on the number of workers.
func TestSilhouetteSample(t *testing.T) {
	X, truth, _ := blobs(3000, 3, 4, 3, 6)
	idx := sampleRows(X.N, 400, 77)
	if len(idx) != 400 {
		t.Fatalf("%d sampled rows", len(idx))
	}
	S := NewMatrix(len(idx), X.D)
	lab := make([]int32, len(idx))
	for q, i := range idx {
		if q > 0 && i <= idx[q-1] {
			t.Fatal("sample not strictly increasing")
		}
		copy(S.Row(q), X.Row(i))
		lab[q] = truth[i]
	}
	want := naiveSilhouette(S, lab, 4)
	for _, w := range []int{1, 2, 5} {
		got, err := Silhouette(context.Background(), X, truth, 4, 400, 77, w)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("workers=%d: sampled silhouette %v, naive on the sample %v", w, got, want)
		}
	}
}

func TestMetricErrors(t *testing.T) {
	X := Matrix{Data: []float64{0, 1, 2}, N: 3, D: 1}
	if _, err := CalinskiHarabasz(X, []int32{0, 0, 0}, 2); err == nil {
		t.Error("one cluster: no error")
	}
	if _, err := DaviesBouldin(X, []int32{0, 1, 2}, 3); err == nil {
		t.Error("n clusters: no error")
	}
	if _, err := Silhouette(context.Background(), X, []int32{0, 3, 1}, 2, 0, 0, 1); err == nil {
		t.Error("label out of range: no error")
	}
}

func TestChooseKFindsPlantedK(t *testing.T) {
	for _, planted := range []int{3, 5} {
		X, _, _ := blobs(2000, 4, planted, 8, uint64(planted))
		choice, results, err := ChooseK(context.Background(), X, 2, 7, Config{Seed: 2, NInit: 3}, 600)
		if err != nil {
			t.Fatal(err)
		}
		if choice.K != planted {
			t.Errorf("chose k=%d, planted %d (%s)", choice.K, planted, choice.Reason)
		}
		if len(choice.Scores) != 6 || len(results) != 6 || results[planted-2].Centroids.N != planted {
			t.Errorf("got %d scores, %d results", len(choice.Scores), len(results))
		}
		if !strings.HasPrefix(choice.Reason, "k=") || !strings.Contains(choice.Reason, "600-row sample") ||
			!strings.Contains(choice.Reason, "CH agrees") {
			t.Errorf("reason %q", choice.Reason)
		}
		t.Log(choice.Reason)
	}
}

// TestSqrtSumSIMDAgrees pins the vector square-root sum to sqrtSum bit
// for bit, at every length around the four-lane steps.
func TestSqrtSumSIMDAgrees(t *testing.T) {
	if !simdAvailable() {
		t.Skip("no vector kernel here")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	v := make([]float64, 67)
	for i := range v {
		v[i] = rng.Float64() * math.Pow(10, float64(rng.IntN(12)-6))
	}
	for n := 1; n <= len(v); n++ {
		want, got := sqrtSum(v[:n]), sqrtSumSIMD(&v[0], n)
		if math.Float64bits(want) != math.Float64bits(got) {
			t.Fatalf("n=%d: sqrtSumSIMD %v, sqrtSum %v", n, got, want)
		}
	}
}

// TestFusedMetricsSameBits: CalinskiHarabaszDaviesBouldin gives the bits
// of CalinskiHarabasz and DaviesBouldin with any number of workers, and
// Silhouette the same bits with any number of workers, on enough rows for
// many chunks and tiles.
func TestFusedMetricsSameBits(t *testing.T) {
	X, _, _ := blobs(40_000, 7, 5, 2, 9)
	res, err := KMeans(context.Background(), X, Config{K: 5, Seed: 1, NInit: 1})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := CalinskiHarabasz(X, res.Labels, 5)
	if err != nil {
		t.Fatal(err)
	}
	db, err := DaviesBouldin(X, res.Labels, 5)
	if err != nil {
		t.Fatal(err)
	}
	sil1, err := Silhouette(context.Background(), X, res.Labels, 5, 1500, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{1, 2, 3, 8} {
		gch, gdb, err := CalinskiHarabaszDaviesBouldin(context.Background(), X, res.Labels, 5, w)
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(gch) != math.Float64bits(ch) || math.Float64bits(gdb) != math.Float64bits(db) {
			t.Errorf("workers %d: CH %v DB %v, separately %v %v", w, gch, gdb, ch, db)
		}
		sil, err := Silhouette(context.Background(), X, res.Labels, 5, 1500, 3, w)
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(sil) != math.Float64bits(sil1) {
			t.Errorf("workers %d: silhouette %v, with one worker %v", w, sil, sil1)
		}
	}
}
