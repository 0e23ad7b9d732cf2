package cluster

import (
	"errors"
	"fmt"
	"math"
)

// Hungarian solves the assignment problem for a rows×cols cost matrix: it
// returns, for each row, a distinct column (or -1 when rows > cols leaves
// the row unassigned) minimising the summed cost, and that sum. It is the
// O(rows²·cols) shortest-augmenting-path form with potentials (Kuhn–Munkres
// as refined by Jonker–Volgenant); costs must be finite.
func Hungarian(cost [][]float64) ([]int, float64, error) {
	n := len(cost)
	if n == 0 {
		return nil, 0, nil
	}
	m := len(cost[0])
	for i, r := range cost {
		if len(r) != m {
			return nil, 0, fmt.Errorf("hungarian: row %d has %d columns, row 0 has %d", i, len(r), m)
		}
		for _, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, 0, errors.New("hungarian: non-finite cost")
			}
		}
	}
	if m == 0 {
		return nil, 0, errors.New("hungarian: no columns")
	}
	if n > m {
		t := make([][]float64, m)
		for j := range t {
			t[j] = make([]float64, n)
			for i := range cost {
				t[j][i] = cost[i][j]
			}
		}
		colRow, total, err := Hungarian(t)
		if err != nil {
			return nil, 0, err
		}
		assign := make([]int, n)
		for i := range assign {
			assign[i] = -1
		}
		for j, i := range colRow {
			assign[i] = j
		}
		return assign, total, nil
	}
	// 1-based: row 0 / column 0 are the virtual start of each augmenting path.
	u, v := make([]float64, n+1), make([]float64, m+1)
	p, way := make([]int, m+1), make([]int, m+1) // p[j]: row matched to column j
	minv, used := make([]float64, m+1), make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j], used[j] = math.Inf(1), false
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				if cur := cost[i0-1][j-1] - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	assign := make([]int, n)
	var total float64
	for j := 1; j <= m; j++ {
		if p[j] != 0 {
			assign[p[j]-1] = j - 1
		}
	}
	for i, j := range assign {
		total += cost[i][j]
	}
	return assign, total, nil
}

// Snapshot is what a run keeps of its clusters so that the next run can
// reuse their ids.
type Snapshot struct {
	Features []string `json:"features"`
	IDs      []int    `json:"ids"`
	// Centroids are in raw feature units: the fitted centroids mapped back
	// through the run's Scaler, so that a later run with a refitted scaler
	// can place them in its own space.
	Centroids [][]float64 `json:"centroids"`
}

// NewSnapshot records fitted centroids (in sc's scaled space) under ids.
func NewSnapshot(centroids Matrix, ids []int, sc *Scaler) (Snapshot, error) {
	if len(ids) != centroids.N {
		return Snapshot{}, fmt.Errorf("snapshot: %d ids for %d centroids", len(ids), centroids.N)
	}
	if len(sc.Features) != centroids.D {
		return Snapshot{}, fmt.Errorf("snapshot: scaler names %d features, centroids have %d", len(sc.Features), centroids.D)
	}
	raw, err := sc.InverseTransform(centroids)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	return Snapshot{
		Features:  append([]string(nil), sc.Features...),
		IDs:       append([]int(nil), ids...),
		Centroids: raw.Rows(),
	}, nil
}

// scaledShared returns prev's centroids on the features shared with sc,
// scaled by sc, and the matching column indices of sc's space.
func (s Snapshot) scaledShared(sc *Scaler) (rows [][]float64, cols []int, err error) {
	if len(s.IDs) != len(s.Centroids) {
		return nil, nil, fmt.Errorf("snapshot has %d ids for %d centroids", len(s.IDs), len(s.Centroids))
	}
	at := make(map[string]int, len(s.Features))
	for i, f := range s.Features {
		at[f] = i
	}
	var src []int
	for t, f := range sc.Features {
		if i, ok := at[f]; ok {
			cols, src = append(cols, t), append(src, i)
		}
	}
	rows = make([][]float64, len(s.Centroids))
	for r, c := range s.Centroids {
		if len(c) != len(s.Features) {
			return nil, nil, fmt.Errorf("snapshot centroid %d has %d values for %d features", r, len(c), len(s.Features))
		}
		rows[r] = make([]float64, len(cols))
		for q, t := range cols {
			rows[r][q] = sc.Value(t, c[src[q]])
		}
	}
	return rows, cols, nil
}

// WarmStart returns the snapshot's centroids in sc's scaled space, in
// snapshot order, for Config.Init. Every feature of sc must be in the
// snapshot: a centre with a guessed coordinate is no better than k-means++.
func (s Snapshot) WarmStart(sc *Scaler) ([][]float64, error) {
	rows, cols, err := s.scaledShared(sc)
	if err != nil {
		return nil, fmt.Errorf("warm start: %w", err)
	}
	if len(cols) != len(sc.Features) {
		return nil, fmt.Errorf("warm start: snapshot has %d of the %d features", len(cols), len(sc.Features))
	}
	return rows, nil
}

// Matching is the outcome of StableIDs, indexed by the new clusters.
type Matching struct {
	IDs []int
	// Prev is the index of the matched snapshot cluster, -1 for a new id.
	Prev []int
	// Dist is the distance to the matched snapshot centroid (on the shared
	// features, in the new scaled space); NaN for a new id.
	Dist []float64
}

// StableIDs gives the new clusters (centroids in the space of sc, which must
// name its features) the ids of the snapshot's clusters they correspond to.
//
// Snapshot centroids are scaled with the new scaler and compared on the
// features both runs have; the pairing minimises the summed squared distance
// (Hungarian). Without maxDist (≤ 0) as many clusters as possible keep an id.
// With maxDist > 0, keeping an id costs the squared distance and taking a
// new one costs maxDist², so no pair farther than maxDist is matched. New
// clusters get max(previous ids)+1, +2, … in cluster order. An empty
// snapshot gives ids 0..k-1.
func StableIDs(prev Snapshot, centroids Matrix, sc *Scaler, maxDist float64) (Matching, error) {
	if err := centroids.validateFinite("centroids"); err != nil {
		return Matching{}, fmt.Errorf("stable ids: %w", err)
	}
	if len(sc.Features) != centroids.D {
		return Matching{}, fmt.Errorf("stable ids: scaler names %d features, centroids have %d", len(sc.Features), centroids.D)
	}
	k, kp := centroids.N, len(prev.IDs)
	m := Matching{IDs: make([]int, k), Prev: make([]int, k), Dist: make([]float64, k)}
	for j := range m.Prev {
		m.Prev[j], m.Dist[j] = -1, math.NaN()
	}
	next := 0
	if kp > 0 {
		rows, cols, err := prev.scaledShared(sc)
		if err != nil {
			return Matching{}, fmt.Errorf("stable ids: %w", err)
		}
		if len(cols) == 0 {
			return Matching{}, errors.New("stable ids: no feature in common with the snapshot")
		}
		cost := make([][]float64, k)
		var sum float64
		for j := range cost {
			cost[j] = make([]float64, kp+k)
			for q := range rows {
				var s float64
				for c, t := range cols {
					e := centroids.Data[j*centroids.D+t] - rows[q][c]
					s += e * e
				}
				cost[j][q] = s
				sum += s
			}
		}
		newCost := sum + 1
		if maxDist > 0 {
			newCost = maxDist * maxDist
		}
		for j := range cost {
			for q := kp; q < kp+k; q++ {
				cost[j][q] = newCost
			}
		}
		assign, _, err := Hungarian(cost)
		if err != nil {
			return Matching{}, fmt.Errorf("stable ids: %w", err)
		}
		for j, q := range assign {
			if q < kp && (maxDist <= 0 || cost[j][q] <= maxDist*maxDist) {
				m.Prev[j], m.Dist[j] = q, math.Sqrt(cost[j][q])
			}
		}
		for _, id := range prev.IDs {
			next = max(next, id+1)
		}
	}
	for j := range m.IDs {
		if q := m.Prev[j]; q >= 0 {
			m.IDs[j] = prev.IDs[q]
		} else {
			m.IDs[j] = next
			next++
		}
	}
	return m, nil
}
