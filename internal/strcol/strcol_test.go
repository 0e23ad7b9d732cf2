package strcol

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/strata-oss/strata/internal/gcscan"
)

func TestColumn(t *testing.T) {
	large := make([]string, 100_000)
	for i := range large {
		large[i] = strings.Repeat("x", i%7) + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name string
		strs []string
	}{
		{"no strings", nil},
		{"one empty string", []string{""}},
		{"empty strings around others", []string{"", "a", "", "", "bc", ""}},
		{"unicode", []string{"Zoë", "北京", "🙂", "a\x00b", "\xff"}},
		{"large", large},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := 0
			for _, s := range tc.strs {
				size += len(s)
			}
			// Built whole, and in parts of every size from 1 string up,
			// filled at once.
			cols := map[string]Column{"Of": Of(tc.strs...)}
			for _, per := range []int{1, 3, 1000} {
				var rows []int
				var bytes []int64
				for lo := 0; lo < len(tc.strs); lo += per {
					part := tc.strs[lo:min(lo+per, len(tc.strs))]
					rows = append(rows, len(part))
					n := 0
					for _, s := range part {
						n += len(s)
					}
					bytes = append(bytes, int64(n))
				}
				parts := Parts(rows, bytes)
				var wg sync.WaitGroup
				for k, b := range parts {
					wg.Go(func() {
						for _, s := range tc.strs[k*per : k*per+rows[k]] {
							b.AppendBytes([]byte(s))
						}
					})
				}
				wg.Wait()
				c, err := Join(parts)
				if err != nil {
					t.Fatal(err)
				}
				cols[fmt.Sprint("parts of ", per)] = c
			}
			for how, c := range cols {
				if c.Len() != len(tc.strs) || c.Size() != int64(size) {
					t.Fatalf("%s: %d strings of %d bytes, want %d of %d", how, c.Len(), c.Size(), len(tc.strs), size)
				}
				for i, s := range c.All() {
					if s != tc.strs[i] || c.At(i) != s {
						t.Fatalf("%s: string %d is %q, want %q", how, i, s, tc.strs[i])
					}
				}
				if got := c.Strings(); !slices.Equal(got, tc.strs) {
					t.Fatalf("%s: Strings %q", how, got)
				}
			}
		})
	}
}

func TestZeroColumn(t *testing.T) {
	var c Column
	if c.Len() != 0 || c.Size() != 0 || len(c.Strings()) != 0 {
		t.Errorf("zero column: %d strings of %d bytes", c.Len(), c.Size())
	}
	if c, err := Join(nil); err != nil || c.Len() != 0 {
		t.Errorf("no parts: %d strings, %v", c.Len(), err)
	}
}

func TestAtAllocates(t *testing.T) {
	c := Of("a", "bb", "", "ccc")
	if n := testing.AllocsPerRun(100, func() {
		for i := range c.Len() {
			_ = c.At(i)
		}
	}); n != 0 {
		t.Errorf("At allocates %v times a pass", n)
	}
}

// TestPartsBounds: a part takes exactly its share of the column, neither
// more (it would write over the next part's bytes) nor less.
func TestPartsBounds(t *testing.T) {
	parts := Parts([]int{1, 1}, []int64{2, 2})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a part took more bytes than its share")
			}
		}()
		parts[0].Append("abc")
	}()
	parts[0].Append("ab")
	if _, err := Join(parts); err == nil {
		t.Error("joined with a part unfilled")
	}
	parts[1].Append("cd")
	c, err := Join(parts)
	if err != nil || !slices.Equal(c.Strings(), []string{"ab", "cd"}) {
		t.Errorf("joined %q, %v", c.Strings(), err)
	}
	if _, err := Join([]*Builder{parts[0], Parts([]int{0}, []int64{0})[0]}); err == nil {
		t.Error("joined parts of two columns")
	}
}

// TestNoPointers is the point of the package: a million ids held live add
// nothing the garbage collector scans, where a []string of them adds 16
// MB of headers (measured here too, so that the metric is known to see
// them).
func TestNoPointers(t *testing.T) {
	const n = 1_000_000
	before := gcscan.Heap(t)
	b := NewBuilder(n, 0)
	for i := range n {
		b.Append(strconv.Itoa(1_000_000_000 + i))
	}
	c := b.Column()
	withColumn := gcscan.Heap(t)
	strs := c.Strings()
	withStrings := gcscan.Heap(t)
	runtime.KeepAlive(strs)
	runtime.KeepAlive(c)

	t.Logf("scannable heap: %d bytes, %d with the Column, %d with a []string too", before, withColumn, withStrings)
	// The bound leaves room for what the test and runtime allocate
	// meanwhile; the column's own share is 0.
	const bound = 1 << 20
	if grew := int64(withColumn) - int64(before); grew >= bound {
		t.Errorf("%d ids as a Column: the scannable heap grew %d bytes, want < %d", n, grew, bound)
	}
	if grew := int64(withStrings) - int64(withColumn); grew < 16*n {
		t.Errorf("%d ids as a []string: the scannable heap grew %d bytes, want ≥ %d: the metric does not see them", n, grew, 16*n)
	}
}
