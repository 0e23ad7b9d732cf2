package extract

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/strata-oss/strata/pipeline/tables"
)

// BlockRows bounds the rows of a block, so that the blocks in flight stay
// small whatever the row-group size of the input.
const BlockRows = 1 << 16

// Keys identifies the customer of each row of a block.
type Keys struct {
	Int []int64  // integer ids (Info.IntIDs); nil otherwise
	Str []string // text ids otherwise
	// Hash holds HashString(Str[i], 0) for text ids, computed once per
	// dictionary entry where the column is dictionary-encoded. Integer ids
	// have no hashes here: HashInt is a few instructions, and a consumer
	// that addresses ids directly needs none.
	Hash []uint64
}

// HashOf returns the hash of row i's id.
func (k *Keys) HashOf(i int) uint64 {
	if k.Int != nil {
		return HashInt(k.Int[i])
	}
	return k.Hash[i]
}

// ID renders row i's customer id.
func (k *Keys) ID(i int) string {
	if k.Str != nil {
		return k.Str[i]
	}
	return strconv.FormatInt(k.Int[i], 10)
}

func (k *Keys) reset(intIDs bool) {
	k.Hash = k.Hash[:0]
	if intIDs {
		k.Int, k.Str = k.Int[:0], nil
	} else {
		k.Str, k.Int = k.Str[:0], nil
	}
}

// Block is what every block has: the customers of its rows, where they
// came from, and what the worker found in the rows it read.
type Block struct {
	N int
	Keys
	object   string
	rowsRead int64
	// bytesRead and badBytes are the bytes of input of the rows read and
	// of those quarantined, where the format says (CSV).
	bytesRead, badBytes int64
	bad                 map[string]int64
	excluded            map[string]int64
	invalid             map[string]int64
	quar                Quarantine
	release             func()
	noAmount            bool // an order block read from a table without amounts
}

// Release hands the block back for reuse; the sink calls it exactly once,
// when it no longer reads the block.
func (b *Block) Release() {
	if b.release != nil {
		b.release()
	}
}

func (b *Block) base() *Block { return b }

func (b *Block) resetBase(intIDs bool) {
	b.N = 0
	b.Keys.reset(intIDs)
	b.object, b.rowsRead, b.noAmount = "", 0, false
	b.bytesRead, b.badBytes = 0, 0
	clear(b.bad)
	clear(b.excluded)
	clear(b.invalid)
	b.quar.reset()
}

func newBase() Block {
	return Block{bad: map[string]int64{}, excluded: map[string]int64{}, invalid: map[string]int64{}}
}

// OrderBlock holds accepted order rows.
type OrderBlock struct {
	Block
	Time   []int64   // µs since the epoch
	Day    []int32   // calendar day in the run's zone
	Amount []float64 // refunds are negative
	Refund []bool
	// Category and Channel are level codes (Levels "orders.category",
	// "orders.channel"), -1 when blank; nil when the column is not mapped.
	Category []int32
	Channel  []int32
	// Measure[k] are the rows' values of the table's own (numeric)
	// column k (Table.Own), 0 where blank or invalid.
	Measure [][]float64
	// Drop marks duplicates the coordinator found; the sink skips them.
	// Dropped counts them.
	Drop    []bool
	Dropped int
	// Parts lists, when the sink is a Partitioner, the rows of each of
	// its parts, ascending; nil otherwise.
	Parts [][]int32
	// Hint is the sink's, when it is a Hinter: what it noted of each row
	// on the reader's goroutine.
	Hint []int32

	// With line grain, row i's order is made of lines whose categories
	// and spends are LineCat and LineAmt[LineOff[i]:LineOff[i+1]]: the
	// order's category spend is shared out by line spend. Nil otherwise;
	// Category[i] is then the category of the order's largest line.
	LineOff []int32
	LineCat []int32
	LineAmt []float64

	orderID      []string // blank when the row has none; nil without the column
	oh           []hash128
	rh           []uint64 // the row's content, to tell duplicates from conflicts
	srcRow       []int64
	currency     map[string]bool // currencies of the accepted rows
	lastCur      string          // the last currency text noted
	guestRevenue float64
}

// MayDrop reports whether the coordinator may yet mark some of the
// block's rows as duplicates: whether they have order ids. Every row of a
// block without them reaches the sink.
func (b *OrderBlock) MayDrop() bool { return b.orderID != nil }

// CustomerBlock holds accepted customer rows (versions).
type CustomerBlock struct {
	Block
	Version []int64 // updated_at, µs, or NoTime
	Signup  []int64 // µs, or NoTime
	Birth   []int64 // birth date, µs, or NoTime
	Age     []float64
	Income  []float64 // NaN when unknown
	OptIn   []int8    // 1 yes, 0 no, -1 unknown
	// Attr[a] holds the level codes of Attrs[a] (Levels "customers.<name>"),
	// -1 when unknown; nil when the column is not mapped.
	Attr [NumAttrs][]int32
	// Row i's interests are Interest[InterestOff[i]:InterestOff[i+1]],
	// level codes of "customers.interests"; nil without the column.
	InterestOff []int32
	Interest    []int32
	// Which of the other attribute columns the rows' object has.
	HasBirth, HasAge, HasIncome, HasOptIn bool
	// Own[k] are the rows' values of the table's own attribute k
	// (Table.Own): level codes ("customers.<name>", -1 unknown) in
	// OwnCode[k] for a categorical one, numbers (NaN unknown) in
	// OwnNum[k] for a numeric one.
	OwnCode [][]int32
	OwnNum  [][]float64
}

// EventBlock holds accepted event rows.
type EventBlock struct {
	Block
	Time    []int64
	Day     []int32
	Type    []int32 // level codes of "events.event_type"
	Channel []int32 // "events.channel", -1 when blank; nil when not mapped
}

// keyReader reads customer ids into Keys, hashing a dictionary-encoded
// column's ids once per dictionary entry rather than once per row.
type keyReader struct {
	intIDs bool
	norm   IDNorm
	dict   []string
	ndict  []string // dict normalised
	dhash  []uint64
}

// ok reports whether row i has a customer id.
func (r *keyReader) ok(col *tables.Column, i int) bool {
	if col.IsNull(i) {
		return false
	}
	return col.Kind == tables.Int || strings.TrimSpace(col.Str[i]) != ""
}

// text is row i's text id, normalised.
func (r *keyReader) text(col *tables.Column, i int) string {
	if r.norm == (IDNorm{}) {
		return col.Str[i]
	}
	return r.norm.apply(col.Str[i])
}

func (r *keyReader) add(k *Keys, col *tables.Column, i int) error {
	switch {
	case r.intIDs && col.Kind == tables.Int:
		k.Int = append(k.Int, col.I[i])
	case r.intIDs:
		return fmt.Errorf("customer id column holds text in one input and integers in another")
	case col.Kind == tables.Int:
		s := strconv.FormatInt(col.I[i], 10)
		k.Str = append(k.Str, s)
		k.Hash = append(k.Hash, HashString(s, 0))
	case col.Codes != nil:
		if len(col.Dict) != len(r.dict) || (len(col.Dict) > 0 && &col.Dict[0] != &r.dict[0]) {
			r.dict = col.Dict
			r.dhash, r.ndict = r.dhash[:0], r.ndict[:0]
			for _, s := range col.Dict {
				if r.norm != (IDNorm{}) {
					s = r.norm.apply(s)
				}
				r.ndict = append(r.ndict, s)
				r.dhash = append(r.dhash, HashString(s, 0))
			}
		}
		c := col.Codes[i]
		k.Str = append(k.Str, r.ndict[c])
		k.Hash = append(k.Hash, r.dhash[c])
	default:
		s := r.text(col, i)
		k.Str = append(k.Str, s)
		k.Hash = append(k.Hash, HashString(s, 0))
	}
	return nil
}

// rowReader turns decoded batches of one table into blocks. Each worker
// has its own; they share the Levels.
type rowReader interface {
	read(b *tables.Batch, emit func(blockRef) error) error
}

// blockRef is one of *OrderBlock, *CustomerBlock, *EventBlock.
type blockRef interface{ base() *Block }

type readerEnv struct {
	cutoff int64
	intIDs bool
	clock  *Clock
	fields []tables.Field
	table  string
	pool   *blockPool
	sup    *Suppression // nil: none
	keep   *Keep        // nil: every customer
	view   *QuarantineView
	norm   IDNorm
}

// suppressed drops row i if its customer is not one this run keeps
// (uncounted), or, counting it, if its customer id col is on the
// suppression list. The readers ask first, before any rule that could
// quarantine the row.
func (e *readerEnv) suppressed(blk *Block, b *tables.Batch, col *tables.Column, i int) bool {
	if e.keep != nil && !e.keep.cell(col, i, e.norm) {
		blk.rowsRead-- // another part's row: this part never read it
		blk.bytesRead -= b.Bytes(i)
		return true
	}
	if !e.sup.cell(col, i, e.norm) {
		return false
	}
	blk.excluded[ExcludedSuppressed]++
	return true
}

// reject records row i of b as bad for reason, in the quarantine as the
// view shows it — unless its text mentions a suppressed id (a malformed
// row's, whose customer is unknown), in which case it is counted as
// suppressed and kept nowhere.
func (e *readerEnv) reject(blk *Block, b *tables.Batch, i int, reason string) {
	if e.sup != nil && e.sup.matchText(mentions(b, i)) {
		blk.excluded[ExcludedSuppressed]++
		return
	}
	blk.bad[reason]++
	blk.badBytes += b.Bytes(i)
	blk.quar.add(e.table, b.Key, b.FirstRow+int64(i), reason, e.view.id(strings.Clone(b.Cols[0].Text(i))), e.view.detail(b, e.table, e.fields, i))
}

// orderReader applies the order rules.
type orderReader struct {
	readerEnv
	keys          keyReader
	category, chn *levelReader
	part          Partitioner // nil: no parts
	hinter        Hinter      // nil: none
	parts         int
	rules         *Rules
	rr            rowRules
	carry         fillCarry
	fx            *fxRates // nil: amounts as they are
	// discount is mapped explicitly: a file's own "discount" column may
	// already be netted in its amounts, so it is not taken by its name.
	discount bool
	measures int // the table's own columns (Table.Own), after the logical ones
	// unfilled marks the rows of the batch that fillDown could not fill
	// (ReasonUnfilledLine); nil when none.
	unfilled []bool
}

// startUnit forgets the unit read before: a unit's rows are filled down
// from its own rows only, whichever worker read the unit before it.
func (r *orderReader) startUnit() { r.carry = fillCarry{} }

// partition lists the block's rows by part.
func (r *orderReader) partition(blk *OrderBlock) {
	if r.part == nil {
		blk.Parts = nil
		return
	}
	if len(blk.Parts) != r.parts {
		blk.Parts = make([][]int32, r.parts)
	}
	for p := range blk.Parts {
		blk.Parts[p] = blk.Parts[p][:0]
	}
	for i := range blk.N {
		p := r.part.Part(&blk.Keys, i)
		blk.Parts[p] = append(blk.Parts[p], int32(i))
	}
}

func (r *orderReader) get() *OrderBlock {
	blk := r.pool.Get().(*OrderBlock)
	if blk.Time == nil {
		// A new block: room for a full one, so appends never copy.
		blk.Time, blk.Day, blk.Amount = make([]int64, 0, BlockRows), make([]int32, 0, BlockRows), make([]float64, 0, BlockRows)
		blk.Refund, blk.Drop = make([]bool, 0, BlockRows), make([]bool, 0, BlockRows)
		if r.intIDs {
			blk.Int = make([]int64, 0, BlockRows)
		} else {
			blk.Str, blk.Hash = make([]string, 0, BlockRows), make([]uint64, 0, BlockRows)
		}
	}
	blk.resetBase(r.intIDs)
	blk.Time, blk.Day, blk.Amount, blk.Refund = blk.Time[:0], blk.Day[:0], blk.Amount[:0], blk.Refund[:0]
	blk.Category, blk.Channel, blk.Drop, blk.Dropped = blk.Category[:0], blk.Channel[:0], blk.Drop[:0], 0
	if r.measures > 0 && len(blk.Measure) != r.measures {
		blk.Measure = make([][]float64, r.measures)
	}
	for k := range blk.Measure {
		blk.Measure[k] = blk.Measure[k][:0]
	}
	blk.orderID, blk.oh, blk.srcRow, blk.rh = blk.orderID[:0], blk.oh[:0], blk.srcRow[:0], blk.rh[:0]
	blk.LineOff, blk.LineCat, blk.LineAmt = nil, nil, nil
	clear(blk.currency)
	blk.guestRevenue, blk.lastCur = 0, ""
	return blk
}

func (r *orderReader) read(b *tables.Batch, emit func(blockRef) error) error {
	if r.rules.Lines {
		r.fillDown(b)
	}
	if r.clean(b) {
		return r.readClean(b, emit)
	}
	unfilled := r.unfilled
	id, ts := &b.Cols[oCustomer], &b.Cols[oTime]
	amt, oid := &b.Cols[oAmount], &b.Cols[oOrderID]
	qty, price, refund := &b.Cols[oQuantity], &b.Cols[oUnitPrice], &b.Cols[oRefund]
	cat, chn, cur := &b.Cols[oCategory], &b.Cols[oChannel], &b.Cols[oCurrency]
	var disc *tables.Column
	if r.discount {
		disc = &b.Cols[oDiscount]
	}
	r.rules.eval(b, r.fields, disc, &r.rr)
	blk := r.get()
	blk.object, blk.rowsRead, blk.bytesRead = b.Key, int64(b.N), b.TotalBytes()
	noAmount := !amt.Present && !price.Present
	for i := 0; i < b.N; i++ {
		if r.suppressed(&blk.Block, b, id, i) {
			continue
		}
		if b.Malformed != nil && b.Malformed[i] != "" {
			r.reject(&blk.Block, b, i, ReasonMalformedRow)
			continue
		}
		if unfilled != nil && unfilled[i] {
			r.reject(&blk.Block, b, i, ReasonUnfilledLine)
			continue
		}
		if k := r.rr.excluded(i); k >= 0 {
			blk.excluded[ExcludedRule(r.rules.Exclude[k].Name)]++
			continue
		}
		isRefund := (!refund.IsNull(i) && refund.B[i]) || r.rr.isReturn(i)
		if !r.rules.GuestsBad && !r.keys.ok(id, i) {
			// A guest order: valid, but nobody's. Its revenue is
			// the guest share.
			if !ts.IsNull(i) && ts.I[i] >= r.cutoff {
				blk.excluded[ExcludedAfterAsOf]++
				continue
			}
			blk.excluded[ExcludedGuest]++
			if a, reason := orderAmount(amt, qty, price, disc, i); reason == "" && !ts.IsNull(i) {
				if isRefund {
					a = -math.Abs(a)
				}
				if a >= 0 || isRefund {
					if rate, ok := r.fx.rate(cur, i, r.clock.Day(ts.I[i])); ok {
						blk.guestRevenue += a * rate
					}
				}
			}
			continue
		}
		reason := stampedRowProblem(b, &r.keys, id, ts, i)
		var amount float64
		if reason == "" && !noAmount {
			amount, reason = orderAmount(amt, qty, price, disc, i)
		}
		if reason == "" && amount < 0 && !isRefund {
			reason = ReasonNegativeAmount
		}
		var rate float64 = 1
		if reason == "" && ts.I[i] < r.cutoff {
			var ok bool
			if rate, ok = r.fx.rate(cur, i, r.clock.Day(ts.I[i])); !ok {
				reason = ReasonMissingFXRate
				r.currencies(blk, cur, i) // a currency the rates may not know at all
			}
		}
		if reason != "" {
			r.reject(&blk.Block, b, i, reason)
			continue
		}
		if ts.I[i] >= r.cutoff {
			blk.excluded[ExcludedAfterAsOf]++
			continue
		}
		if isRefund {
			amount = -math.Abs(amount)
		}
		amount *= rate
		// Without amounts every order is 0: a purchase, not a zero_amount.
		if amount == 0 && !noAmount && !r.rules.Lines && !r.rules.ZeroPurchases {
			blk.excluded[ExcludedZeroAmount]++
			continue
		}
		r.currencies(blk, cur, i)
		if err := r.keys.add(&blk.Keys, id, i); err != nil {
			return fmt.Errorf("%s row %d: %w", b.Key, b.FirstRow+int64(i), err)
		}
		blk.Time = append(blk.Time, ts.I[i])
		blk.Day = append(blk.Day, r.clock.Day(ts.I[i]))
		blk.Amount = append(blk.Amount, amount)
		blk.Refund = append(blk.Refund, isRefund)
		blk.Drop = append(blk.Drop, false)
		var cc, ch int32 = -1, -1
		if cat.Present {
			cc = r.category.row(cat, i)
			blk.Category = append(blk.Category, cc)
		}
		if chn.Present {
			ch = r.chn.row(chn, i)
			blk.Channel = append(blk.Channel, ch)
		}
		for k := range r.measures {
			col := &b.Cols[oOwn+k]
			v := 0.0
			switch {
			case col.IsBad(i) || (!col.IsNull(i) && (math.IsNaN(col.F[i]) || math.IsInf(col.F[i], 0))):
				blk.invalid[r.fields[oOwn+k].Name]++
			case !col.IsNull(i):
				v = col.F[i]
			}
			blk.Measure[k] = append(blk.Measure[k], v)
		}
		if oid.Present {
			s := ""
			if !oid.IsNull(i) && strings.TrimSpace(oid.Str[i]) != "" {
				s = oid.Str[i]
			}
			blk.orderID = append(blk.orderID, s)
			blk.oh = append(blk.oh, orderHash(s))
			blk.srcRow = append(blk.srcRow, b.FirstRow+int64(i))
			blk.rh = append(blk.rh, rowHash(s, blk.HashOf(blk.N), ts.I[i], amount, isRefund, cc, ch, lineHash(b, i)))
		}
		blk.N++
		if blk.N == BlockRows {
			blk.noAmount = noAmount
			r.finish(blk, b)
			if err := emit(blk); err != nil {
				return err
			}
			blk = r.get()
			blk.object = b.Key
		}
	}
	blk.noAmount = noAmount
	r.finish(blk, b)
	return emit(blk)
}

// lineHash hashes what, beyond the order's own fields, tells two rows
// of an order apart: the product, quantity, unit price, discount and
// status as read. It allocates nothing.
func lineHash(b *tables.Batch, i int) uint64 {
	h := uint64(k3)
	for _, f := range [...]int{oProduct, oQuantity, oUnitPrice, oDiscount, oStatus} {
		c := &b.Cols[f]
		var v uint64
		switch {
		case !c.Present:
			continue
		case c.IsNull(i):
			v = 1
		case c.Kind == tables.Float:
			v = math.Float64bits(c.F[i])
		case c.Kind == tables.String:
			v = HashString(c.Str[i], k1)
		}
		h = mum(h^v, k0+uint64(f))
	}
	return h
}

// currencies notes the currency of an accepted row, for the check that
// a run without rates sums one currency only.
func (r *orderReader) currencies(blk *OrderBlock, cur *tables.Column, i int) {
	if !cur.Present || cur.IsNull(i) {
		return
	}
	if cur.Str[i] == blk.lastCur {
		return // the common case: one currency, row after row
	}
	c := strings.TrimSpace(cur.Str[i])
	if c == "" {
		return
	}
	blk.lastCur = cur.Str[i]
	if blk.currency == nil {
		blk.currency = map[string]bool{}
	}
	if !blk.currency[c] {
		blk.currency[strings.Clone(c)] = true
	}
}

// fillDown gives a line the order-level fields its export left blank
// because an earlier line of the same order, the row before it, has
// them (Shopify writes them on an order's first line only). It carries
// from one batch to the next of the same unit (startUnit), not across
// units: those are read in parallel, and what a unit's first line got
// would depend on which worker read the unit before. The lines that
// start a unit with neither a customer_id nor an order_ts are marked in
// r.unfilled, to be quarantined rather than taken for guest orders.
func (r *orderReader) fillDown(b *tables.Batch) {
	r.unfilled = nil
	oid := &b.Cols[oOrderID]
	if !oid.Present {
		return
	}
	c := &r.carry
	cont := c.key == b.Key && c.next == b.FirstRow && b.FirstRow > 0
	if !cont {
		r.markUnfilled(b)
	}
	for i := range b.N {
		o := ""
		if !oid.IsNull(i) {
			o = oid.Str[i]
		}
		same := o != "" && ((i == 0 && cont && o == c.oid) || (i > 0 && !oid.IsNull(i-1) && oid.Str[i-1] == o))
		if same {
			for k, f := range orderLevel {
				col := &b.Cols[f]
				if !col.Present || !blankCell(col, i) || col.IsBad(i) {
					continue
				}
				if i > 0 {
					copyCell(col, i, col, i-1)
				} else if c.has[k] {
					setCell(col, i, c.str[k], c.num[k])
				}
			}
		}
	}
	// What the next batch of the object continues from.
	n := b.N - 1
	if n < 0 {
		return
	}
	c.key, c.next = b.Key, b.FirstRow+int64(b.N)
	c.oid = ""
	if !oid.IsNull(n) {
		c.oid = strings.Clone(oid.Str[n])
	}
	for k, f := range orderLevel {
		col := &b.Cols[f]
		c.has[k] = col.Present && !blankCell(col, n)
		if c.has[k] {
			switch col.Kind {
			case tables.Int, tables.Time:
				c.num[k] = col.I[n]
			default:
				c.str[k] = strings.Clone(col.Str[n])
			}
		}
	}
}

// markUnfilled marks the lines that open a unit with its first row's
// order id and neither a customer_id nor an order_ts: a line cannot be
// an order without a time, so its order's first line, with those
// fields, is in an earlier unit.
func (r *orderReader) markUnfilled(b *tables.Batch) {
	oid, id, ts := &b.Cols[oOrderID], &b.Cols[oCustomer], &b.Cols[oTime]
	if b.N == 0 || blankCell(oid, 0) || !ts.Present || !blankCell(id, 0) || !blankCell(ts, 0) {
		return // the unit opens with an order's first line, or a line of its own
	}
	o := oid.Str[0]
	for i := 0; i < b.N && !oid.IsNull(i) && oid.Str[i] == o; i++ {
		if blankCell(id, i) && blankCell(ts, i) && !ts.IsBad(i) && !id.IsBad(i) {
			if r.unfilled == nil {
				r.unfilled = make([]bool, b.N)
			}
			r.unfilled[i] = true
		}
	}
}

// fillCarry is the last row of the batch before, for fillDown.
type fillCarry struct {
	key  string
	next int64
	oid  string
	has  [len(orderLevel)]bool
	str  [len(orderLevel)]string
	num  [len(orderLevel)]int64
}

func blankCell(c *tables.Column, i int) bool {
	if c.IsNull(i) {
		return true
	}
	return (c.Kind == tables.String || c.Kind == tables.Key) && strings.TrimSpace(c.Str[i]) == ""
}

func copyCell(c *tables.Column, i int, from *tables.Column, j int) {
	if from.IsNull(j) {
		return
	}
	switch c.Kind {
	case tables.Int, tables.Time:
		c.I[i] = from.I[j]
	default:
		c.Str[i] = from.Str[j]
		if c.Codes != nil {
			c.Codes[i] = from.Codes[j]
		}
	}
	if c.Null != nil {
		c.Null[i] = false
	}
}

func setCell(c *tables.Column, i int, s string, v int64) {
	switch c.Kind {
	case tables.Int, tables.Time:
		c.I[i] = v
	default:
		c.Str[i] = s
		c.Codes, c.Dict = nil, nil // the value may not be in this batch's dictionary
	}
	if c.Null != nil {
		c.Null[i] = false
	}
}

// finish marks the columns the input does not have as nil, and lists the
// rows by part.
func (r *orderReader) finish(blk *OrderBlock, b *tables.Batch) {
	if !b.Cols[oCategory].Present {
		blk.Category = nil
	}
	if !b.Cols[oChannel].Present {
		blk.Channel = nil
	}
	if !b.Cols[oOrderID].Present {
		blk.orderID, blk.oh, blk.srcRow, blk.rh = nil, nil, nil, nil
	}
	r.partition(blk)
	if r.hinter != nil {
		r.hinter.HintOrders(blk)
	}
}

// clean reports whether a batch can take the fast path: integer ids,
// timestamps and amounts with no null or bad cell, in UTC, and no order
// ids (whose duplicates need the general path).
func (r *orderReader) clean(b *tables.Batch) bool {
	c := b.Cols
	return r.intIDs && r.clock.utc && b.Malformed == nil &&
		c[oCustomer].Kind == tables.Int && c[oCustomer].Null == nil &&
		c[oTime].Null == nil && c[oAmount].Present && c[oAmount].Null == nil &&
		(!c[oRefund].Present || c[oRefund].Null == nil) && !c[oOrderID].Present &&
		!c[oDiscount].Present && !c[oCurrency].Present && r.rules.plain() && r.measures == 0
}

// readClean is read for a clean batch: the same rules, with only the
// checks a clean batch can fail.
func (r *orderReader) readClean(b *tables.Batch, emit func(blockRef) error) error {
	ids, ts, amt := b.Cols[oCustomer].I, b.Cols[oTime].I, b.Cols[oAmount].F
	var refund []bool
	if b.Cols[oRefund].Present {
		refund = b.Cols[oRefund].B
	}
	// Categories and channels are level codes, as on the general path.
	cat, chn := &b.Cols[oCategory], &b.Cols[oChannel]
	get := func() *OrderBlock {
		blk := r.get()
		if cat.Present && cap(blk.Category) < BlockRows {
			blk.Category = make([]int32, 0, BlockRows)
		}
		if chn.Present && cap(blk.Channel) < BlockRows {
			blk.Channel = make([]int32, 0, BlockRows)
		}
		return blk
	}
	blk := get()
	blk.object, blk.rowsRead, blk.bytesRead = b.Key, int64(b.N), b.TotalBytes()
	for lo := 0; lo < b.N; {
		hi := min(b.N, lo+BlockRows-blk.N)
		// Rows are written in place, not appended: the block has room for
		// BlockRows, and six appends a row cost more than the checks.
		n := blk.N
		bi, bt, bd := blk.Int[:n+hi-lo], blk.Time[:n+hi-lo], blk.Day[:n+hi-lo]
		ba, br, bx := blk.Amount[:n+hi-lo], blk.Refund[:n+hi-lo], blk.Drop[:n+hi-lo]
		var bc, bh []int32
		if cat.Present {
			bc = blk.Category[:n+hi-lo]
		}
		if chn.Present {
			bh = blk.Channel[:n+hi-lo]
		}
		// The category's codes by dictionary index, once the first row has
		// mapped the batch's dictionary: the other rows then index it
		// instead of calling row (issue 26: a long tail's column is
		// dictionary-encoded, and the call was most of its reading cost).
		var dc []int32
		for i := lo; i < hi; i++ {
			if r.keep != nil && !r.keep.Int(ids[i]) {
				blk.rowsRead--
				continue
			}
			if r.sup != nil && r.sup.HasInt(ids[i]) {
				blk.excluded[ExcludedSuppressed]++
				continue
			}
			a, t := amt[i], ts[i]
			isRefund := refund != nil && refund[i]
			if !(math.Abs(a) <= MaxAmount) || (a < 0 && !isRefund) {
				// A bad amount: the general path says which and why.
				_, reason := orderAmount(&b.Cols[oAmount], nil, nil, nil, i)
				if reason == "" {
					reason = ReasonNegativeAmount
				}
				r.reject(&blk.Block, b, i, reason)
				continue
			}
			if t >= r.cutoff {
				blk.excluded[ExcludedAfterAsOf]++
				continue
			}
			if a == 0 && !r.rules.ZeroPurchases {
				blk.excluded[ExcludedZeroAmount]++
				continue
			}
			if isRefund {
				a = -math.Abs(a)
			}
			bi[n], bt[n], bd[n] = ids[i], t, int32(floorDiv(t, dayMicros))
			ba[n], br[n], bx[n] = a, isRefund, false
			if dc != nil {
				bc[n] = dc[cat.Codes[i]] // row's lookup, without the call
			} else if bc != nil {
				bc[n] = r.category.row(cat, i)
				dc = r.category.dictCodes(cat)
			}
			if bh != nil {
				bh[n] = r.chn.row(chn, i)
			}
			n++
		}
		blk.Int, blk.Time, blk.Day = bi[:n], bt[:n], bd[:n]
		blk.Amount, blk.Refund, blk.Drop = ba[:n], br[:n], bx[:n]
		if bc != nil {
			blk.Category = bc[:n]
		}
		if bh != nil {
			blk.Channel = bh[:n]
		}
		blk.N = len(blk.Time)
		lo = hi
		if blk.N == BlockRows {
			r.finish(blk, b)
			if err := emit(blk); err != nil {
				return err
			}
			blk = get()
			blk.object = b.Key
		}
	}
	r.finish(blk, b)
	return emit(blk)
}

// orderAmount is the row's amount, either its own column or quantity ×
// unit price, or the reason it has none. NaN is missing: pandas and the
// writers built on it store a missing number as NaN.
func orderAmount(amt, qty, price, disc *tables.Column, i int) (float64, string) {
	a, reason := grossAmount(amt, qty, price, i)
	if reason != "" || disc == nil || !disc.Present || disc.IsNull(i) {
		if reason == "" && disc != nil && disc.IsBad(i) {
			return 0, ReasonBadAmount
		}
		return a, reason
	}
	if math.IsNaN(disc.F[i]) {
		return a, ""
	}
	a -= disc.F[i]
	if math.IsNaN(a) || math.Abs(a) > MaxAmount {
		return 0, ReasonAmountOutOfRange
	}
	return a, ""
}

// grossAmount is orderAmount before a discount.
func grossAmount(amt, qty, price *tables.Column, i int) (float64, string) {
	if amt.Present {
		switch {
		case amt.IsBad(i):
			return 0, ReasonBadAmount
		case amt.IsNull(i) || math.IsNaN(amt.F[i]):
			return 0, ReasonMissingAmount
		case math.Abs(amt.F[i]) > MaxAmount:
			return 0, ReasonAmountOutOfRange
		}
		return amt.F[i], ""
	}
	if qty.IsBad(i) || price.IsBad(i) {
		return 0, ReasonBadAmount
	}
	if qty.IsNull(i) || price.IsNull(i) || math.IsNaN(qty.F[i]) || math.IsNaN(price.F[i]) {
		return 0, ReasonMissingAmount
	}
	a := qty.F[i] * price.F[i]
	if math.IsNaN(a) { // 0 × ∞
		return 0, ReasonBadAmount
	}
	if math.Abs(a) > MaxAmount {
		return 0, ReasonAmountOutOfRange
	}
	return a, ""
}

// dupDetail renders a duplicate order from its block, the batch it came
// from being gone by the time duplicates are found, with its customer id
// shown as id.
func (blk *OrderBlock) dupDetail(i int, id string) string {
	return fmt.Sprintf("customer_id=%q order_id=%q order_ts=%q amount=%q is_refund=%q",
		id, blk.orderID[i], time.UnixMicro(blk.Time[i]).UTC().Format(time.RFC3339Nano),
		strconv.FormatFloat(blk.Amount[i], 'g', -1, 64), strconv.FormatBool(blk.Refund[i]))
}

// customerReader applies the customer rules.
type customerReader struct {
	readerEnv
	keys     keyReader
	attr     [NumAttrs]*levelReader
	interest *levelReader
	own      []*levelReader // by own attribute; nil for a numeric one
}

func (r *customerReader) get() *CustomerBlock {
	blk := r.pool.Get().(*CustomerBlock)
	blk.resetBase(r.intIDs)
	blk.Version, blk.Signup, blk.Birth = blk.Version[:0], blk.Signup[:0], blk.Birth[:0]
	blk.Age, blk.Income, blk.OptIn = blk.Age[:0], blk.Income[:0], blk.OptIn[:0]
	for a := range blk.Attr {
		blk.Attr[a] = blk.Attr[a][:0]
	}
	blk.InterestOff, blk.Interest = append(blk.InterestOff[:0], 0), blk.Interest[:0]
	if len(r.own) > 0 && len(blk.OwnCode) != len(r.own) {
		blk.OwnCode, blk.OwnNum = make([][]int32, len(r.own)), make([][]float64, len(r.own))
	}
	for k := range blk.OwnCode {
		blk.OwnCode[k], blk.OwnNum[k] = blk.OwnCode[k][:0], blk.OwnNum[k][:0]
	}
	return blk
}

func (r *customerReader) read(b *tables.Batch, emit func(blockRef) error) error {
	id, signup, updated := &b.Cols[cCustomer], &b.Cols[cSignup], &b.Cols[cUpdated]
	birth, age, income := &b.Cols[cBirth], &b.Cols[cAge], &b.Cols[cIncome]
	interests, optIn := &b.Cols[cInterests], &b.Cols[cOptIn]
	blk := r.get()
	blk.object, blk.rowsRead, blk.bytesRead = b.Key, int64(b.N), b.TotalBytes()
	for i := 0; i < b.N; i++ {
		if r.suppressed(&blk.Block, b, id, i) {
			continue
		}
		switch {
		case b.Malformed != nil && b.Malformed[i] != "":
			r.reject(&blk.Block, b, i, ReasonMalformedRow)
			continue
		case !r.keys.ok(id, i):
			r.reject(&blk.Block, b, i, ReasonMissingCustomerID)
			continue
		case signup.IsBad(i) || updated.IsBad(i):
			r.reject(&blk.Block, b, i, ReasonBadTimestamp)
			continue
		}
		if !signup.IsNull(i) && signup.I[i] >= r.cutoff {
			blk.excluded[ExcludedSignupAfterAsOf]++
			continue
		}
		if !updated.IsNull(i) && updated.I[i] >= r.cutoff {
			blk.excluded[ExcludedVersionAfter]++
			continue
		}
		if err := r.keys.add(&blk.Keys, id, i); err != nil {
			return fmt.Errorf("%s row %d: %w", b.Key, b.FirstRow+int64(i), err)
		}
		blk.Version = append(blk.Version, timeOr(updated, i))
		blk.Signup = append(blk.Signup, timeOr(signup, i))

		bd := int64(NoTime)
		switch {
		case birth.IsBad(i):
			blk.invalid["birth_date"]++
		case !birth.IsNull(i) && birth.I[i] >= r.cutoff:
			blk.invalid["birth_date"]++ // born after the as-of date
		case !birth.IsNull(i):
			bd = birth.I[i]
		}
		blk.Birth = append(blk.Birth, bd)

		a := math.NaN()
		switch {
		case age.IsBad(i) || (!age.IsNull(i) && !(age.F[i] >= 0 && age.F[i] < 150)):
			blk.invalid["age"]++
		case !age.IsNull(i):
			a = age.F[i]
		}
		blk.Age = append(blk.Age, a)

		inc := math.NaN()
		switch {
		case income.IsBad(i) || (!income.IsNull(i) && !(income.F[i] >= 0 && !math.IsInf(income.F[i], 0))):
			blk.invalid["income"]++
		case !income.IsNull(i):
			inc = income.F[i]
		}
		blk.Income = append(blk.Income, inc)

		o := int8(-1)
		switch {
		case optIn.IsBad(i):
			blk.invalid["email_opt_in"]++
		case !optIn.IsNull(i) && optIn.B[i]:
			o = 1
		case !optIn.IsNull(i):
			o = 0
		}
		blk.OptIn = append(blk.OptIn, o)

		for a := range blk.Attr {
			if col := &b.Cols[cAttr0+a]; col.Present {
				blk.Attr[a] = append(blk.Attr[a], r.attr[a].row(col, i))
			}
		}
		for k, l := range r.own {
			col := &b.Cols[cAttr0+NumAttrs+k]
			switch {
			case l != nil:
				blk.OwnCode[k] = append(blk.OwnCode[k], l.row(col, i))
			case col.IsBad(i) || (!col.IsNull(i) && (math.IsNaN(col.F[i]) || math.IsInf(col.F[i], 0))):
				blk.invalid[r.fields[cAttr0+NumAttrs+k].Name]++
				blk.OwnNum[k] = append(blk.OwnNum[k], math.NaN())
			case col.IsNull(i):
				blk.OwnNum[k] = append(blk.OwnNum[k], math.NaN())
			default:
				blk.OwnNum[k] = append(blk.OwnNum[k], col.F[i])
			}
		}
		if interests.Present && !interests.IsNull(i) {
			for _, s := range interests.L[i] {
				if c := r.interest.codeOf(s); c >= 0 {
					blk.Interest = append(blk.Interest, c)
				}
			}
		}
		blk.InterestOff = append(blk.InterestOff, int32(len(blk.Interest)))
		blk.N++
		if blk.N == BlockRows {
			r.finish(blk, b)
			if err := emit(blk); err != nil {
				return err
			}
			blk = r.get()
			blk.object = b.Key
		}
	}
	r.finish(blk, b)
	return emit(blk)
}

func (r *customerReader) finish(blk *CustomerBlock, b *tables.Batch) {
	for a := range blk.Attr {
		if !b.Cols[cAttr0+a].Present {
			blk.Attr[a] = nil
		}
	}
	if !b.Cols[cInterests].Present {
		blk.InterestOff, blk.Interest = nil, nil
	}
	blk.HasBirth, blk.HasAge = b.Cols[cBirth].Present, b.Cols[cAge].Present
	blk.HasIncome, blk.HasOptIn = b.Cols[cIncome].Present, b.Cols[cOptIn].Present
}

func timeOr(c *tables.Column, i int) int64 {
	if c.IsNull(i) {
		return NoTime
	}
	return c.I[i]
}

// eventReader applies the event rules.
type eventReader struct {
	readerEnv
	keys     keyReader
	typ, chn *levelReader
}

func (r *eventReader) get() *EventBlock {
	blk := r.pool.Get().(*EventBlock)
	blk.resetBase(r.intIDs)
	blk.Time, blk.Day, blk.Type, blk.Channel = blk.Time[:0], blk.Day[:0], blk.Type[:0], blk.Channel[:0]
	return blk
}

// stampedRowProblem is why row i of a table whose rows need a customer id
// and a timestamp (orders, events) must be quarantined, before anything
// table-specific is checked; "" when it has both.
func stampedRowProblem(b *tables.Batch, keys *keyReader, id, ts *tables.Column, i int) string {
	switch {
	case b.Malformed != nil && b.Malformed[i] != "":
		return ReasonMalformedRow
	case !keys.ok(id, i):
		return ReasonMissingCustomerID
	case ts.IsBad(i):
		return ReasonBadTimestamp
	case ts.IsNull(i):
		return ReasonMissingTimestamp
	}
	return ""
}

func (r *eventReader) read(b *tables.Batch, emit func(blockRef) error) error {
	id, ts, typ, chn := &b.Cols[eCustomer], &b.Cols[eTime], &b.Cols[eType], &b.Cols[eChannel]
	blk := r.get()
	blk.object, blk.rowsRead, blk.bytesRead = b.Key, int64(b.N), b.TotalBytes()
	for i := 0; i < b.N; i++ {
		if r.suppressed(&blk.Block, b, id, i) {
			continue
		}
		reason := stampedRowProblem(b, &r.keys, id, ts, i)
		var code int32
		if reason == "" {
			if code = r.typ.row(typ, i); code < 0 {
				reason = ReasonMissingEventType
			}
		}
		if reason != "" {
			r.reject(&blk.Block, b, i, reason)
			continue
		}
		if ts.I[i] >= r.cutoff {
			blk.excluded[ExcludedAfterAsOf]++
			continue
		}
		if err := r.keys.add(&blk.Keys, id, i); err != nil {
			return fmt.Errorf("%s row %d: %w", b.Key, b.FirstRow+int64(i), err)
		}
		blk.Time = append(blk.Time, ts.I[i])
		blk.Day = append(blk.Day, r.clock.Day(ts.I[i]))
		blk.Type = append(blk.Type, code)
		if chn.Present {
			blk.Channel = append(blk.Channel, r.chn.row(chn, i))
		}
		blk.N++
		if blk.N == BlockRows {
			if !chn.Present {
				blk.Channel = nil
			}
			if err := emit(blk); err != nil {
				return err
			}
			blk = r.get()
			blk.object = b.Key
		}
	}
	if !chn.Present {
		blk.Channel = nil
	}
	return emit(blk)
}
