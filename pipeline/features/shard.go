package features

import (
	"math"
	"slices"
	"unsafe"

	"github.com/strata-oss/strata/pipeline/extract"
)

// A shard owns the customers whose id falls in its part of the id space,
// and all their running aggregates: only its goroutine touches them, so
// there is no locking, and because every block reaches every shard in
// input order, each customer's sums are added in input order — the same
// for any number of shards or workers.
//
// The order aggregates of a customer are one record of 64-bit words in a
// paged arena, 64-byte aligned: the counts, instants and sums a purchase
// always updates fill the first cache line, the trailing windows follow
// with the most recent days of the bitmap of purchase days, then the rest
// of the bitmap. A purchase then touches two cache lines, a few three
// (see the rXxx offsets); each line a row touches is a miss in an arena
// of hundreds of megabytes, and the misses are the engine's main cost.
// Refunds are rare and keep their counts in an arena of their own. Nothing
// is kept per order, so memory grows with the customers, not with their
// history. Optional aggregates (categories, channels, engagement,
// attributes) live in their own paged or flat slices and cost nothing when
// their column is absent.
type shard struct {
	id, of int
	opt    *Options
	info   extract.Info
	dict   *custDict
	// Range sharding for directly addressed integer ids: this shard owns
	// ids in [lo, hi]; otherwise shards split the hash space.
	ranged bool
	lo, hi int64
	n      int // customers

	rec   paged[uint64] // order record, see the rXxx word offsets
	ref   paged[uint64] // refunds and their amount (float64 bits), from the first refund on
	idx   []int32       // scratch: a block's rows of this shard
	rows  []int32       // scratch: their customers' rows
	ident []int32       // 0, 1, 2, …: idx of a whole clean block
	nW    int
	wins  []int32 // window lengths in days, ascending
	// Offsets in the record: ws of the windows' spend, wc of their order
	// counts (two a word), bits0 of the bitmap. With a category mix of
	// ncat words (float64 bits, see catMix), its rest word is at cat0,
	// just before the bitmap, and its ncat−1 slots at slot0, after it:
	//
	//	counts… ws… wc… rest bitmap… slots… padding
	//
	// With a long tail most purchases go to rest, which then shares the
	// second line with the window counts and the bitmap's newest days: such
	// a purchase touches the lines a purchase without the column does,
	// and one in a candidate level one line more, a line of the same
	// record, not a miss in an arena of its own. Without a mix, cat0 is
	// bits0 and the padding goes to the bitmap.
	ws, wc, cat0, ncat, bits0, slot0 int
	// wch[w] is where window w's order count is, in 32-bit halves of the
	// record (word h>>1, the high half if h is odd): two a word from wc,
	// except that without Options.Repeat the high half of the counts word
	// is free, and with an odd number of windows the last window's count
	// goes there (see newShard).
	wch []int
	// Distinct purchase days: bit k of the record's bitmap words is day
	// asOfDay−k. Days older than the bitmap can reach go to old, so one
	// stray ancient order cannot blow up every customer's record.
	bw int
	// bwNeed is the bitmap width asked for (fitBitmap, markOld), without
	// the padding a record without a mix gives the bitmap: a mix that
	// comes before any record is stored takes the padding back.
	bwNeed int
	old    []dayRow

	mix catMix       // the category mix, in the record (cat0, ncat)
	chn paged[int32] // channel order counts; slot 0 is "unknown", slot c+1 code c

	// The current version of each customer's attributes.
	hasCust   bool
	known     []bool
	version   []int64
	signup    []int64
	birth     []int64
	age       []float64
	income    []float64
	optIn     []int8
	attr      [extract.NumAttrs][]int32
	intStart  []int32
	intLen    []int32
	intPool   []int32
	seenAttr  [extract.NumAttrs]bool
	seenOther [nOtherAttrs]bool
	// The user's own attributes (Options.Own): level codes of a
	// categorical one, values of a numeric one; nil for the other kind.
	ownCode [][]int32
	ownNum  [][]float64
	// meas holds, per customer, the sums of the orders' own columns
	// (Options.Measures) over their purchases.
	meas paged[float64]

	// Engagement: per customer, for each event class, the all-time count
	// then one count per window; and the last event's instant.
	hasEvents bool
	ev        paged[int32]
	evLast    []int64
	typeClass []int8 // by event-type code
	unknownEv int64
	events    int64

	// Sorted batches (batch.go): up to batch rows of clean blocks held
	// back (pend), the previous batch sorted and applied up to next, and
	// the sort's bucket counts; held counts the rows that went that way.
	batch   int
	held    int64
	pend    []pending
	sorted  []pending
	next    int
	buckets []int32
}

// Word offsets in an order record. Without Options.Repeat:
//
//	rCounts rFirstTS rLastTS rMaxOrder rGross ws…  wc…  bitmap…
//
// and with it (rRepeatSpend at the place of rGross):
//
//	rCounts rFirstTS rLastTS rMaxOrder rFirstDaySpend rRepeatSpend ws…  wc…  bitmap…
//
// ws holds one spend word a window, wc the windows' order counts, two 32-bit
// counts a word (without Options.Repeat an odd number of windows puts the
// last one's count in the high half of rCounts: shard.wch). With the
// default windows (30, 90, 365 days) the first line is rCounts to the
// windows' spend, and the second holds their counts, rest (with a category
// mix) and the bitmap's newest days, so that an order inside the windows
// touches the first two lines and an older one the first line and one
// bitmap word.
const (
	// Purchases in the low 32 bits; with Options.Repeat, the day of the
	// first purchase (int32) in the high 32, else, with an odd number of
	// windows, the last window's order count (shard.wch).
	rCounts   = iota
	rFirstTS  // µs of the first purchase
	rLastTS   // µs of the last purchase
	rMaxOrder // float64 bits
	rGross    // float64 bits: purchase amounts, without Options.Repeat

	// With Options.Repeat the purchases are summed in two parts: the spend
	// on the first purchase day, and the spend on later days. The first
	// day can move back when an earlier order turns up later in the
	// input; its spend then joins the repeat spend. The gross is their sum.
	rFirstDaySpend = rGross
	rRepeatSpend   = rGross + 1
)

// Attributes other than the categorical ones, for seenOther.
const (
	seenBirth = iota
	seenAge
	seenIncome
	seenInterests
	seenOptIn
	nOtherAttrs
)

// Event classes.
const (
	evOpen = iota
	evClick
	evSession
	nEvClasses
)

type dayRow struct{ row, day int32 }

// maxBitmapWords bounds the bitmap at 32 words (2048 days, 256 bytes) per
// customer.
const maxBitmapWords = 32

// directMax bounds the direct id table of a shard (4 bytes an id).
const directMax = 1 << 25

func newShard(id, of int, opt *Options, info extract.Info) *shard {
	s := &shard{id: id, of: of, opt: opt, info: info}
	s.nW = len(opt.WindowsDays)
	for _, w := range opt.WindowsDays {
		s.wins = append(s.wins, int32(w))
	}
	s.ws = rGross + 1
	if opt.Repeat {
		s.ws = rRepeatSpend + 1
	}
	s.wc = s.ws + s.nW
	s.wch = make([]int, s.nW)
	nwc := s.nW // window counts in the wc words
	if !opt.Repeat && s.nW%2 == 1 {
		// The last window's count in the free high half of the counts
		// word, so the windows' counts take a word fewer: with the
		// default three windows and a category mix (rest, 6 bitmap words
		// and 16 slots) the record is then 32 words, four cache lines
		// instead of five, and the bitmap's oldest word shares the second
		// line with the window counts and rest instead of the slots' line
		// (issue 26: a fifth less arena, and a purchase in the rest
		// touches only the lines a purchase without the column does).
		nwc--
		s.wch[s.nW-1] = 2*rCounts + 1
	}
	for w := range nwc {
		s.wch[w] = 2*s.wc + w
	}
	s.cat0 = s.wc + (nwc+1)/2
	s.bits0 = s.cat0
	s.bwNeed = 1
	s.relayout(0, 1)
	s.meas.stride = len(opt.Measures)
	s.ownCode, s.ownNum = make([][]int32, len(opt.Own)), make([][]float64, len(opt.Own))
	for _, t := range info.Tables {
		switch t {
		case "customers":
			s.hasCust = true
		case "events":
			s.hasEvents = true
			s.ev.stride = nEvClasses * (1 + s.nW)
		}
	}
	// Dense integer ids (the span of their range at most a few times the
	// rows) are addressed directly, each shard owning a slice of the range.
	var span uint64
	if info.HasIDRange {
		span = uint64(info.IDRange[1]-info.IDRange[0]) + 1
	}
	if span > 0 && span <= directMax*uint64(of) && (info.Rows < 0 || span <= 4*uint64(info.Rows)+1024) {
		s.ranged = true
		per := (span + uint64(of) - 1) / uint64(of)
		s.lo = info.IDRange[0] + int64(per)*int64(id)
		s.hi = min(s.lo+int64(per)-1, info.IDRange[1])
		s.dict = newCustDict(true, s.lo, max(int(s.hi-s.lo+1), 0))
		// At most span customers share the orders: each record is
		// updated that often at least, which decides whether huge pages
		// pay for their faulting (paged.judge).
		s.rec.hits = float64(info.OrderRows) / float64(span)
		s.batch = batchFor(opt, true, int64(span))
	} else {
		s.dict = newCustDict(info.IntIDs, 0, 0)
	}
	return s
}

// layout sets the record stride for a bitmap of at least bw words, using
// the padding to a whole number of cache lines for more bitmap when the
// record has no category mix.
func (s *shard) layout(bw int) {
	s.bwNeed = max(s.bwNeed, bw)
	s.relayout(s.ncat, max(bw, s.bw))
}

// relayout gives the record a category mix of ncat words (0: none; else
// rest and ncat−1 slots) and a bitmap of bw words, moving what the records
// hold: neither ever shrinks once a record is stored. The record is
// padded to whole cache lines; the padding widens the bitmap without a
// mix, and is left after the slots with one, for slots to come.
func (s *shard) relayout(ncat, bw int) {
	if s.rec.pages == nil {
		// No record stored yet, so no bit in the padding set: the bitmap
		// shrinks to what was asked for. The mix usually arrives with the
		// first order block, after fitBitmap has padded the bitmap: kept,
		// a bitmap padded to 7 words would push the default record (counts,
		// windows, rest, 6 bitmap words and 16 slots: 32 words) to five
		// lines.
		bw = max(s.bwNeed, 1)
	}
	bits0 := s.cat0
	if ncat > 0 {
		bits0++ // rest
	}
	nslot := max(ncat-1, 0)
	stride := (bits0 + bw + nslot + 7) &^ 7
	if ncat == 0 {
		bw = stride - bits0
	}
	slot0 := bits0 + bw
	if s.rec.pages == nil {
		s.rec.stride, s.rec.huge = stride, true
	} else if stride != s.rec.stride || bits0 != s.bits0 || slot0 != s.slot0 {
		spans := []span{{0, 0, s.cat0}, {s.bits0, bits0, s.bw}}
		if s.ncat > 0 {
			spans = append(spans, span{s.cat0, s.cat0, 1}, span{s.slot0, slot0, s.ncat - 1})
		}
		s.rec.remap(stride, spans)
	}
	s.ncat, s.bits0, s.bw, s.slot0 = ncat, bits0, bw, slot0
}

// mine reports whether the row with this id (or id hash) belongs to this
// shard. Hash sharding uses the hash's high bits; the dictionary uses the
// low ones.
func (s *shard) mine(k *extract.Keys, i int) bool {
	if s.ranged {
		id := k.Int[i]
		if id >= s.lo && id <= s.hi {
			return true
		}
		if id >= s.info.IDRange[0] && id <= s.info.IDRange[1] {
			return false
		}
		// Outside the declared range (statistics can lie): by hash.
	}
	return int((k.HashOf(i)>>32)*uint64(s.of)>>32) == s.id
}

// hash is the dictionary hash of row i's id; directly addressed ids need
// none.
func (s *shard) hash(k *extract.Keys, i int) uint64 {
	if k.Int != nil {
		if x := uint64(k.Int[i] - s.dict.lo); x < uint64(len(s.dict.direct)) {
			return 0
		}
		return extract.HashInt(k.Int[i])
	}
	return k.Hash[i]
}

// add returns the row of the block's row i, adding the customer if new.
func (s *shard) add(k *extract.Keys, i int) int {
	var iv int64
	var sv string
	if k.Int != nil {
		iv = k.Int[i]
	} else {
		sv = k.Str[i]
	}
	row, _ := s.dict.insert(s.hash(k, i), iv, sv)
	if int(row) >= s.n {
		s.growTo(int(row) + 1)
	}
	return int(row)
}

// growTo makes room for n customers, the new ones with their initial
// state. The readers may have added customers to the dictionary
// (custDict.directRows) that the shard has not met yet.
func (s *shard) growTo(n int) {
	if n <= s.n {
		return
	}
	if s.hasCust || s.hasEvents {
		for s.n < n {
			s.grow()
		}
		return
	}
	// Only arenas to grow, zeroes their initial state: at once, not a
	// customer at a time (the readers add a block's worth at a time).
	s.n = n
	s.ensureOrders(n)
}

// ensureOrders makes room for n customers in the order arenas in use.
func (s *shard) ensureOrders(n int) {
	s.rec.ensure(n)
	if s.chn.stride > 0 {
		s.chn.ensure(n)
	}
	if s.ref.stride > 0 {
		s.ref.ensure(n)
	}
	if s.meas.stride > 0 {
		s.meas.ensure(n)
	}
}

// grow makes room for one more customer with its initial state (zeroes,
// except where noted).
func (s *shard) grow() {
	s.n++
	s.ensureOrders(s.n)
	if s.hasCust {
		s.known = append(s.known, false)
		s.version = append(s.version, extract.NoTime)
		s.signup = append(s.signup, extract.NoTime)
		s.birth = append(s.birth, extract.NoTime)
		s.age = append(s.age, math.NaN())
		s.income = append(s.income, math.NaN())
		s.optIn = append(s.optIn, -1)
		for a := range s.attr {
			s.attr[a] = append(s.attr[a], -1)
		}
		s.intStart = append(s.intStart, 0)
		s.intLen = append(s.intLen, 0)
		for k, o := range s.opt.Own {
			if o.Categorical {
				s.ownCode[k] = append(s.ownCode[k], -1)
			} else {
				s.ownNum[k] = append(s.ownNum[k], math.NaN())
			}
		}
	}
	if s.hasEvents {
		s.ev.ensure(s.n)
		s.evLast = append(s.evLast, extract.NoTime)
	}
}

func f64(w uint64) float64 { return math.Float64frombits(w) }
func u64(f float64) uint64 { return math.Float64bits(f) }

func (s *shard) orders(b *extract.OrderBlock) {
	// First the rows of this shard's customers, then their updates: the
	// second loop's record accesses do not wait on dictionary lookups, so
	// the processor can have many of their cache misses in flight at once.
	s.idx, s.rows = s.idx[:0], s.rows[:0]
	all := s.of == 1
	d := s.dict
	held := d.direct != nil && all && b.Dropped == 0 && s.holds(b)
	if !held {
		// Rows held back go first: this block's updates, and the category
		// mix's relayout of the records, come after them.
		s.flush()
	}
	if len(s.rec.pages) == 0 {
		s.fitBitmap(b)
	}
	if b.Category != nil {
		s.catBlock(b)
		defer s.catDone()
	}
	clean := d.direct != nil && all && b.Dropped == 0
	rows := s.rows
	if clean {
		// Directly addressed ids, one shard, no duplicates: the common
		// case of a clean integer-keyed table, without the general
		// path's branches. The readers have looked the rows up already
		// (engine.HintOrders), and added the new customers unless the
		// block has order ids; their hints are the rows, written in
		// place below where one is missing (the block is the shard's
		// until it releases it).
		if len(b.Hint) == len(b.Int) {
			rows = b.Hint
			s.growTo(d.Len()) // the readers may have added customers
		} else {
			rows = d.directRows(b.Int, rows, false)
			s.rows = rows
		}
		// A customer the readers did not find is new (or was added after
		// they looked): its direct-table entry, which add reads and
		// writes, is fetched a few customers ahead, as the readers do.
		if len(rows) > 0 && slices.Min(rows) < 0 {
			const ahead = 8
			for i, row := range rows {
				if j := i + ahead; j < len(rows) && rows[j] < 0 {
					if x := uint64(b.Int[j] - d.lo); x < uint64(len(d.direct)) {
						prefetchLine(unsafe.Pointer(&d.direct[x]))
					}
				}
				if row < 0 {
					rows[i] = int32(s.add(&b.Keys, i))
				}
			}
		}
		if held {
			s.hold(b, rows)
			return
		}
	} else if b.Parts != nil {
		mine := b.Parts[s.id]
		for j, i := range mine {
			if d.direct != nil && j+16 < len(mine) {
				if x := uint64(b.Int[mine[j+16]] - d.lo); x < uint64(len(d.direct)) {
					prefetchLine(unsafe.Pointer(&d.direct[x]))
				}
			}
			if b.Drop[i] {
				continue
			}
			s.idx = append(s.idx, i)
			s.rows = append(s.rows, int32(s.add(&b.Keys, int(i))))
		}
	} else {
		for i := range b.N {
			if d.direct != nil && i+16 < b.N {
				if x := uint64(b.Int[i+16] - d.lo); x < uint64(len(d.direct)) {
					prefetchLine(unsafe.Pointer(&d.direct[x]))
				}
			}
			if b.Drop[i] || !(all || s.mine(&b.Keys, i)) {
				continue
			}
			s.idx = append(s.idx, int32(i))
			s.rows = append(s.rows, int32(s.add(&b.Keys, i)))
		}
	}
	if !clean {
		rows = s.rows
	}
	idx := s.idx
	if clean {
		idx = s.identity(len(rows))
	}
	asOf := s.info.AsOfDay
	nW := s.nW
	// The lines an order row touches: the counts and sums, the windows it
	// falls in, its day's bitmap word.
	const ahead = 16
	maxW, winLines := s.windowReach()
	bits0, ws, wch, repeat := s.bits0, s.ws, s.wch, s.opt.Repeat
	// A customer's category mix is another line of the record.
	catAhead := b.Category != nil && s.mix.phase != catLogging && s.ncat > 0
	// Past the warm-up (nothing to log) a purchase's category spend goes
	// straight to its slot's word of the record at hand: addCat, a call
	// per purchase that looks the record up again, is then only needed
	// for the warm-up's log (issue 26: the shard's loop is the critical
	// path).
	catDirect := catAhead && !s.mix.warm
	catSlot := s.mix.slot
	for j, i := range idx {
		if j+ahead < len(rows) {
			i2 := idx[j+ahead]
			k := asOf - b.Day[i2]
			lines := uint64(1)
			if k < maxW {
				lines |= winLines
			}
			if int(k) < s.bw*64 {
				lines |= 1 << ((bits0 + int(k>>6)) * 8 / 64)
			}
			if catAhead {
				lines |= 1 << s.catLine(b.Category[i2])
			}
			prefetchLines(unsafe.Pointer(&s.rec.at(int(rows[j+ahead]))[0]), lines)
		}
		row := int(rows[j])
		r := s.rec.at(row)
		_ = r[rGross]
		amt := b.Amount[i]
		k := asOf - b.Day[i] // ≥ 0: the stream cut rows at the as-of day
		if b.Refund[i] {
			s.refundRow(r, row, k, amt)
			continue
		}
		ts, day := b.Time[i], b.Day[i]
		if uint32(r[rCounts]) == 0 {
			r[rFirstTS], r[rLastTS], r[rMaxOrder] = uint64(ts), uint64(ts), u64(amt)
		} else {
			r[rFirstTS] = uint64(min(int64(r[rFirstTS]), ts))
			r[rLastTS] = uint64(max(int64(r[rLastTS]), ts))
			r[rMaxOrder] = u64(max(f64(r[rMaxOrder]), amt))
		}
		if repeat {
			addRepeat(r, day, amt)
		} else {
			r[rGross] = u64(f64(r[rGross]) + amt)
		}
		r[rCounts]++
		if k < maxW {
			for w := nW - 1; w >= 0 && k < s.wins[w]; w-- {
				r[ws+w] = u64(f64(r[ws+w]) + amt)
				h := wch[w]
				r[h>>1] += 1 << (32 * (h & 1))
			}
		}
		if int(k) < s.bw*64 {
			r[bits0+int(k>>6)] |= 1 << (k & 63)
		} else {
			s.markOld(row, k, day)
			r = s.rec.at(row) // the bitmap may have widened
		}
		if b.LineOff != nil {
			// An order of lines: its spend by the lines' categories.
			for k := b.LineOff[i]; k < b.LineOff[i+1]; k++ {
				s.addCat(row, b.LineCat[k], b.LineAmt[k])
			}
		} else if catDirect {
			w := s.catWord(catSlot[b.Category[i]+1])
			r[w] = u64(f64(r[w]) + amt)
		} else if b.Category != nil {
			s.addCat(row, b.Category[i], amt)
		}
		if b.Measure != nil {
			m := s.meas.at(row)
			for k := range m {
				m[k] += b.Measure[k][i]
			}
		}
		if b.Channel != nil {
			c := int(b.Channel[i]) + 1
			if c >= s.chn.stride {
				s.widen(&s.chn, c+1)
			}
			s.chn.at(row)[c]++
		}
	}
}

// fitBitmap widens the bitmap, before the arena has a page, to the oldest
// purchase day of the first order block: widening it later copies every
// record, and tables mix their dates or start with the oldest.
func (s *shard) fitBitmap(b *extract.OrderBlock) {
	oldest := int32(0)
	for _, d := range b.Day {
		oldest = max(oldest, s.info.AsOfDay-d)
	}
	need := min(int(oldest)/64+1, maxBitmapWords)
	s.bwNeed = max(s.bwNeed, need) // even if the padding holds it: relayout
	if need > s.bw {
		s.layout(need)
	}
}

// identity returns 0, 1, …, n-1, kept between blocks.
func (s *shard) identity(n int) []int32 {
	for len(s.ident) < n {
		s.ident = append(s.ident, int32(len(s.ident)))
	}
	return s.ident[:n]
}

// addRepeat adds a purchase of amt on day to the repeat words of record r,
// before the purchase is counted. The spend of the first day is kept
// apart until a purchase on an earlier day shows it was a repeat day
// after all; it then joins the repeat spend as one sum. Every sum adds in
// input order, so the result does not depend on the workers.
func addRepeat(r []uint64, day int32, amt float64) {
	if uint32(r[rCounts]) != 0 {
		switch fd := firstDay(r); {
		case day == fd:
			r[rFirstDaySpend] = u64(f64(r[rFirstDaySpend]) + amt)
			return
		case day > fd:
			r[rRepeatSpend] = u64(f64(r[rRepeatSpend]) + amt)
			return
		}
		// An earlier day: the first day was a repeat day.
		r[rRepeatSpend] = u64(f64(r[rRepeatSpend]) + f64(r[rFirstDaySpend]))
	}
	r[rCounts] = r[rCounts]&math.MaxUint32 | uint64(uint32(day))<<32
	r[rFirstDaySpend] = u64(amt)
}

// firstDay is the day of a customer's first purchase, kept in the high
// half of the counts word with Options.Repeat (addRepeat).
func firstDay(r []uint64) int32 { return int32(r[rCounts] >> 32) }

// gross is a record's purchase amount.
func (s *shard) gross(r []uint64) float64 {
	if s.opt.Repeat {
		return f64(r[rFirstDaySpend]) + f64(r[rRepeatSpend])
	}
	return f64(r[rGross])
}

// windowReach is the age in days below which an order falls in a window
// (the longest window's length; 0 without windows) and the bit set of the
// record's cache lines that hold the windows' spend and counts, which such
// an order updates.
func (s *shard) windowReach() (maxW int32, winLines uint64) {
	if s.nW == 0 {
		return 0, 0
	}
	for l := s.ws / 8; l <= (s.cat0-1)/8; l++ {
		winLines |= 1 << l
	}
	return s.wins[s.nW-1], winLines
}

// refundRow records a refund of amt (≤ 0), k days before the as-of day,
// for customer row, whose record is r: refund's count and amount, and the
// spend of the windows the day falls in (a refund is no order: it counts
// in no window's orders). Shared by shard.orders and the sorted batches.
func (s *shard) refundRow(r []uint64, row int, k int32, amt float64) {
	s.refund(row, amt)
	if nW := s.nW; nW > 0 && k < s.wins[nW-1] {
		for w := nW - 1; w >= 0 && k < s.wins[w]; w-- {
			r[s.ws+w] = u64(f64(r[s.ws+w]) + amt)
		}
	}
}

// refund counts a refund of amt (≤ 0) for row.
func (s *shard) refund(row int, amt float64) {
	if s.ref.stride == 0 {
		s.ref.stride = 2
		s.ref.ensure(s.n)
	}
	w := s.ref.at(row)
	w[0]++
	w[1] = u64(f64(w[1]) - amt)
}

// refunds returns row's refunds and their amount (positive).
func (s *shard) refunds(row int) (n int32, amount float64) {
	if s.ref.stride == 0 {
		return 0, 0
	}
	w := s.ref.at(row)
	return int32(w[0]), f64(w[1])
}

// windowOrders returns the order count of record r's window w.
func (s *shard) windowOrders(r []uint64, w int) int32 {
	h := s.wch[w]
	return int32(uint32(r[h>>1] >> (32 * (h & 1))))
}

// widen gives a level mix room for slot stride-1, for every customer.
func widen[T any](p *paged[T], n, stride int) {
	if p.stride == 0 {
		p.stride = stride
		p.ensure(n)
		return
	}
	p.restride(stride, -1)
}

func (s *shard) widen(p any, stride int) {
	switch p := p.(type) {
	case *paged[float64]:
		widen(p, s.n, stride)
	case *paged[int32]:
		widen(p, s.n, stride)
	}
}

// markOld records a purchase day beyond the bitmap: it widens the bitmap
// if that keeps it within maxBitmapWords, else keeps the day aside.
func (s *shard) markOld(row int, k, day int32) {
	need := int(k)/64 + 1
	if need > maxBitmapWords {
		s.old = append(s.old, dayRow{int32(row), day})
		return
	}
	s.layout(min(max(need, s.bw+s.bw/2), maxBitmapWords))
	s.rec.at(row)[s.bits0+int(k>>6)] |= 1 << (k & 63)
}

func (s *shard) customers(b *extract.CustomerBlock) {
	all := s.of == 1
	for i := range b.N {
		if !(all || s.mine(&b.Keys, i)) {
			continue
		}
		row := s.add(&b.Keys, i)
		// The latest version at or before the cutoff wins; a tie goes to
		// the later row. Later versions never got here.
		if v := b.Version[i]; s.known[row] && v < s.version[row] {
			continue
		} else {
			s.version[row] = v
		}
		s.known[row] = true
		s.signup[row] = b.Signup[i]
		s.birth[row] = b.Birth[i]
		s.age[row] = b.Age[i]
		s.income[row] = b.Income[i]
		s.optIn[row] = b.OptIn[i]
		for a := range s.attr {
			if b.Attr[a] != nil {
				s.attr[a][row] = b.Attr[a][i]
				s.seenAttr[a] = true
			} else {
				s.attr[a][row] = -1
			}
		}
		for k := range s.opt.Own {
			if b.OwnCode[k] != nil && s.opt.Own[k].Categorical {
				s.ownCode[k][row] = b.OwnCode[k][i]
			} else if !s.opt.Own[k].Categorical {
				s.ownNum[k][row] = b.OwnNum[k][i]
			}
		}
		s.intLen[row] = 0
		if b.InterestOff != nil {
			s.seenOther[seenInterests] = true
			lo, hi := b.InterestOff[i], b.InterestOff[i+1]
			s.intStart[row] = int32(len(s.intPool))
			s.intLen[row] = hi - lo
			s.intPool = append(s.intPool, b.Interest[lo:hi]...)
		}
	}
	// Which optional columns the table has at all decides which
	// features exist.
	for k, present := range [nOtherAttrs]bool{seenBirth: b.HasBirth, seenAge: b.HasAge, seenIncome: b.HasIncome, seenOptIn: b.HasOptIn} {
		if present {
			s.seenOther[k] = true
		}
	}
}

func (s *shard) eventsOf(b *extract.EventBlock) {
	asOf := s.info.AsOfDay
	all := s.of == 1
	for i := range b.N {
		if !(all || s.mine(&b.Keys, i)) {
			continue
		}
		var iv int64
		var sv string
		if b.Int != nil {
			iv = b.Int[i]
		} else {
			sv = b.Str[i]
		}
		row := s.dict.row(s.hash(&b.Keys, i), iv, sv)
		if row < 0 {
			s.unknownEv++
			continue
		}
		s.events++
		if t := b.Time[i]; t > s.evLast[row] {
			s.evLast[row] = t
		}
		cl := s.classOf(b.Type[i])
		if cl < 0 {
			continue
		}
		k := asOf - b.Day[i]
		c := s.ev.at(int(row))[int(cl)*(1+s.nW):]
		c[0]++
		for j, w := range s.wins {
			if k < w {
				c[1+j]++
			}
		}
	}
}

// classOf maps an event-type code to its class, -1 for none.
func (s *shard) classOf(code int32) int8 {
	if int(code) >= len(s.typeClass) {
		names := s.info.Levels["events.event_type"].Names()
		for c := len(s.typeClass); c < len(names); c++ {
			cl := int8(-1)
			switch {
			case slices.Contains(s.opt.OpenEvents, names[c]):
				cl = evOpen
			case slices.Contains(s.opt.ClickEvents, names[c]):
				cl = evClick
			case slices.Contains(s.opt.SessionEvents, names[c]):
				cl = evSession
			}
			s.typeClass = append(s.typeClass, cl)
		}
	}
	return s.typeClass[code]
}

// chnRow returns row's channel counts as floats, in buf.
func (s *shard) chnRow(row int, buf []float64) []float64 {
	buf = buf[:0]
	for _, n := range s.chn.at(row) {
		buf = append(buf, float64(n))
	}
	return buf
}
