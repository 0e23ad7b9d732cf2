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
	bad      map[string]int64
	excluded map[string]int64
	invalid  map[string]int64
	quar     Quarantine
	release  func()
	noAmount bool // an order block read from a table without amounts
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

	orderID []string // blank when the row has none; nil without the column
	oh      []hash128
	srcRow  []int64
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
	dict   []string
	dhash  []uint64
}

// ok reports whether row i has a customer id.
func (r *keyReader) ok(col *tables.Column, i int) bool {
	if col.IsNull(i) {
		return false
	}
	return col.Kind == tables.Int || strings.TrimSpace(col.Str[i]) != ""
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
			r.dhash = r.dhash[:0]
			for _, s := range col.Dict {
				r.dhash = append(r.dhash, HashString(s, 0))
			}
		}
		c := col.Codes[i]
		k.Str = append(k.Str, col.Dict[c])
		k.Hash = append(k.Hash, r.dhash[c])
	default:
		k.Str = append(k.Str, col.Str[i])
		k.Hash = append(k.Hash, HashString(col.Str[i], 0))
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
}

// suppressed drops row i if its customer is not one this run keeps
// (uncounted), or, counting it, if its customer id col is on the
// suppression list. The readers ask first, before any rule that could
// quarantine the row.
func (e *readerEnv) suppressed(blk *Block, col *tables.Column, i int) bool {
	if e.keep != nil && !e.keep.cell(col, i) {
		blk.rowsRead-- // another part's row: this part never read it
		return true
	}
	if !e.sup.cell(col, i) {
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
	blk.quar.add(e.table, b.Key, b.FirstRow+int64(i), reason, e.view.id(strings.Clone(b.Cols[0].Text(i))), e.view.detail(b, e.fields, i))
}

// orderReader applies the order rules.
type orderReader struct {
	readerEnv
	keys          keyReader
	category, chn *levelReader
	part          Partitioner // nil: no parts
	hinter        Hinter      // nil: none
	parts         int
	measures      int // the table's own columns (Table.Own), after the logical ones
}

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
	blk.orderID, blk.oh, blk.srcRow = blk.orderID[:0], blk.oh[:0], blk.srcRow[:0]
	return blk
}

func (r *orderReader) read(b *tables.Batch, emit func(blockRef) error) error {
	if r.clean(b) {
		return r.readClean(b, emit)
	}
	id, ts := &b.Cols[oCustomer], &b.Cols[oTime]
	amt, oid := &b.Cols[oAmount], &b.Cols[oOrderID]
	qty, price, refund := &b.Cols[oQuantity], &b.Cols[oUnitPrice], &b.Cols[oRefund]
	cat, chn := &b.Cols[oCategory], &b.Cols[oChannel]
	blk := r.get()
	blk.object, blk.rowsRead = b.Key, int64(b.N)
	noAmount := !amt.Present && !price.Present
	for i := 0; i < b.N; i++ {
		if r.suppressed(&blk.Block, id, i) {
			continue
		}
		reason := stampedRowProblem(b, &r.keys, id, ts, i)
		var amount float64
		isRefund := !refund.IsNull(i) && refund.B[i]
		if reason == "" && !noAmount {
			amount, reason = orderAmount(amt, qty, price, i)
		}
		if reason == "" && amount < 0 && !isRefund {
			reason = ReasonNegativeAmount
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
		if err := r.keys.add(&blk.Keys, id, i); err != nil {
			return fmt.Errorf("%s row %d: %w", b.Key, b.FirstRow+int64(i), err)
		}
		blk.Time = append(blk.Time, ts.I[i])
		blk.Day = append(blk.Day, r.clock.Day(ts.I[i]))
		blk.Amount = append(blk.Amount, amount)
		blk.Refund = append(blk.Refund, isRefund)
		blk.Drop = append(blk.Drop, false)
		if cat.Present {
			blk.Category = append(blk.Category, r.category.row(cat, i))
		}
		if chn.Present {
			blk.Channel = append(blk.Channel, r.chn.row(chn, i))
		}
		for k := range r.measures {
			col := &b.Cols[oChannel+1+k]
			v := 0.0
			switch {
			case col.IsBad(i) || (!col.IsNull(i) && (math.IsNaN(col.F[i]) || math.IsInf(col.F[i], 0))):
				blk.invalid[r.fields[oChannel+1+k].Name]++
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
		blk.orderID, blk.oh, blk.srcRow = nil, nil, nil
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
		(!c[oRefund].Present || c[oRefund].Null == nil) && !c[oOrderID].Present && r.measures == 0
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
	blk.object, blk.rowsRead = b.Key, int64(b.N)
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
				_, reason := orderAmount(&b.Cols[oAmount], nil, nil, i)
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
			if isRefund {
				a = -math.Abs(a)
			}
			bi[n], bt[n], bd[n] = ids[i], t, int32(floorDiv(t, dayMicros))
			ba[n], br[n], bx[n] = a, isRefund, false
			if bc != nil {
				bc[n] = r.category.row(cat, i)
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
func orderAmount(amt, qty, price *tables.Column, i int) (float64, string) {
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
	blk.object, blk.rowsRead = b.Key, int64(b.N)
	for i := 0; i < b.N; i++ {
		if r.suppressed(&blk.Block, id, i) {
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
	blk.object, blk.rowsRead = b.Key, int64(b.N)
	for i := 0; i < b.N; i++ {
		if r.suppressed(&blk.Block, id, i) {
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
