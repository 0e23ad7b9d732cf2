package features

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/tables/hugemem"
)

// Set is a run's features.
type Set struct {
	Behaviour *Behaviour
	Table     *Table
	// Vocabulary is what the table's columns were planned from: learned
	// from these customers, or Options.Vocabulary when given.
	Vocabulary *Vocabulary
}

// Compute turns the aggregates into features. It fills the dataset's
// customer dictionary (IDs in ascending order, Signup, Known), then every
// feature column, in parallel over ranges of customers; each value depends
// only on its customer, so the result does not depend on the workers. The
// aggregates are spent: Compute may be called once.
func (a *Aggregates) Compute(ctx context.Context) (*Set, error) {
	if a.shards == nil {
		return nil, fmt.Errorf("features: aggregates already computed")
	}
	c := &computer{a: a, opt: &a.opt, info: a.info, ds: a.Dataset, n: len(a.loc), loc: a.loc, vocab: newVocabulary()}
	if err := c.prepareShards(ctx); err != nil {
		return nil, err
	}
	c.levels()
	c.plan()
	if err := c.fill(ctx); err != nil {
		return nil, err
	}
	if a.Dataset != nil && a.Dataset.NoAmount {
		c.beh.NoAmount = true
		noMoney(c.tab)
	}
	a.shards = nil
	return &Set{Behaviour: c.beh, Table: c.tab, Vocabulary: c.vocab}, nil
}

type computer struct {
	a    *Aggregates
	opt  *Options
	info extract.Info
	ds   *extract.Dataset
	n    int
	loc  []uint64 // global row -> shard<<32 | local row

	// Per shard, after prepareShards: the customers' distinct purchase
	// days too old for the bitmaps (CSR by local row).
	days []shardDays

	// Level orders: for each Levels name, the rank of each code by name.
	rank  map[string][]int32
	names map[string][]string // by rank

	beh   *Behaviour
	tab   *Table
	cols  colRefs
	vocab *Vocabulary // what plan decided, for Set.Vocabulary
}

type shardDays struct {
	off []int32 // by local row: the start of its old days; nil when none
	day []int32
}

// sortedIDs returns every shard's ids (ids(s), by the shard's row) in
// ascending order, appending each one's shard<<32 | row to a.loc.
func sortedIDs[T cmp.Ordered](a *Aggregates, total int, ids func(*shard) []T) []T {
	type ref struct {
		id  T
		loc uint64
	}
	refs := make([]ref, 0, total)
	for si, s := range a.shards {
		for r, id := range ids(s) {
			refs = append(refs, ref{id, uint64(si)<<32 | uint64(r)})
		}
	}
	slices.SortFunc(refs, func(x, y ref) int { return cmp.Compare(x.id, y.id) })
	out := make([]T, 0, total)
	for _, r := range refs {
		out = append(out, r.id)
		a.loc = append(a.loc, r.loc)
	}
	return out
}

// order builds the customer dictionary in ascending id order: numeric
// for integer ids, byte order for text. Directly addressed ids are walked
// in order, without sorting.
func (a *Aggregates) order() {
	total := 0
	walk := a.info.IntIDs
	for _, s := range a.shards {
		total += s.n
		walk = walk && s.ranged && len(s.dict.hashed) == 0
	}
	if walk {
		a.walkDirect()
		return
	}
	// These are the first of the run's allocations made of memory the
	// process has not touched: faulted in at once, they cost about half
	// (hugemem.Populate).
	a.loc = hugemem.Fresh(make([]uint64, 0, total))
	var strs []string
	var ints []int64
	switch {
	case a.info.IntIDs:
		ints = sortedIDs(a, total, func(s *shard) []int64 { return s.dict.ints() })
	default:
		strs = sortedIDs(a, total, func(s *shard) []string { return s.dict.strs })
	}
	for _, s := range a.shards {
		s.dict.free()
	}
	ds := a.Dataset
	if ints != nil {
		ds.IDs, ds.NumericIDs = formatInts(ints, a.opt.Workers), true
	} else {
		// One buffer the collector does not scan, where the shards'
		// dictionaries held a string each.
		ds.IDs = strcol.Of(strs...)
	}
	ds.Signup = hugemem.Fresh(make([]int64, total))
	ds.Known = hugemem.Fresh(make([]bool, total))
	a.attrs(0, len(a.loc))
}

// attrs fills the dataset's Signup and Known of customers [lo, hi).
func (a *Aggregates) attrs(lo, hi int) {
	ds := a.Dataset
	for g := lo; g < hi; g++ {
		l := a.loc[g]
		s, row := a.shards[l>>32], int(uint32(l))
		ds.Signup[g] = extract.NoTime
		if s.hasCust && s.known[row] {
			ds.Known[g] = true
			ds.Signup[g] = s.signup[row]
		}
	}
}

// walkDirect is order for shards that address every id directly: the
// direct tables hold the ids in order, so the dictionary is built by
// walking them, in parallel over ranges of ids, each range's customers
// and their ids' digits counted first so that it knows where its part of
// the dictionary starts. The ids, Signup and Known are filled on the way;
// every allocation is new memory, faulted in by the range that writes it.
func (a *Aggregates) walkDirect() {
	type part struct {
		si, x0, x1 int   // shard, range of its direct table
		at, n      int   // the range's first customer, its customers
		size       int64 // the bytes of its customers' ids
		ids        *strcol.Builder
	}
	const span = 1 << 16
	var parts []part
	for si, s := range a.shards {
		for x0 := 0; x0 < len(s.dict.direct); x0 += span {
			parts = append(parts, part{si: si, x0: x0, x1: min(x0+span, len(s.dict.direct))})
		}
	}
	workers := max(a.opt.Workers, 1)
	run := func(each func(p *part)) {
		var g errgroup.Group
		g.SetLimit(workers)
		for i := range parts {
			g.Go(func() error { each(&parts[i]); return nil })
		}
		_ = g.Wait()
	}
	run(func(p *part) {
		s := a.shards[p.si]
		for x, r := range s.dict.direct[p.x0:p.x1] {
			if r != 0 {
				p.n++
				p.size += int64(decimalLen(s.lo + int64(p.x0+x)))
			}
		}
	})
	n := 0
	rows, sizes := make([]int, len(parts)), make([]int64, len(parts))
	for i := range parts {
		parts[i].at = n
		n += parts[i].n
		rows[i], sizes[i] = parts[i].n, parts[i].size
	}
	ds := a.Dataset
	a.loc = make([]uint64, n)
	ids := strcol.Parts(rows, sizes)
	for i := range parts {
		parts[i].ids = ids[i]
	}
	ds.Signup, ds.Known = make([]int64, n), make([]bool, n)
	run(func(p *part) {
		lo, hi := p.at, p.at+p.n
		hugemem.Populate(a.loc[lo:hi])
		hugemem.Populate(ds.Signup[lo:hi])
		s := a.shards[p.si]
		direct := s.dict.direct[p.x0:p.x1]
		g := lo
		for _, r := range direct {
			if r != 0 {
				a.loc[g] = uint64(p.si)<<32 | uint64(r-1)
				g++
			}
		}
		for x, r := range direct {
			if r != 0 {
				appendDecimal(p.ids, s.lo+int64(p.x0+x))
			}
		}
		a.attrs(lo, hi)
	})
	var err error
	if ds.IDs, err = strcol.Join(ids); err != nil {
		panic(fmt.Sprintf("features: customer ids: %v", err)) // the counts above are wrong
	}
	ds.NumericIDs = true
	for _, s := range a.shards {
		s.dict.free()
	}
}

// formatInts renders ids as decimal strings, in parallel chunks: each
// chunk's bytes are counted first, so that every chunk writes its own
// part of the column in place.
func formatInts(ids []int64, workers int) strcol.Column {
	chunk := max(1<<16, (len(ids)+workers-1)/max(workers, 1))
	var rows []int
	for lo := 0; lo < len(ids); lo += chunk {
		rows = append(rows, min(chunk, len(ids)-lo))
	}
	sizes := make([]int64, len(rows))
	each := func(f func(k int, ids []int64)) {
		var g errgroup.Group
		g.SetLimit(max(workers, 1))
		for k := range rows {
			g.Go(func() error {
				f(k, ids[k*chunk:k*chunk+rows[k]])
				return nil
			})
		}
		_ = g.Wait()
	}
	each(func(k int, ids []int64) {
		for _, id := range ids {
			sizes[k] += int64(decimalLen(id))
		}
	})
	parts := strcol.Parts(rows, sizes)
	each(func(k int, ids []int64) {
		for _, id := range ids {
			appendDecimal(parts[k], id)
		}
	})
	col, err := strcol.Join(parts)
	if err != nil {
		panic(fmt.Sprintf("features: customer ids: %v", err)) // decimalLen is wrong
	}
	return col
}

// appendDecimal appends id in decimal to b.
func appendDecimal(b *strcol.Builder, id int64) {
	var buf [20]byte
	b.AppendBytes(strconv.AppendInt(buf[:0], id, 10))
}

// decimalLen is the length of id in decimal, sign included.
func decimalLen(id int64) int {
	n, x := 1, uint64(id)
	if id < 0 {
		n, x = 2, -x
	}
	for ; x >= 10; x /= 10 {
		n++
	}
	return n
}

func (c *computer) at(g int) (*shard, int) {
	l := c.loc[g]
	return c.a.shards[l>>32], int(uint32(l))
}

// prepareShards sorts each shard's purchase days too old for the bitmaps
// into per-customer lists.
func (c *computer) prepareShards(ctx context.Context) error {
	c.days = make([]shardDays, len(c.a.shards))
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(c.opt.Workers)
	for si, s := range c.a.shards {
		g.Go(func() error {
			c.days[si] = s.oldLists()
			return nil
		})
	}
	return g.Wait()
}

// oldLists sorts the purchase days too old for the bitmaps by customer.
// Usually there are none, and then no lists: looking a customer up in
// them would be a cache miss for nothing.
func (s *shard) oldLists() shardDays {
	if len(s.old) == 0 {
		return shardDays{}
	}
	n := s.n
	slices.SortFunc(s.old, func(x, y dayRow) int {
		if x.row != y.row {
			return cmp.Compare(x.row, y.row)
		}
		return cmp.Compare(x.day, y.day)
	})
	var d shardDays
	d.off = make([]int32, n+1)
	j := 0
	for r := range n {
		for ; j < len(s.old) && s.old[j].row == int32(r); j++ {
			if k := len(d.day); k > 0 && d.off[r] < int32(k) && d.day[k-1] == s.old[j].day {
				continue
			}
			d.day = append(d.day, s.old[j].day)
		}
		d.off[r+1] = int32(len(d.day))
	}
	s.old = nil
	return d
}

// walkDays gives customer (s, row)'s distinct purchase days to st in
// ascending order: first those older than the bitmap reaches, then the
// bitmap's, read from rec (row's record, or a copy of it).
func (c *computer) walkDays(si int, s *shard, row int, rec []uint64, st *dayStats) {
	if d := &c.days[si]; d.off != nil {
		for _, day := range d.day[d.off[row]:d.off[row+1]] {
			st.add(day)
		}
	}
	if s.bw == 0 {
		return
	}
	w := rec[s.bits0 : s.bits0+s.bw]
	for wi := len(w) - 1; wi >= 0; wi-- {
		for x := w[wi]; x != 0; {
			hi := 63 - bits.LeadingZeros64(x)
			x &^= 1 << hi
			st.add(c.info.AsOfDay - int32(wi*64+hi))
		}
	}
}

// levels ranks the codes of every categorical column by name, so encodings
// do not depend on the order the readers met the values.
func (c *computer) levels() {
	c.rank, c.names = map[string][]int32{}, map[string][]string{}
	for name, lv := range c.info.Levels {
		names := lv.Names()
		idx := make([]int32, len(names))
		for i := range idx {
			idx[i] = int32(i)
		}
		slices.SortFunc(idx, func(x, y int32) int { return strings.Compare(names[x], names[y]) })
		rank := make([]int32, len(names))
		sorted := make([]string, len(names))
		for r, code := range idx {
			rank[code] = int32(r)
			sorted[r] = names[code]
		}
		c.rank[name], c.names[name] = rank, sorted
	}
}

// ageYears is the completed years between a birth date (µs, read as a UTC
// calendar date) and the as-of date.
func ageYears(birth int64, asOf time.Time) int {
	by, bm, bd := time.UnixMicro(birth).UTC().Date()
	ay, am, ad := asOf.Date()
	age := ay - by
	if am < bm || (am == bm && ad < bd) {
		age--
	}
	return age
}

// band returns the index of the band of v among edges: 0 below the first.
func band[T int | float64](v T, edges []T) int {
	i := 0
	for i < len(edges) && v >= edges[i] {
		i++
	}
	return i
}

func bandNames[T int | float64](edges []T, format func(T) string) []string {
	out := []string{"under_" + format(edges[0])}
	for i := 1; i < len(edges); i++ {
		out = append(out, format(edges[i-1])+"_"+format(edges[i]))
	}
	return append(out, format(edges[len(edges)-1])+"_plus")
}

// ageBandNames names age bands by completed years: under_18, 18_24, …,
// 65_plus.
func ageBandNames(edges []int) []string {
	out := []string{"under_" + strconv.Itoa(edges[0])}
	for i := 1; i < len(edges); i++ {
		out = append(out, strconv.Itoa(edges[i-1])+"_"+strconv.Itoa(edges[i]-1))
	}
	return append(out, strconv.Itoa(edges[len(edges)-1])+"_plus")
}

func moneyLabel(v float64) string {
	switch {
	case v >= 1e6 && math.Mod(v, 1e6) == 0:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "m"
	case v >= 1e3 && math.Mod(v, 1e3) == 0:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return slug(strconv.FormatFloat(v, 'f', -1, 64))
}

// slug turns a level into a name part: lower case letters and digits, runs
// of anything else as one underscore.
func slug(s string) string {
	var b strings.Builder
	us := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			us = false
		} else if !us && b.Len() > 0 {
			b.WriteByte('_')
			us = true
		}
	}
	out := strings.TrimSuffix(b.String(), "_")
	if out == "" {
		out = "x"
	}
	return out
}

// noMoney makes the money features of a run whose orders have no amount
// null for everyone.
func noMoney(t *Table) {
	all := make([]bool, t.N)
	for i := range all {
		all[i] = true
	}
	for i := range t.Cols {
		if c := &t.Cols[i]; c.Unit == "money" || c.Group == "category" {
			c.Null, c.Missing = all, "the orders have no amount"
		}
	}
}
