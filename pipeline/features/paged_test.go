package features

import (
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
)

// TestPagedShortFirstPage grows an array row by row across the short first
// page's doublings and past whole pages, widening and remapping it on the
// way, and checks every row keeps what was written to it: the short first
// page is copied as it grows, whole pages are not.
func TestPagedShortFirstPage(t *testing.T) {
	const stride = 3
	for _, tc := range []struct {
		name  string
		steps []int // ensure these row counts in turn
	}{
		{"one row", []int{1}},
		{"within the first page", []int{10, 256, 257, 1000, 5000}},
		{"to a whole page", []int{100, pageRows}},
		{"past a whole page from a short one", []int{300, pageRows + 5}},
		{"straight to two pages", []int{2*pageRows + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := paged[uint64]{stride: stride}
			val := func(row, k int) uint64 { return uint64(row*10 + k + 1) }
			n := 0
			for _, rows := range tc.steps {
				p.ensure(rows)
				for ; n < rows; n++ {
					for k, r := 0, p.at(n); k < stride; k++ {
						if r[k] != 0 {
							t.Fatalf("row %d is not zero when first used: %v", n, r)
						}
						r[k] = val(n, k)
					}
				}
				if len(p.pages) > 1 {
					for i, pg := range p.pages {
						if len(pg) != pageRows*p.stride {
							t.Fatalf("with %d pages, page %d holds %d rows, want whole pages", len(p.pages), i, len(pg)/p.stride)
						}
					}
				}
			}
			check := func(stage string, at func(row, k int) uint64) {
				t.Helper()
				for row := range n {
					r := p.at(row)
					for k := range len(r) {
						if got, want := r[k], at(row, k); got != want {
							t.Fatalf("%s: row %d element %d is %d, want %d", stage, row, k, got, want)
						}
					}
				}
			}
			check("grown", val)
			// Widen to 5, moving element 1 to the new last place.
			p.restride(5, 1)
			check("restrided", func(row, k int) uint64 {
				switch k {
				case 0, 2:
					return val(row, k)
				case 4:
					return val(row, 1)
				}
				return 0
			})
			// Back to 2 elements: the last, then the first.
			p.remap(2, []span{{from: 4, to: 0, n: 1}, {from: 0, to: 1, n: 1}})
			check("remapped", func(row, k int) uint64 { return [2]uint64{val(row, 1), val(row, 0)}[k] })
		})
	}
}

// TestShortRows: a first page doubles from firstRows and never exceeds a
// whole page.
func TestShortRows(t *testing.T) {
	for _, tc := range []struct{ have, rows, want int }{
		{0, 1, firstRows},
		{0, firstRows + 1, 2 * firstRows},
		{firstRows, firstRows + 1, 2 * firstRows},
		{firstRows, 5 * firstRows, 8 * firstRows},
		{0, pageRows - 1, pageRows},
		{pageRows / 2, pageRows + 1, pageRows},
	} {
		if got := shortRows(tc.have, tc.rows); got != tc.want {
			t.Errorf("shortRows(%d, %d) = %d, want %d", tc.have, tc.rows, got, tc.want)
		}
	}
}

// TestPagedJudge: huge pages are given up only over a sample of judgeMin
// bytes faulted in ahead, and only when they cost more than the hits
// expected on the arena save.
func TestPagedJudge(t *testing.T) {
	const stride = 24 // words: 192-byte records
	page := pageRows * stride
	mib := func(n int) float64 { return float64(n*8) / (1 << 20) }
	for _, tc := range []struct {
		name  string
		hits  float64
		perMB time.Duration // fault time a MiB
		pages int
		slow  bool
	}{
		{"slow, sample too small", 0, 3 * time.Millisecond, 1, false},
		{"slow, hits unknown", 0, 3 * time.Millisecond, 8, true},
		{"slow, 20 hits a row", 20, 3 * time.Millisecond, 8, false},
		{"very slow, 20 hits a row", 20, 9 * time.Millisecond, 8, true},
		{"fast, hits unknown", 0, 200 * time.Microsecond, 8, false},
	} {
		p := paged[uint64]{stride: stride, huge: true, hits: tc.hits}
		for range tc.pages {
			p.judge(time.Duration(float64(tc.perMB)*mib(page)), page, p.hitsPerMiB())
		}
		if got := p.slow.Load(); got != tc.slow {
			t.Errorf("%s: slow = %v after %d pages, want %v", tc.name, got, tc.pages, tc.slow)
		}
	}
}

// TestShardHits: with directly addressed ids, the record arena expects
// the orders the inputs declare spread over the id range.
func TestShardHits(t *testing.T) {
	opt := Options{}.resolved()
	info := extract.Info{IntIDs: true, HasIDRange: true, IDRange: [2]int64{1, 1000}, Rows: 20_000, OrderRows: 20_000,
		Tables: []string{"orders"}}
	for _, of := range []int{1, 2} {
		if s := newShard(0, of, &opt, info); !s.ranged || s.rec.hits != 20 {
			t.Errorf("%d shards: ranged %v, hits %v, want 20", of, s.ranged, s.rec.hits)
		}
	}
}
