package extract

import (
	"math"
	"strconv"
	"strings"

	"github.com/strata-oss/strata/pipeline/audience"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Reasons for the rules of real exports (see Rules).
const (
	// ReasonConflictingOrder: with order grain, a row whose order_id an
	// earlier, different row has. Quarantined and counted toward the
	// gate: an export of order lines read as orders loses revenue.
	ReasonConflictingOrder = "conflicting_order_id"
	// ReasonScatteredLines: with line grain, a line of an order whose
	// lines were already closed: the customer had another order in
	// between, or the order id belongs to another customer.
	ReasonScatteredLines = "scattered_order_lines"
	// ReasonMissingFXRate: an order in a currency with no rate on or
	// before its day.
	ReasonMissingFXRate = "missing_fx_rate"
	// ReasonUnfilledLine: with line grain, a line at the start of a
	// Parquet row group or of an object, without the customer_id and
	// order_ts an earlier line of its order would give it: that line
	// is in another unit, which another worker reads, so filling down
	// across the boundary would depend on the workers' timing.
	ReasonUnfilledLine = "unfilled_order_line"

	ExcludedGuest      = "guest_order" // no customer id (Rules.GuestsBad off)
	ExcludedZeroAmount = "zero_amount" // an order (or return) of nothing
	excludedRulePrefix = "rule:"       // then the exclude rule's name
)

// ExcludedRule is the Quality.Excluded reason of rows an exclude rule
// named name took out.
func ExcludedRule(name string) string { return excludedRulePrefix + name }

// Rules are how rows of a real shop export are read.
type Rules struct {
	// Lines says rows are order lines: the rows sharing an order_id make
	// up one order (see lines.go). Otherwise a row is an order, and rows
	// sharing an order_id but differing are conflicting_order_id.
	Lines bool
	// Returns selects return and cancellation rows.
	Returns *audience.Filter
	// Exclude selects non-product rows (postage, fees), by rule name.
	Exclude []NamedFilter
	// GuestsBad quarantines rows without a customer id as
	// missing_customer_id instead of excluding them as guest_order.
	GuestsBad bool
	// IDs normalises customer ids.
	IDs IDNorm
	// ZeroPurchases keeps orders of amount 0 as purchases; otherwise they
	// are excluded as zero_amount.
	ZeroPurchases bool
}

// NamedFilter is an exclude rule.
type NamedFilter struct {
	Name   string
	Filter *audience.Filter
}

// IDNorm says how text customer ids are normalised, in every table.
type IDNorm struct {
	// Trim removes surrounding whitespace.
	Trim bool
	// IntegerFloats writes an integral number written with a fraction or
	// an exponent ("12346.0", "1.2346e+04") as the integer ("12346").
	IntegerFloats bool
}

// DefaultIDs are the normalisations a configuration gets by default.
var DefaultIDs = IDNorm{Trim: true, IntegerFloats: true}

// maxExactInt is 2^53: integers beyond it are not all representable as
// float64, so an id read as one may already have been rounded.
const maxExactInt = 1 << 53

// apply normalises id s.
func (n IDNorm) apply(s string) string {
	if n.Trim {
		s = strings.TrimSpace(s)
	}
	if n.IntegerFloats && strings.ContainsAny(s, ".eE") {
		if v, err := strconv.ParseFloat(s, 64); err == nil && v == math.Trunc(v) && math.Abs(v) < maxExactInt {
			return strconv.FormatInt(int64(v), 10)
		}
	}
	return s
}

// Normalize is the id as a run with these settings reads it.
func (n IDNorm) Normalize(s string) string { return n.apply(s) }

// RuleSchema is what row rules over an orders table mapped with cols may
// name: the mapped logical columns, and amount (computed from quantity ×
// unit_price − discount when it is not mapped itself).
func RuleSchema(cols map[string]string) audience.Schema {
	s := audience.Schema{"amount": audience.Number}
	for c := range cols {
		switch c {
		case "amount", "quantity", "unit_price", "discount":
			s[c] = audience.Number
		case "is_refund":
			s[c] = audience.Bool
		case "order_ts":
			// Timestamps have no literal in the language.
		default:
			s[c] = audience.String
		}
	}
	return s
}

// ruleTable presents a batch of order rows to the rules by logical name.
type ruleTable struct {
	b      *tables.Batch
	fields []tables.Field
	amount []float64
	amtNul []bool
	strs   map[string][]string
}

func (t *ruleTable) col(name string) *tables.Column {
	for i, f := range t.fields {
		if f.Name == name && t.b.Cols[i].Present {
			return &t.b.Cols[i]
		}
	}
	return nil
}

func (t *ruleTable) Len() int { return t.b.N }

func (t *ruleTable) Numbers(name string) ([]float64, []bool) {
	if name == "amount" {
		return t.amount, t.amtNul
	}
	c := t.col(name)
	if c == nil {
		return make([]float64, t.b.N), allNull(t.b.N)
	}
	return c.F, c.Null
}

func (t *ruleTable) Strings(name string) ([]string, []bool) {
	c := t.col(name)
	if c == nil {
		return make([]string, t.b.N), allNull(t.b.N)
	}
	if c.Kind == tables.Int {
		if s, ok := t.strs[name]; ok {
			return s, c.Null
		}
		s := make([]string, t.b.N)
		for i := range s {
			s[i] = strconv.FormatInt(c.I[i], 10)
		}
		t.strs[name] = s
		return s, c.Null
	}
	return c.Str, c.Null
}

func (t *ruleTable) Bools(name string) ([]bool, []bool) {
	c := t.col(name)
	if c == nil {
		return make([]bool, t.b.N), allNull(t.b.N)
	}
	return c.B, c.Null
}

func allNull(n int) []bool {
	m := make([]bool, n)
	for i := range m {
		m[i] = true
	}
	return m
}

// rowRules holds, for a batch, what the rules say of each row: whether
// it is a return, and which exclude rule (if any) takes it out.
type rowRules struct {
	ret     []bool
	exclude []int16 // index into Rules.Exclude, -1 none
}

// eval applies the rules to batch b, whose amounts are net of disc (nil:
// no discount).
func (r *Rules) eval(b *tables.Batch, fields []tables.Field, disc *tables.Column, rr *rowRules) {
	rr.ret, rr.exclude = rr.ret[:0], rr.exclude[:0]
	if r == nil || (r.Returns == nil && len(r.Exclude) == 0) {
		return
	}
	t := &ruleTable{b: b, fields: fields, strs: map[string][]string{}}
	amt, qty, price := &b.Cols[oAmount], &b.Cols[oQuantity], &b.Cols[oUnitPrice]
	t.amount, t.amtNul = make([]float64, b.N), make([]bool, b.N)
	for i := range b.N {
		a, reason := orderAmount(amt, qty, price, disc, i)
		t.amount[i], t.amtNul[i] = a, reason != ""
	}
	for range b.N {
		rr.ret = append(rr.ret, false)
		rr.exclude = append(rr.exclude, -1)
	}
	if r.Returns != nil {
		f := r.Returns.Bind(t)
		for i := range b.N {
			rr.ret[i] = f(i)
		}
	}
	for k := len(r.Exclude) - 1; k >= 0; k-- {
		f := r.Exclude[k].Filter.Bind(t)
		for i := range b.N {
			if f(i) {
				rr.exclude[i] = int16(k) // the first rule that matches names it
			}
		}
	}
}

func (rr *rowRules) isReturn(i int) bool { return rr.ret != nil && i < len(rr.ret) && rr.ret[i] }
func (rr *rowRules) excluded(i int) int {
	if i < len(rr.exclude) {
		return int(rr.exclude[i])
	}
	return -1
}

// plain reports whether the rules leave rows as the order-grain reader
// always read them (the clean fast path applies).
func (r *Rules) plain() bool {
	return r == nil || (!r.Lines && r.Returns == nil && len(r.Exclude) == 0)
}

// rowHash identifies a row's content, for telling an exact duplicate of
// an order (or line) from a row that conflicts with it. customer is the
// hash of the row's customer id (Keys.HashOf). It allocates nothing: it
// runs for every row of a table with order ids.
func rowHash(orderID string, customer uint64, ts int64, amount float64, refund bool, cat, chn int32, line uint64) uint64 {
	h := HashString(orderID, k1)
	h = mum(h^customer, k0)
	h = mum(h^uint64(ts), k2)
	h = mum(h^math.Float64bits(amount), k3)
	r := uint64(0)
	if refund {
		r = 1
	}
	h = mum(h^(r|uint64(uint32(cat))<<1|uint64(uint32(chn))<<33), k1)
	return mum(h^line, k2)
}

// u64Set is an open-addressing set of 64-bit hashes, 8 bytes a slot: the
// content hashes of orders' first rows (streamer.seenRow), one per order
// of a table with order ids, so half the order-id set's size. A collision
// (about n²/2^65: 3·10^-6 at ten million orders) would take a conflicting
// row for a copy.
type u64Set struct {
	slots []uint64 // zero is empty; a zero hash is stored as 1
	n     int
}

// add inserts h and reports whether it was new.
func (s *u64Set) add(h uint64) bool {
	if h == 0 {
		h = 1
	}
	if 2*(s.n+1) > len(s.slots) {
		old := s.slots
		s.slots = make([]uint64, max(1024, 2*len(old)))
		for _, x := range old {
			if x != 0 {
				s.put(x)
			}
		}
	}
	if !s.put(h) {
		return false
	}
	s.n++
	return true
}

func (s *u64Set) put(h uint64) bool {
	mask := uint64(len(s.slots) - 1)
	for i := (h ^ h>>29) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			return true
		}
	}
}
