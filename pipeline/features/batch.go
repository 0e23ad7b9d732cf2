package features

import (
	"unsafe"

	"github.com/strata-oss/strata/pipeline/extract"
)

// Sorted batches (issue 31). On a record arena of gigabytes each order
// row's record lines miss every cache and the TLB, and on the Firecracker
// VM a page walk of guest memory is itself a walk of the host's tables:
// the shard's loop cost 59–87 ns a row on 20M customers' records against
// 30 on 1M (BenchmarkAggregateScale). Taken a few million rows at a time
// in the order of their records, the same updates hit records close to
// each other, in pages and DRAM rows just used: 28 ns a row. Each
// customer's rows keep their input order (a stable counting sort), so
// every sum adds in the same order and the bytes do not change.
//
// Only the plainest blocks are held back: one shard of directly addressed
// ids without duplicates (the clean path of shard.orders), and no
// category, line, measure or channel column, whose state (the category
// mix's warm-up log and its relayout of the records) depends on the
// order rows come in; any other block first applies what is held.

// batchRows is how many order rows a shard holds back before applying
// them sorted, where it does (batchFor): 24 bytes a row, twice (the held
// rows and their sorted copy), so 192 MiB at most.
const batchRows = 4 << 20

// batchMinCustomers is the fewest customers (the span of their ids) for
// which a shard sorts its rows. In the shard's loop alone
// (BenchmarkAggregateScale) the sort cost what it saved at 1M customers
// (26.0 ns a row against 26.2) and saved a tenth at 5M (32.0 against
// 35.8), not measured end to end; at 20M it halved the loop's cost.
const batchMinCustomers = 8_000_000

// batchShift sets the sort's buckets: records with the same row>>batchShift
// (65,536 records, 12 MiB of 192-byte records) are one bucket. Finer
// buckets saved nothing more and made the scatter slower (bench/randmem:
// 4,883 buckets of 4,096 records, 11 ns a row; 306 of 65,536, 5 ns).
const batchShift = 16

// A pending row is what an order row's record update needs: its record,
// its day's age k (asOfDay − day, never negative) with refundBit for a
// refund and markedBit for a purchase whose day hold marked, its instant
// and its amount. Days come from int64 microseconds, so k < 2^28 leaves
// the two bits free.
type pending struct {
	row int32
	k   uint32
	ts  int64
	amt float64
}

const (
	refundBit = 1 << 31
	markedBit = 1 << 30
	ageMask   = markedBit - 1
)

// batchFor is how many rows a shard holds back (0: none), for the option
// (its test knob: > 0 forces that batch, < 0 none) and the customers.
func batchFor(opt *Options, ranged bool, customers int64) int {
	switch {
	case opt.batchRows != 0:
		return max(opt.batchRows, 0)
	case ranged && customers >= batchMinCustomers:
		return batchRows
	}
	return 0
}

// holds reports whether the shard holds back the rows of b, a clean block
// (see shard.orders), rather than applying them at once.
func (s *shard) holds(b *extract.OrderBlock) bool {
	return s.batch > 0 && b.Category == nil && b.LineOff == nil && b.Measure == nil && b.Channel == nil
}

// hold takes the rows of the clean block b, whose customers are rows.
// Purchases on days beyond the bitmap are marked now, in input order:
// the bitmap widens with them and the days it cannot hold join old in
// that order, as they would have. Setting a bitmap bit commutes with
// every other update. Whether a day goes to the bitmap or to old depends
// on the bitmap's width when its row comes (padding can widen the bitmap
// past maxBitmapWords), so apply leaves the days marked here alone.
//
// The previous batch, sorted, is applied a share at a time, a little more
// than the rows each block brings, so that it is done before the next one
// is full: applied at once, a batch kept the shard from the readers'
// blocks for a tenth of a second at a time, and the readers waited on it
// (20M customers: 36 s of wall time for the extract stage's 45 CPU-s).
func (s *shard) hold(b *extract.OrderBlock, rows []int32) {
	if s.pend == nil {
		// Room for a whole batch at once: grown by append, the copies
		// left behind cost the extract stage's peak 180 MiB at 20M
		// (4,943 against 4,763 MiB, one run).
		s.pend = make([]pending, 0, s.batch+extract.BlockRows)
	}
	asOf := s.info.AsOfDay
	for i, row := range rows {
		k := asOf - b.Day[i] // ≥ 0: the stream cut rows at the as-of day
		p := pending{row: row, k: uint32(k), ts: b.Time[i], amt: b.Amount[i]}
		if b.Refund[i] {
			p.k |= refundBit
		} else if int(k) >= s.bw*64 {
			s.markOld(int(row), k, b.Day[i])
			p.k |= markedBit
		}
		s.pend = append(s.pend, p)
	}
	s.held += int64(len(rows))
	s.drain(len(rows) + len(rows)/4)
	if len(s.pend) >= s.batch {
		s.drain(len(s.sorted))
		s.sortHeld()
	}
}

// drain applies up to n more rows of the sorted batch.
func (s *shard) drain(n int) {
	if hi := min(s.next+n, len(s.sorted)); hi > s.next {
		s.apply(s.sorted[s.next:hi])
		s.next = hi
	}
}

// sortHeld makes the rows held the sorted batch, in the order of their
// records' buckets, each bucket's in input order. The previous batch must
// be applied: each customer's rows in it come before those held.
func (s *shard) sortHeld() {
	nb := s.n>>batchShift + 1
	if cap(s.buckets) < nb {
		s.buckets = make([]int32, nb)
	}
	count := s.buckets[:nb]
	clear(count)
	for _, p := range s.pend {
		count[p.row>>batchShift]++
	}
	at := int32(0)
	for i, n := range count {
		count[i] = at
		at += n
	}
	if cap(s.sorted) < len(s.pend) {
		s.sorted = make([]pending, 0, cap(s.pend))
	}
	sorted := s.sorted[:len(s.pend)]
	for _, p := range s.pend {
		k := p.row >> batchShift
		sorted[count[k]] = p
		count[k]++
	}
	s.sorted, s.next, s.pend = sorted, 0, s.pend[:0]
}

// flush applies every row held back.
func (s *shard) flush() {
	s.drain(len(s.sorted))
	if len(s.pend) > 0 {
		s.sortHeld()
		s.drain(len(s.sorted))
	}
}

// endBatches applies what is held and lets go of the buffers.
func (s *shard) endBatches() {
	s.flush()
	s.pend, s.sorted, s.buckets = nil, nil, nil
}

// apply makes the record updates of rows, as the loop of shard.orders
// does for a block without the optional columns (keep the two alike; the
// tests compare every feature both ways). Days beyond the bitmap were
// marked by hold (markedBit).
func (s *shard) apply(rows []pending) {
	asOf := s.info.AsOfDay
	nW := s.nW
	const ahead = 16
	maxW, winLines := s.windowReach()
	bits0, ws, wch, repeat := s.bits0, s.ws, s.wch, s.opt.Repeat
	for j := range rows {
		if j+ahead < len(rows) {
			p := &rows[j+ahead]
			k := int32(p.k & ageMask)
			lines := uint64(1)
			if k < maxW {
				lines |= winLines
			}
			if p.k&(refundBit|markedBit) == 0 {
				lines |= 1 << ((bits0 + int(k>>6)) * 8 / 64)
			}
			prefetchLines(unsafe.Pointer(&s.rec.at(int(p.row))[0]), lines)
		}
		p := rows[j]
		row := int(p.row)
		r := s.rec.at(row)
		_ = r[rGross]
		amt := p.amt
		if p.k&refundBit != 0 {
			s.refundRow(r, row, int32(p.k&ageMask), amt)
			continue
		}
		k := int32(p.k & ageMask)
		ts, day := p.ts, asOf-k
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
		if p.k&markedBit == 0 {
			r[bits0+int(k>>6)] |= 1 << (k & 63)
		}
	}
}
