package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// clusterMeans returns the per-cluster means (k×d) and sizes of X under
// labels, summed in chunk order.
func clusterMeans(X Matrix, labels []int32, k int) ([]float64, []int64) {
	d := X.D
	sums, counts := make([]float64, k*d), make([]int64, k)
	part := make([]float64, k*d)
	for c := 0; c < numChunks(X.N); c++ {
		lo, hi := chunkBounds(c, X.N)
		clear(part)
		for i := lo; i < hi; i++ {
			j := int(labels[i])
			row := part[j*d : j*d+d]
			for t, v := range X.Row(i) {
				row[t] += v
			}
			counts[j]++
		}
		for q, v := range part {
			sums[q] += v
		}
	}
	for j := 0; j < k; j++ {
		if counts[j] > 0 {
			for t := 0; t < d; t++ {
				sums[j*d+t] /= float64(counts[j])
			}
		}
	}
	return sums, counts
}

func checkMetricInput(X Matrix, labels []int32, k int) (nonEmpty int, err error) {
	if err := X.validate("data"); err != nil {
		return 0, err
	}
	if k < 1 {
		return 0, fmt.Errorf("k=%d", k)
	}
	if err := checkLabels(labels, X.N, k); err != nil {
		return 0, err
	}
	seen := make([]bool, k)
	for _, l := range labels {
		if !seen[l] {
			seen[l] = true
			nonEmpty++
		}
	}
	if nonEmpty < 2 || nonEmpty >= X.N {
		return 0, fmt.Errorf("%d non-empty clusters for %d rows: need 2 ≤ clusters < rows", nonEmpty, X.N)
	}
	return nonEmpty, nil
}

// CalinskiHarabasz returns the variance ratio criterion (Caliński &
// Harabasz 1974): between-cluster dispersion over within-cluster dispersion,
// each divided by its degrees of freedom. Higher is better. Clusters are
// those present in labels (as sklearn counts them); centres are the cluster
// means, not any fitted centroids.
func CalinskiHarabasz(X Matrix, labels []int32, k int) (float64, error) {
	kk, err := checkMetricInput(X, labels, k)
	if err != nil {
		return 0, fmt.Errorf("calinski-harabasz: %w", err)
	}
	d := X.D
	means, counts := clusterMeans(X, labels, k)
	all := make([]float64, d)
	for j := 0; j < k; j++ {
		for t := 0; t < d; t++ {
			all[t] += means[j*d+t] * float64(counts[j])
		}
	}
	for t := range all {
		all[t] /= float64(X.N)
	}
	var between, within float64
	for j := 0; j < k; j++ {
		if counts[j] > 0 {
			between += float64(counts[j]) * sqDistN(means[j*d:j*d+d], all)
		}
	}
	for c := 0; c < numChunks(X.N); c++ {
		lo, hi := chunkBounds(c, X.N)
		var s float64
		for i := lo; i < hi; i++ {
			j := int(labels[i])
			s += sqDist(X.Row(i), means[j*d:j*d+d])
		}
		within += s
	}
	if within == 0 {
		return 1, nil
	}
	return between * float64(X.N-kk) / (within * float64(kk-1)), nil
}

// DaviesBouldin returns the Davies–Bouldin index (1979): the mean over
// clusters of the worst ratio (s_i + s_j) / d(c_i, c_j), where s is the mean
// distance of a cluster's rows to its mean. Lower is better. Empty clusters
// are ignored; coincident centres count as infinitely far (sklearn).
func DaviesBouldin(X Matrix, labels []int32, k int) (float64, error) {
	kk, err := checkMetricInput(X, labels, k)
	if err != nil {
		return 0, fmt.Errorf("davies-bouldin: %w", err)
	}
	d := X.D
	means, counts := clusterMeans(X, labels, k)
	scatter := make([]float64, k)
	part := make([]float64, k)
	for c := 0; c < numChunks(X.N); c++ {
		lo, hi := chunkBounds(c, X.N)
		clear(part)
		for i := lo; i < hi; i++ {
			j := int(labels[i])
			part[j] += math.Sqrt(sqDist(X.Row(i), means[j*d:j*d+d]))
		}
		for j, v := range part {
			scatter[j] += v
		}
	}
	allZero := true
	for j := range scatter {
		if counts[j] > 0 {
			scatter[j] /= float64(counts[j])
			allZero = allZero && scatter[j] == 0
		}
	}
	if allZero {
		return 0, nil
	}
	var total float64
	for a := 0; a < k; a++ {
		if counts[a] == 0 {
			continue
		}
		worst := 0.0
		for b := 0; b < k; b++ {
			if b == a || counts[b] == 0 {
				continue
			}
			dist := math.Sqrt(sqDist(means[a*d:a*d+d], means[b*d:b*d+d]))
			if dist == 0 {
				continue
			}
			worst = max(worst, (scatter[a]+scatter[b])/dist)
		}
		total += worst
	}
	return total / float64(kk), nil
}

// sampleRows returns m distinct row indices of [0,n) in increasing order,
// drawn with Floyd's algorithm (memory O(m)); all rows if m ≤ 0 or m ≥ n.
func sampleRows(n, m int, seed uint64) []int {
	if m <= 0 || m >= n {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	rng := rand.New(rand.NewPCG(seed, 0x5111))
	set := make(map[int]struct{}, m)
	out := make([]int, 0, m)
	for j := n - m; j < n; j++ {
		t := rng.IntN(j + 1)
		if _, dup := set[t]; dup {
			t = j
		}
		set[t] = struct{}{}
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Silhouette returns the mean silhouette coefficient (Rousseeuw 1987) of a
// seeded sample of sample rows (all rows if sample ≤ 0 or ≥ n), with
// distances taken within the sample, as sklearn's silhouette_score with
// sample_size does. Rows alone in their cluster (within the sample) score 0.
//
// Memory is linear in the sample: each sampled row streams over the others
// and keeps one running distance sum per cluster. Time is O(sample²·d),
// split over workers (0 = GOMAXPROCS); the result does not depend on them.
func Silhouette(ctx context.Context, X Matrix, labels []int32, k, sample int, seed uint64, workers int) (float64, error) {
	if _, err := checkMetricInput(X, labels, k); err != nil {
		return 0, fmt.Errorf("silhouette: %w", err)
	}
	idx := sampleRows(X.N, sample, seed)
	m, d := len(idx), X.D
	S := NewMatrix(m, d)
	lab := make([]int32, m)
	size := make([]int, k)
	for q, i := range idx {
		copy(S.Row(q), X.Row(i))
		lab[q] = labels[i]
		size[lab[q]]++
	}
	present := 0
	for _, c := range size {
		if c > 0 {
			present++
		}
	}
	if present < 2 {
		return 0, errors.New("silhouette: the sample holds fewer than 2 clusters")
	}
	s := make([]float64, m)
	err := forBlocks(ctx, m, 64, resolveWorkers(workers), func(_, _, lo, hi int) {
		sums := make([]float64, k)
		for i := lo; i < hi; i++ {
			clear(sums)
			x := S.Row(i)
			for j := 0; j < m; j++ {
				sums[lab[j]] += math.Sqrt(sqDist(x, S.Data[j*d:j*d+d]))
			}
			own := lab[i]
			if size[own] < 2 {
				continue
			}
			a := sums[own] / float64(size[own]-1)
			b := math.Inf(1)
			for c, v := range sums {
				if int32(c) != own && size[c] > 0 {
					b = min(b, v/float64(size[c]))
				}
			}
			if den := max(a, b); den > 0 {
				s[i] = (b - a) / den
			}
		}
	})
	if err != nil {
		return 0, fmt.Errorf("silhouette: %w", err)
	}
	var total float64
	for _, v := range s {
		total += v
	}
	return total / float64(m), nil
}
