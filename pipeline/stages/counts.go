package stages

import (
	"cmp"
	"slices"
)

// The publish stage's sums look a group up for each customer; the groups
// (cluster ids, RFM segments) are a few small numbers, so slices indexed
// by them take the place of maps, with a map only for numbers too far
// apart for a slice.

// maxDense is the most slots a dense index or count grid takes; beyond,
// a map.
const maxDense = 1 << 16

// idIndex maps ids to their position in a list of ids.
type idIndex struct {
	dense  []int32 // by id, 1 + the position (0: absent), when the ids are small and non-negative
	sparse map[int32]int
}

func newIDIndex(ids []int32) idIndex {
	if len(ids) == 0 {
		return idIndex{}
	}
	lo, hi := slices.Min(ids), slices.Max(ids)
	if lo < 0 || hi >= maxDense {
		x := idIndex{sparse: make(map[int32]int, len(ids))}
		for i, id := range ids {
			x.sparse[id] = i
		}
		return x
	}
	x := idIndex{dense: make([]int32, int(hi)+1)}
	for i, id := range ids {
		x.dense[id] = int32(i) + 1
	}
	return x
}

// at is id's position; ok is false, and i 0, when id is not in the list.
func (x *idIndex) at(id int32) (i int, ok bool) {
	if x.dense != nil {
		if uint(id) < uint(len(x.dense)) && x.dense[id] > 0 {
			return int(x.dense[id]) - 1, true
		}
		return 0, false
	}
	i, ok = x.sparse[id]
	return i, ok
}

// countPairs counts the customers c by (from[c], to[c]): a Migration per
// pair that occurs, ordered by From, then To.
func countPairs[T int32 | uint8](from []int32, to []T) []Migration {
	if len(from) == 0 {
		return []Migration{}
	}
	fLo, fHi := slices.Min(from), slices.Max(from)
	tLo, tHi := int32(slices.Min(to)), int32(slices.Max(to))
	rows, cols := int64(fHi)-int64(fLo)+1, int64(tHi)-int64(tLo)+1
	if rows > maxDense || cols > maxDense || rows*cols > maxDense {
		return countPairsSparse(from, to)
	}
	grid := make([]int64, rows*cols)
	w := int(cols)
	for c, f := range from {
		grid[int(f-fLo)*w+int(int32(to[c])-tLo)]++
	}
	out := []Migration{}
	for i, n := range grid {
		if n > 0 {
			out = append(out, Migration{From: fLo + int32(i/w), To: tLo + int32(i%w), Customers: n})
		}
	}
	return out
}

func countPairsSparse[T int32 | uint8](from []int32, to []T) []Migration {
	counts := map[[2]int32]int64{}
	for c, f := range from {
		counts[[2]int32{f, int32(to[c])}]++
	}
	out := make([]Migration, 0, len(counts))
	for k, n := range counts {
		out = append(out, Migration{From: k[0], To: k[1], Customers: n})
	}
	slices.SortFunc(out, func(x, y Migration) int { return cmp.Or(cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To)) })
	return out
}
