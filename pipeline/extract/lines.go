package extract

import (
	"fmt"
	"slices"
	"strings"
)

// A lineGrouper makes orders of order lines (Rules.Lines): the lines
// sharing an order_id are one order, whose amount is the sum of theirs
// (returns negative), whose instant is the earliest line's, and whose
// category spend is the lines', by line spend. An order that nets to a
// purchase reaches the sink as one purchase row; one that nets to a
// return as one return row; one whose lines cancel out as nothing (it is
// counted, excluded as zero_amount).
//
// Memory: an order stays open, a few dozen bytes and its lines' hashes,
// until the table ends or until MaxOpenOrders newer orders have opened;
// then it is closed and handed on, oldest first. So what is held is
// bounded whatever the table's size, and the set of order-id hashes that
// detects duplicates holds the rest. Exports list an order's lines
// together, or near each other (the Complete Journey sample, whose lines
// are in random order, has 26 thousand baskets and fits many times over).
// A line whose order was already closed is quarantined as
// scattered_order_lines, with a hint to sort the export by order.
type lineGrouper struct {
	st     *streamer
	rd     *orderReader // builds, partitions and hints the blocks handed on
	open   map[hash128]*openOrder
	queue  []*openOrder // open orders by age; closed ones are nil
	head   int
	max    int
	seq    int64
	out    *OrderBlock
	hasCat bool
	hasChn bool
	// noAmount: the lines have no amounts, so every order nets to 0 and
	// is a purchase, not a zero_amount.
	noAmount bool
}

// MaxOpenOrders bounds the orders a line-grain read holds open.
const MaxOpenOrders = 1 << 20

type custKey struct {
	i int64
	s string
}

type openOrder struct {
	seq     int64
	oh      hash128
	orderID string
	object  string
	srcRow  int64
	key     custKey
	hash    uint64
	ts      int64
	amount  float64
	lines   []uint64 // the lines' content hashes: exact copies are duplicates
	cats    []lineCat
	chn     int32
	meas    []float64 // the lines' sums of the table's own columns (Table.Own)
}

type lineCat struct {
	cat int32
	amt float64
}

func newLineGrouper(st *streamer, rd *orderReader) *lineGrouper {
	return &lineGrouper{st: st, rd: rd, open: map[hash128]*openOrder{}, max: testMaxOpen}
}

// testMaxOpen is MaxOpenOrders, but for tests of the window.
var testMaxOpen = MaxOpenOrders

// add takes the lines of a block, in input order, and releases it.
func (g *lineGrouper) add(blk *OrderBlock) error {
	defer blk.Release()
	st := g.st
	q := &st.ds.Quality
	g.hasCat = g.hasCat || blk.Category != nil
	g.hasChn = g.hasChn || blk.Channel != nil
	g.noAmount = g.noAmount || blk.noAmount
	for i := range blk.N {
		var key custKey
		var h uint64
		if blk.Int != nil {
			key.i, h = blk.Int[i], HashInt(blk.Int[i])
		} else {
			key.s, h = blk.Str[i], blk.Hash[i]
		}
		if blk.orderID == nil || blk.orderID[i] == "" {
			// A line without an order id is an order of its own.
			if err := g.emit(g.newOrder(blk, i, key, h)); err != nil {
				return err
			}
			continue
		}
		if o := g.open[blk.oh[i]]; o != nil && o.key == key {
			if slices.Contains(o.lines, blk.rh[i]) {
				q.Duplicates["orders"]++
				id := st.view.id(strings.Clone(blk.ID(i)))
				st.ds.Quarantine.add("orders", blk.object, blk.srcRow[i], ReasonDuplicateOrder, id, blk.dupDetail(i, id))
				continue
			}
			g.addLine(o, blk, i)
			continue
		} else if o != nil {
			add2(q.Bad, "orders", ReasonConflictingOrder, 1)
			id := st.view.id(strings.Clone(blk.ID(i)))
			st.ds.Quarantine.add("orders", blk.object, blk.srcRow[i], ReasonConflictingOrder, id,
				blk.dupDetail(i, id)+` hint="a line of another customer's order"`)
			continue
		}
		if !st.seen.add(blk.oh[i]) {
			add2(q.Bad, "orders", ReasonScatteredLines, 1)
			id := st.view.id(strings.Clone(blk.ID(i)))
			st.ds.Quarantine.add("orders", blk.object, blk.srcRow[i], ReasonScatteredLines, id,
				blk.dupDetail(i, id)+fmt.Sprintf(` hint="the order was closed, more than %d newer orders being open; sort the export by order"`, g.max))
			continue
		}
		key.s = strings.Clone(key.s)
		o := g.newOrder(blk, i, key, h)
		g.open[o.oh] = o
		g.queue = append(g.queue, o)
		if len(g.open) > g.max {
			if err := g.closeOldest(); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeOldest closes the oldest open order.
func (g *lineGrouper) closeOldest() error {
	for g.head < len(g.queue) {
		o := g.queue[g.head]
		g.queue[g.head] = nil
		g.head++
		if g.head > 4096 && 2*g.head > len(g.queue) {
			g.queue = append(g.queue[:0], g.queue[g.head:]...)
			g.head = 0
		}
		if o != nil {
			delete(g.open, o.oh)
			return g.emit(o)
		}
	}
	return nil
}

func (g *lineGrouper) newOrder(blk *OrderBlock, i int, key custKey, h uint64) *openOrder {
	g.seq++
	o := &openOrder{seq: g.seq, object: blk.object, key: key, hash: h, ts: blk.Time[i], chn: -1}
	if blk.orderID != nil {
		o.oh, o.orderID, o.srcRow = blk.oh[i], strings.Clone(blk.orderID[i]), blk.srcRow[i]
	}
	if blk.Channel != nil {
		o.chn = blk.Channel[i]
	}
	g.addLine(o, blk, i)
	return o
}

func (g *lineGrouper) addLine(o *openOrder, blk *OrderBlock, i int) {
	o.ts = min(o.ts, blk.Time[i])
	o.amount += blk.Amount[i]
	// An order's measures are the sums of its lines', as its amount is:
	// a discount is written per line.
	if len(blk.Measure) > 0 {
		if o.meas == nil {
			o.meas = make([]float64, len(blk.Measure))
		}
		for k, m := range blk.Measure {
			o.meas[k] += m[i]
		}
	}
	if blk.rh != nil {
		o.lines = append(o.lines, blk.rh[i])
	}
	c := int32(-1)
	if blk.Category != nil {
		c = blk.Category[i]
	}
	for k := range o.cats {
		if o.cats[k].cat == c {
			o.cats[k].amt += blk.Amount[i]
			return
		}
	}
	o.cats = append(o.cats, lineCat{c, blk.Amount[i]})
}

// emit hands a closed order on.
func (g *lineGrouper) emit(o *openOrder) error {
	if o.amount == 0 && !g.noAmount && !g.st.rules.ZeroPurchases {
		add2(g.st.ds.Quality.Excluded, "orders", ExcludedZeroAmount, 1)
		return nil
	}
	if g.out == nil {
		g.out = g.rd.get()
		g.out.LineOff = append(g.out.LineOff[:0], 0)
	}
	b := g.out
	if g.st.info.IntIDs {
		b.Int = append(b.Int, o.key.i)
	} else {
		b.Str = append(b.Str, o.key.s)
		b.Hash = append(b.Hash, o.hash)
	}
	b.Time = append(b.Time, o.ts)
	b.Day = append(b.Day, g.rd.clock.Day(o.ts))
	b.Amount = append(b.Amount, o.amount)
	b.Refund = append(b.Refund, o.amount < 0)
	b.Drop = append(b.Drop, false)
	b.Channel = append(b.Channel, o.chn)
	for k := range b.Measure {
		v := 0.0
		if k < len(o.meas) {
			v = o.meas[k]
		}
		b.Measure[k] = append(b.Measure[k], v)
	}
	top := 0
	for k, c := range o.cats {
		if c.amt > o.cats[top].amt {
			top = k
		}
		b.LineCat = append(b.LineCat, c.cat)
		b.LineAmt = append(b.LineAmt, c.amt)
	}
	b.Category = append(b.Category, o.cats[top].cat)
	b.LineOff = append(b.LineOff, int32(len(b.LineCat)))
	b.N++
	if b.N == BlockRows {
		return g.deliver()
	}
	return nil
}

// deliver hands the block of closed orders to the sink.
func (g *lineGrouper) deliver() error {
	b := g.out
	g.out = nil
	if b == nil || b.N == 0 {
		if b != nil {
			b.Release()
		}
		return nil
	}
	if !g.hasCat {
		b.Category, b.LineOff, b.LineCat, b.LineAmt = nil, nil, nil, nil
	}
	if !g.hasChn {
		b.Channel = nil
	}
	g.rd.partition(b)
	if g.rd.hinter != nil {
		g.rd.hinter.HintOrders(b)
	}
	g.st.ds.Orders += b.N
	g.st.accept(b)
	return g.st.sink.Orders(b)
}

// flush closes every open order, oldest first, at the end of the table.
func (g *lineGrouper) flush() error {
	for _, o := range g.queue[g.head:] {
		if o != nil {
			if err := g.emit(o); err != nil {
				return err
			}
		}
	}
	clear(g.open)
	g.queue, g.head = nil, 0
	return g.deliver()
}
