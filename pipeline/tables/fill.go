package tables

// Repeat is n copies of v: a constant column (the as_of date of every
// row).
func Repeat(v int32, n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// Not is the negation of b: a null mask from a "has a value" one.
func Not(b []bool) []bool {
	out := make([]bool, len(b))
	for i, v := range b {
		out[i] = !v
	}
	return out
}

// Gather is v at rows, in the order of rows.
func Gather[T any](rows []int, v []T) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = v[r]
	}
	return out
}
