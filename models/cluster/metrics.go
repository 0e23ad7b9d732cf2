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
// labels. Each chunk's sums are taken in row order and the chunks' sums
// added in chunk order, whatever the number of workers (0: GOMAXPROCS), so
// that the means have the same bits however the chunks were shared out.
func clusterMeans(ctx context.Context, X Matrix, labels []int32, k, workers int) ([]float64, []int64, error) {
	d := X.D
	nc := numChunks(X.N)
	part := make([]float64, nc*k*d)
	partN := make([]int64, nc*k)
	if err := forChunks(ctx, X.N, resolveWorkers(workers), func(_, c, lo, hi int) {
		p, cnt := part[c*k*d:(c+1)*k*d], partN[c*k:(c+1)*k]
		for i := lo; i < hi; i++ {
			j := int(labels[i])
			row := p[j*d : j*d+d]
			for t, v := range X.Row(i) {
				row[t] += v
			}
			cnt[j]++
		}
	}); err != nil {
		return nil, nil, err
	}
	sums, counts := make([]float64, k*d), make([]int64, k)
	for c := 0; c < nc; c++ {
		for q, v := range part[c*k*d : (c+1)*k*d] {
			sums[q] += v
		}
		for j, v := range partN[c*k : (c+1)*k] {
			counts[j] += v
		}
	}
	for j := 0; j < k; j++ {
		if counts[j] > 0 {
			for t := 0; t < d; t++ {
				sums[j*d+t] /= float64(counts[j])
			}
		}
	}
	return sums, counts, nil
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
	ch, _, err := chdb(context.Background(), X, labels, k, 1, true, false)
	if err != nil {
		return 0, fmt.Errorf("calinski-harabasz: %w", err)
	}
	return ch, nil
}

// DaviesBouldin returns the Davies–Bouldin index (1979): the mean over
// clusters of the worst ratio (s_i + s_j) / d(c_i, c_j), where s is the mean
// distance of a cluster's rows to its mean. Lower is better. Empty clusters
// are ignored; coincident centres count as infinitely far (sklearn).
func DaviesBouldin(X Matrix, labels []int32, k int) (float64, error) {
	_, db, err := chdb(context.Background(), X, labels, k, 1, false, true)
	if err != nil {
		return 0, fmt.Errorf("davies-bouldin: %w", err)
	}
	return db, nil
}

// CalinskiHarabaszDaviesBouldin returns both indices with the same bits as
// CalinskiHarabasz and DaviesBouldin, from one computation of the cluster
// means and one pass over the rows for both, on up to workers goroutines
// (0: GOMAXPROCS).
func CalinskiHarabaszDaviesBouldin(ctx context.Context, X Matrix, labels []int32, k, workers int) (ch, db float64, err error) {
	ch, db, err = chdb(ctx, X, labels, k, workers, true, true)
	if err != nil {
		return 0, 0, fmt.Errorf("calinski-harabasz, davies-bouldin: %w", err)
	}
	return ch, db, nil
}

// chdb computes the indices asked for. Every sum is taken per chunk in row
// order and the chunks' sums added in chunk order, so the results do not
// depend on the workers.
func chdb(ctx context.Context, X Matrix, labels []int32, k, workers int, wantCH, wantDB bool) (ch, db float64, err error) {
	kk, err := checkMetricInput(X, labels, k)
	if err != nil {
		return 0, 0, err
	}
	d := X.D
	means, counts, err := clusterMeans(ctx, X, labels, k, workers)
	if err != nil {
		return 0, 0, err
	}
	nc := numChunks(X.N)
	within := make([]float64, nc)    // CH: squared distances to the row's mean
	scatter := make([]float64, nc*k) // DB: distances to the row's mean, by cluster
	if err := forChunks(ctx, X.N, resolveWorkers(workers), func(_, c, lo, hi int) {
		var s float64
		part := scatter[c*k : (c+1)*k]
		for i := lo; i < hi; i++ {
			j := int(labels[i])
			dd := sqDist(X.Row(i), means[j*d:j*d+d])
			s += dd
			if wantDB {
				part[j] += math.Sqrt(dd)
			}
		}
		within[c] = s
	}); err != nil {
		return 0, 0, err
	}
	if wantCH {
		all := make([]float64, d)
		for j := 0; j < k; j++ {
			for t := 0; t < d; t++ {
				all[t] += means[j*d+t] * float64(counts[j])
			}
		}
		for t := range all {
			all[t] /= float64(X.N)
		}
		var between, w float64
		for j := 0; j < k; j++ {
			if counts[j] > 0 {
				between += float64(counts[j]) * sqDistN(means[j*d:j*d+d], all)
			}
		}
		for _, s := range within {
			w += s
		}
		if w == 0 {
			ch = 1
		} else {
			ch = between * float64(X.N-kk) / (w * float64(kk-1))
		}
	}
	if wantDB {
		db = daviesBouldin(means, counts, scatter, k, d, kk)
	}
	return ch, db, nil
}

// daviesBouldin finishes the Davies–Bouldin index from the cluster means
// and sizes and the chunks' summed distances of the rows to their mean.
func daviesBouldin(means []float64, counts []int64, parts []float64, k, d, kk int) float64 {
	scatter := make([]float64, k)
	for c := 0; c < len(parts)/k; c++ {
		for j, v := range parts[c*k : (c+1)*k] {
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
		return 0
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
	return total / float64(kk)
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

// silhouetteTile is the sample rows whose distances to a block of rows are
// taken at a time: their centres layout (tile × d × 8 bytes, 20 KiB at
// d = 10) stays in L1 while a block's rows go through the kernel.
const silhouetteTile = 256

// silhouetteBlock is the rows a worker takes at a time.
const silhouetteBlock = 32

// Silhouette returns the mean silhouette coefficient (Rousseeuw 1987) of a
// seeded sample of sample rows (all rows if sample ≤ 0 or ≥ n), with
// distances taken within the sample, as sklearn's silhouette_score with
// sample_size does. Rows alone in their cluster (within the sample) score 0.
//
// Memory is linear in the sample. The distances go through the fit's
// vector kernel (kernel.go), a block of rows against a tile of the sample
// at a time; the sample is ordered by cluster, so that a row's distances
// to one cluster are a run of the tile, summed with four accumulators.
// Every sum is in an order fixed by the sample and the tile size, so the
// result does not depend on the workers (0 = GOMAXPROCS). Time is
// O(sample²·d).
func Silhouette(ctx context.Context, X Matrix, labels []int32, k, sample int, seed uint64, workers int) (float64, error) {
	if _, err := checkMetricInput(X, labels, k); err != nil {
		return 0, fmt.Errorf("silhouette: %w", err)
	}
	idx := sampleRows(X.N, sample, seed)
	m, d := len(idx), X.D
	size := make([]int, k)
	for _, i := range idx {
		size[labels[i]]++
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
	// The sample, ordered by cluster (rows in sample order within one).
	start := make([]int, k+1)
	for c := 0; c < k; c++ {
		start[c+1] = start[c] + size[c]
	}
	S := NewMatrix(m, d)
	lab := make([]int32, m)
	next := append([]int(nil), start[:k]...)
	for _, i := range idx {
		c := labels[i]
		q := next[c]
		next[c]++
		copy(S.Row(q), X.Row(i))
		lab[q] = c
	}
	kn := newKernel(d)
	nt := (m + silhouetteTile - 1) / silhouetteTile
	tiles := make([]centres, nt)
	for j := range tiles {
		lo, hi := j*silhouetteTile, min(m, (j+1)*silhouetteTile)
		kn.prepare(&tiles[j], S.Data[lo*d:hi*d])
	}
	stride := tiles[0].stride
	workers = resolveWorkers(workers)
	outs := make([][]float64, workers)
	sums := make([][]float64, workers)
	s := make([]float64, m)
	err := forBlocks(ctx, m, silhouetteBlock, workers, func(w, _, lo, hi int) {
		if outs[w] == nil {
			outs[w] = make([]float64, silhouetteBlock*stride)
			sums[w] = make([]float64, silhouetteBlock*k)
		}
		out, sum := outs[w], sums[w][:(hi-lo)*k]
		clear(sum)
		for j := range tiles {
			cs := &tiles[j]
			kn.dists(S.Data, lo, hi, cs, out)
			t0 := j * silhouetteTile
			for r := 0; r < hi-lo; r++ {
				row := out[r*cs.stride : r*cs.stride+cs.m]
				acc := sum[r*k : r*k+k]
				// The runs of one cluster within the tile.
				for a := 0; a < len(row); {
					c := lab[t0+a]
					b := min(len(row), start[c+1]-t0)
					if kn.simd {
						acc[c] += sqrtSumSIMD(&row[a], b-a)
					} else {
						acc[c] += sqrtSum(row[a:b])
					}
					a = b
				}
			}
		}
		for r := 0; r < hi-lo; r++ {
			i := lo + r
			own := lab[i]
			if size[own] < 2 {
				continue
			}
			acc := sum[r*k : r*k+k]
			a := acc[own] / float64(size[own]-1)
			b := math.Inf(1)
			for c, v := range acc {
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

// sqrtSum returns the sum of the square roots of v, with four
// accumulators (sqrtSumSIMD's lanes, the same bits).
func sqrtSum(v []float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += math.Sqrt(v[i])
		s1 += math.Sqrt(v[i+1])
		s2 += math.Sqrt(v[i+2])
		s3 += math.Sqrt(v[i+3])
	}
	for ; i < len(v); i++ {
		s0 += math.Sqrt(v[i])
	}
	return (s0 + s1) + (s2 + s3)
}
