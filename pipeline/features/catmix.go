package features

import (
	"cmp"
	"slices"
	"unsafe"

	"github.com/strata-oss/strata/pipeline/extract"
)

// The category mix (cat_share_*) of a column with a long tail of levels
// (a product description has thousands) cannot keep a slot per level for
// every customer: the arena would be levels × customers words, widened
// once per new level (issue 26: 4,223 levels made an extract 170× slower
// at 5.9 GiB). A shard keeps a slot per customer for at most catSlots
// (catSlotsFor) levels, the candidates, and one more, rest, for the spend
// on every other level, as words of the customer's order record (rest at
// cat0, the slots at slot0; see shard: a purchase's category spend is then
// next to the lines it touches anyway); the top categories are chosen
// among the candidates at the end.
//
// Which levels are candidates must not depend on the shards or the
// readers' scheduling, so every shard decides it alike from every row of
// every block, in input order (every shard sees every block):
//
//   - While the column has had at most catSlots levels, each gets a slot
//     when first met: the candidates are all the levels, and nothing is
//     approximated (every run with few levels, the common case).
//   - The first catWarmRows category rows are also logged (each shard its
//     own, 16 bytes a row), and every level's total spend over all of them
//     counted in a side table. Should a level beyond catSlots turn up among
//     them, the slots are ignored and the candidates chosen, at the end of
//     that stretch, as the catSlots levels with the most spend in it (ties
//     by name); the slots are cleared and the log replayed into them, so each
//     candidate's per-customer sums are exact, added in input order.
//   - A level first met after that stretch, once catSlots levels have
//     slots, goes to rest.
//
// So the top categories are exact unless a level that is not among the
// catSlots largest of the first catWarmRows category rows — nor among the
// first catSlots levels met — ends up in the top: memory is catSlots+1
// words a customer whatever the number of levels, and each row touches
// one more line of its customer's record.
type catMix struct {
	max   int     // candidate slots
	slot  []int32 // by code+1 (0 the blank level): slot, slotNone or slotRest
	unmet int     // entries of slot that are slotNone
	code  []int32 // by slot: code+1
	rest  bool    // some level goes to rest
	cap   int     // slots the arena has
	phase int
	warm  bool        // the current block is in the warm-up
	rows  int         // category rows met, while warming
	tot   []float64   // by code+1: spend over the warm-up rows
	log   [][]catLine // this shard's warm-up rows, in chunks (appending never copies)
	vocab map[string]bool
	names *extract.Levels
	known []string // names by code, as of the last look
	// settledBlocks counts the blocks catBlock had nothing to do for.
	settledBlocks int
}

type catLine struct {
	row, level int32 // level: code+1
	amt        float64
}

const (
	slotNone = -1
	slotRest = -2
)

// Phases of a catMix.
const (
	catSlotted = iota // every level met has a slot
	catLogging        // too many levels met while warming: only the log counts
	catChosen         // candidates fixed; the others go to rest
)

// catWarmRows is the warm-up stretch of category rows.
var catWarmRows = 1 << 18

// catSlotsFor is the number of candidate slots for top categories.
func catSlotsFor(top int) int { return max(2*top, 16) }

func (s *shard) initCatMix() {
	m := &s.mix
	m.max = catSlotsFor(s.opt.TopCategories)
	m.names = s.info.Levels["orders.category"]
	if v := s.opt.Vocabulary; v != nil {
		if chosen, ok := v.Shares["orders.category"]; ok {
			m.vocab = map[string]bool{}
			for _, l := range chosen {
				m.vocab[l] = true
			}
		}
	}
}

// catBlock updates the candidate slots from every row of b, before the
// shard adds its own rows.
func (s *shard) catBlock(b *extract.OrderBlock) {
	m := &s.mix
	if m.max == 0 {
		s.initCatMix()
	}
	warming := m.phase != catChosen && m.rows < catWarmRows
	m.warm = warming
	if m.settled() && !s.opt.scanEveryBlock {
		m.settledBlocks++
		return
	}
	for i := range b.N {
		if b.Drop[i] || b.Refund[i] {
			continue
		}
		c := int(b.Category[i]) + 1
		for c >= len(m.slot) {
			m.slot = append(m.slot, slotNone)
			m.unmet++
			if warming {
				m.tot = append(m.tot, 0)
			}
		}
		if warming {
			m.tot[c] += b.Amount[i]
			m.rows++
		}
		if m.slot[c] != slotNone {
			continue
		}
		m.unmet--
		switch {
		case m.phase == catLogging:
			m.slot[c] = slotRest // met; its slot is decided with the others
		case len(m.code) < m.max || m.inVocab(c):
			m.slot[c] = int32(len(m.code))
			m.code = append(m.code, int32(c))
		case warming:
			// Too many levels to slot each: choose at the end of the
			// warm-up, from the log.
			m.phase = catLogging
			m.slot[c] = slotRest
			// The mix will need every candidate slot and rest: its words
			// now, while the arena is young, not at the end of the
			// warm-up.
			if s.ncat < m.max+1 {
				s.catWords(m.max + 1)
			}
		default:
			m.slot[c] = slotRest
			m.rest = true
		}
	}
	if m.phase != catLogging {
		s.fitCat()
	}
}

// settled reports whether a block can change nothing of the mix: the
// candidates are chosen and every level the column has had so far (the
// block's among them: the readers coded its rows before sending it) has
// been met. A block's rows then only go to their slots or rest, and
// catBlock's pass over every row, on the shard's goroutine (the extract's
// critical path), is skipped: past the first blocks a long tail has few
// new levels left to meet.
func (m *catMix) settled() bool {
	return m.phase == catChosen && m.unmet == 0 && m.names != nil && len(m.slot) > m.names.Len()
}

// catDone ends a block: the warm-up ends once catWarmRows rows are met.
func (s *shard) catDone() {
	m := &s.mix
	if m.phase == catChosen || m.rows < catWarmRows {
		return
	}
	if m.phase == catLogging {
		s.chooseCats()
	} else {
		m.phase = catChosen
	}
	m.log, m.tot, m.warm = nil, nil, false
}

// finishCats ends the stream for the category mix.
func (s *shard) finishCats() {
	if s.mix.phase == catLogging {
		s.chooseCats()
	}
	s.mix.log, s.mix.tot, s.mix.warm = nil, nil, false
}

func (m *catMix) inVocab(level int) bool {
	if m.vocab == nil {
		return false
	}
	name := ""
	if level > 0 {
		if level > len(m.known) {
			m.known = m.names.Names()
		}
		name = m.known[level-1]
	}
	return m.vocab[name]
}

// fitCat gives the arena room for the slots (and rest).
func (s *shard) fitCat() {
	m := &s.mix
	need := len(m.code)
	if need == 0 {
		return
	}
	if m.cap < need {
		// Widen in steps, copying the arena a few times, not once a level.
		m.cap = max(need, min(2*m.cap, m.max), 4)
	}
	if m.cap+1 > s.ncat {
		s.catWords(m.cap + 1)
	}
}

// catWords gives the records n words of category mix (more than they
// have): rest and n−1 slots.
func (s *shard) catWords(n int) {
	s.relayout(n, s.bw)
}

// catWord is the word of the record that a purchase in the level of slot
// (slotRest, slotNone: rest) adds to.
func (s *shard) catWord(slot int32) int {
	if slot < 0 {
		return s.cat0
	}
	return s.slot0 + int(slot)
}

// chooseCats ends a logging warm-up: the candidates are the levels with
// the most spend in it (a fitted vocabulary's levels first), the others
// rest; the log is replayed into the slots.
func (s *shard) chooseCats() {
	m := &s.mix
	names := m.names.Names()
	name := func(l int) string {
		if l == 0 {
			return "unknown"
		}
		return names[l-1]
	}
	idx := byTotal(m.tot, name)
	// A fitted vocabulary's levels keep their slots whatever their spend.
	slices.SortStableFunc(idx, func(x, y int) int {
		return cmp.Compare(b2i(!m.inVocab(x)), b2i(!m.inVocab(y)))
	})
	m.code = m.code[:0]
	for i := range m.slot {
		if m.slot[i] != slotNone {
			m.slot[i] = slotRest
		}
	}
	for _, l := range idx {
		if m.slot[l] == slotNone {
			continue // not met
		}
		if len(m.code) >= m.max && !m.inVocab(l) {
			break
		}
		m.slot[l] = int32(len(m.code))
		m.code = append(m.code, int32(l))
	}
	m.rest, m.cap = true, len(m.code)
	m.phase = catChosen
	if s.ncat < m.cap+1 {
		s.catWords(m.cap + 1)
	}
	m.cap = s.ncat - 1 // candidates may take any slot
	for row := range s.n {
		r := s.rec.at(row)
		r[s.cat0] = 0
		clear(r[s.slot0 : s.slot0+s.ncat-1])
	}
	for _, chunk := range m.log {
		for _, e := range chunk {
			w := s.catWord(m.slot[e.level])
			r := s.rec.at(int(e.row))
			r[w] = u64(f64(r[w]) + e.amt)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// addCat adds a purchase of amt in level code to row's mix. The record is
// looked up again: the purchase may have just widened the bitmap.
func (s *shard) addCat(row int, code int32, amt float64) {
	m := &s.mix
	l := int(code) + 1
	if m.warm {
		if k := len(m.log); k == 0 || len(m.log[k-1]) == cap(m.log[k-1]) {
			m.log = append(m.log, make([]catLine, 0, 1<<14))
		}
		k := len(m.log) - 1
		m.log[k] = append(m.log[k], catLine{int32(row), int32(l), amt})
	}
	if m.phase == catLogging {
		return
	}
	w := s.catWord(m.slot[l])
	r := s.rec.at(row)
	r[w] = u64(f64(r[w]) + amt)
}

// catLevel maps slot of the shard's mix to the level's code+1, or -1 for
// rest.
func (s *shard) catLevel(slot int) int {
	if slot < len(s.mix.code) {
		return int(s.mix.code[slot])
	}
	return -1
}

// catSlots is the number of slots of the shard's mix to read.
func (s *shard) catSlots() int {
	if s.ncat == 0 {
		return 0
	}
	n := len(s.mix.code)
	if s.mix.rest {
		n = s.ncat
	}
	return n
}

// catRow returns the mix of record r (a row's, or a copy of it) as
// numbers, the slots then rest (the index catSlots and catLevel use), in
// buf.
func (s *shard) catRow(r []uint64, buf []float64) []float64 {
	buf = buf[:0]
	for _, w := range r[s.slot0 : s.slot0+s.ncat-1] {
		buf = append(buf, f64(w))
	}
	return append(buf, f64(r[s.cat0]))
}

// catCandidates returns row's candidate slots as numbers (catRow without
// rest and the unused slots), in buf: what learnShares sums. Rest is not a
// level, and leaving it out spares learnShares a line of every record
// (rest is beside the bitmap, not the slots).
func (s *shard) catCandidates(row int, buf []float64) []float64 {
	buf = buf[:0]
	if s.ncat == 0 {
		return buf
	}
	r := s.rec.at(row)
	for _, w := range r[s.slot0 : s.slot0+len(s.mix.code)] {
		buf = append(buf, f64(w))
	}
	return buf
}

// prefetchMix fetches the lines of row's record that hold its candidate
// slots (catCandidates), if any.
func (s *shard) prefetchMix(row int) {
	if s.ncat == 0 || len(s.mix.code) == 0 {
		return
	}
	var lines uint64
	for l := s.slot0 / 8; l <= (s.slot0+len(s.mix.code)-1)/8; l++ {
		lines |= 1 << l
	}
	prefetchLines(unsafe.Pointer(&s.rec.at(row)[0]), lines)
}

// catLine is the line of a record that a purchase in level code adds to.
func (s *shard) catLine(code int32) int {
	return s.catWord(s.mix.slot[code+1]) / 8
}
