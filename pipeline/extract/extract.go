// Package extract reads a run's input tables as of a date and hands their
// valid rows, in compact columnar blocks and in input order, to a Sink —
// the feature engine — with every rejected row counted and kept.
//
// Reading is parallel and streaming: the units of a table (Parquet row
// groups, CSV objects) are decoded and checked by a bounded pool of
// workers, and one coordinator puts the blocks back in input order,
// drops duplicate orders, and passes the blocks on. Memory is bounded by
// the number of workers times the size of a row group, whatever the size
// of the table.
//
// Point in time: a run for date D sees only records stamped before the end
// of D in the run's time zone. Later orders and events are excluded
// (counted, not bad); customer rows carrying an updated_at after D are
// excluded in favour of the latest earlier version (the sink keeps the
// latest of the versions it is given); customers who signed up after D do
// not exist yet.
//
// Suppression: a run may be given a list of customer ids to forget (an
// erasure list, Spec.Suppression). Their rows are dropped from every table
// before any rule below looks at them, so they are counted (excluded,
// "suppressed") but never quarantined, and a rejected row that mentions a
// listed id is dropped too. Quarantine records can pseudonymise ids and
// withhold personal values (Spec.Quarantine).
//
// Bad rows are quarantined with their reason:
//
//   - every table: a CSV row that does not parse (malformed_row), no
//     customer id (missing_customer_id);
//   - orders: a missing or unparsable order timestamp, an amount that is
//     missing (NaN counts as missing), not a number, infinite or beyond
//     ±MaxAmount, or negative without being a refund; orders
//     whose order_id was already seen are dropped as duplicates, once, and
//     quarantined too (duplicate_order_id) — or, when the earlier row had
//     other values, as conflicting_order_id, which is bad; with line grain
//     (Rules.Lines) a line is grouped into its order instead (lines.go);
//   - orders, by Rules: rows an exclude rule selects, guest orders (no
//     customer id) and orders of 0 are excluded (counted, not bad); a
//     returns row is a negative amount;
//   - customers: an unparsable signup_ts or updated_at — they decide which
//     version of the row is current, so a row without a usable one cannot
//     be placed in time;
//   - events: a missing or unparsable event timestamp, no event type.
//
// Attribute values that are present but unusable — a birth date that does
// not parse or lies after D, an income that is not a non-negative number,
// an email_opt_in that is not a boolean — do not reject the row: the
// attribute becomes unknown, and Quality.Invalid counts it per column.
// The rest of the row (the customer's existence, the other attributes) is
// still good, and one stray cell should not take a customer out of the
// segmentation. Order categories, channels and event channels likewise
// become the "unknown" level when blank.
package extract

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Reasons a row is quarantined.
const (
	ReasonMalformedRow      = "malformed_row"
	ReasonMissingCustomerID = "missing_customer_id"
	ReasonMissingTimestamp  = "missing_timestamp"
	ReasonBadTimestamp      = "unparsable_timestamp"
	ReasonMissingAmount     = "missing_amount"
	ReasonBadAmount         = "unparsable_amount"
	ReasonAmountOutOfRange  = "amount_out_of_range" // ±Inf, or beyond ±MaxAmount
	ReasonNegativeAmount    = "negative_amount"
	ReasonDuplicateOrder    = "duplicate_order_id"
	ReasonMissingEventType  = "missing_event_type"
)

// MaxAmount bounds the magnitude of an order amount: 10^15, a quadrillion
// in any currency, is far above any real order (a billion-dollar one
// passes), yet small enough that no sum or square of amounts a run
// computes can overflow to infinity and turn a customer's features — and
// through them the clustering of everyone — into NaN. A larger amount is
// a unit mix-up or a corrupt value and is quarantined.
const MaxAmount = 1e15

// Reasons a valid row is excluded (counted in Quality.Excluded, not
// quarantined).
const (
	ExcludedAfterAsOf       = "after_as_of"
	ExcludedSignupAfterAsOf = "signup_after_as_of"
	ExcludedVersionAfter    = "version_after_as_of"
	ExcludedUnknownCustomer = "unknown_customer" // events of nobody in customers or orders
)

// Table is where to read one logical input table.
type Table struct {
	Bucket  objstore.Bucket
	Prefix  string
	Format  string
	Columns map[string]string
	CSV     tables.CSVOptions
	// Own are the user's own columns read besides the logical ones: a
	// customers table's attributes, an orders table's measures (numeric).
	Own []Own
}

// Own is one of the user's own columns: its name (a logical name no
// built-in one has) and the table's column.
type Own struct {
	Name, Column string
	Categorical  bool // a customer attribute read as levels ("customers.<name>")
}

// Spec is everything extraction needs for one run.
type Spec struct {
	AsOf      time.Time      // the as-of date; only its calendar day matters
	Location  *time.Location // where the day ends; UTC when nil
	Orders    Table
	Customers *Table // optional
	Events    *Table // optional
	// Suppression, when set, is a list of customer ids (its one logical
	// column is customer_id) whose rows are dropped from every table as
	// they are read, counted in Quality.Excluded as "suppressed" and
	// never quarantined. Its objects are fingerprinted with the inputs.
	Suppression *Table
	// Keep, when set, restricts the run to some customers (a shard, a
	// sample): the other customers' rows are skipped unread.
	Keep *Keep
	// Quarantine says how quarantine records show people.
	Quarantine QuarantineView
	// Rules say how the rows of a real export are read: order lines,
	// returns, non-product rows, guests, id normalisation. Nil reads
	// every row as an order, with no rules, ids as they are, and rows
	// without a customer id bad (missing_customer_id).
	Rules *Rules
	// FX, when set, converts amounts to its reporting currency.
	FX *FX
}

// Dataset is a run's extracted input: who the customers are and what
// happened to the rows read. Per-customer aggregates live with the Sink.
type Dataset struct {
	AsOf     time.Time // midnight starting the as-of day, in the run's zone
	Cutoff   int64     // records stamped at or after this instant (µs) are excluded
	Location *time.Location

	// The customer dictionary: row i is customer IDs[i], in ascending
	// order of the ids — numeric when NumericIDs (the inputs hold integer
	// ids), byte order otherwise — so output order depends neither on
	// input order nor on the number of workers. A Column, not a
	// []string: the ids live as long as the run, and string headers would
	// be scanned by every garbage collection (strcol).
	IDs        strcol.Column
	NumericIDs bool
	// Signup is the signup instant (µs), or NoTime.
	Signup []int64
	// Known marks customers present in the customers table (as opposed to
	// known only from their orders).
	Known []bool
	// Orders is the number of accepted order rows, refunds included,
	// duplicates not; with line grain, of the orders the lines made.
	Orders int
	// Events is the number of accepted event rows of known customers.
	Events int
	// LastOrder is the instant (µs) of the newest accepted order or
	// return, NoTime when there is none.
	LastOrder int64
	// Currencies are the currencies of the accepted orders, sorted; nil
	// without a currency column.
	Currencies []string
	// Revenue is the accepted orders' amount, net of returns, in the
	// reporting currency when rates converted it.
	Revenue float64
	// NoAmount: the orders table has no amount (nor quantity × unit
	// price), as purchase panels often do; every order counts with amount
	// 0 and the money features mean nothing.
	NoAmount bool

	Quality    Quality
	Quarantine Quarantine
	Inputs     []Input
}

// Index returns the row of customer id.
func (ds *Dataset) Index(id string) (int32, bool) {
	if ds.NumericIDs {
		v, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return -1, false
		}
		i := sort.Search(ds.IDs.Len(), func(i int) bool {
			x, _ := strconv.ParseInt(ds.IDs.At(i), 10, 64)
			return x >= v
		})
		if i < ds.IDs.Len() && ds.IDs.At(i) == strconv.FormatInt(v, 10) {
			return int32(i), true
		}
		return -1, false
	}
	i := sort.Search(ds.IDs.Len(), func(i int) bool { return ds.IDs.At(i) >= id })
	if i < ds.IDs.Len() && ds.IDs.At(i) == id {
		return int32(i), true
	}
	return -1, false
}

// NoTime marks a missing instant.
const NoTime = math.MinInt64

// Input fingerprints one object a run read.
type Input struct {
	Table string `json:"table"`
	Key   string `json:"key"`
	Size  int64  `json:"size"`
	ETag  string `json:"etag"`
}

// Quality counts what happened to the rows read.
type Quality struct {
	// RowsRead per table.
	RowsRead map[string]int64 `json:"rows_read"`
	// Bad rows per table and reason (quarantined).
	Bad map[string]map[string]int64 `json:"bad"`
	// Excluded rows per table and reason (valid, but outside the as-of
	// window: not bad, not quarantined).
	Excluded map[string]map[string]int64 `json:"excluded"`
	// Duplicates dropped per table (quarantined).
	Duplicates map[string]int64 `json:"duplicates"`
	// Invalid counts, per table and column, values that were present but
	// unusable and were read as unknown; their rows were kept.
	Invalid map[string]map[string]int64 `json:"invalid,omitempty"`
	// BytesRead is, per table, the bytes of the rows read where the
	// format gives rows a size (CSV: a row's text); BadBytes those of the
	// quarantined rows among them. One bad row can be most of a file (a
	// 200 MB line), so the quality gate weighs bytes as well as rows.
	// Not in model.json (Published).
	BytesRead map[string]int64 `json:"bytes_read,omitempty"`
	BadBytes  map[string]int64 `json:"bad_bytes,omitempty"`
	// GuestRevenue is the amount, net of returns, of the orders without
	// a customer id (excluded as guest_order).
	GuestRevenue float64 `json:"guest_revenue,omitempty"`
	// Currency is what every amount is in, when the orders name it: their
	// one currency, or the reporting currency rates converted them to.
	Currency string `json:"currency,omitempty"`
}

// Published is q as model.json shows it: without the byte counts, which
// the gate and the logs use.
func (q Quality) Published() Quality {
	q.BytesRead, q.BadBytes = nil, nil
	return q
}

// addBytes adds n to m[table], making m when it is nil: the byte maps
// stay nil, and out of the JSON, for inputs without row sizes.
func addBytes(m *map[string]int64, table string, n int64) {
	if n == 0 {
		return
	}
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[table] += n
}

// GuestShare is the guest orders' share of all revenue, net of returns,
// given the customers' (revenue).
func (q *Quality) GuestShare(revenue float64) float64 {
	if q.GuestRevenue == 0 {
		return 0
	}
	return q.GuestRevenue / (q.GuestRevenue + revenue)
}

func newQuality() Quality {
	return Quality{
		RowsRead:   map[string]int64{},
		Bad:        map[string]map[string]int64{},
		Excluded:   map[string]map[string]int64{},
		Duplicates: map[string]int64{},
		Invalid:    map[string]map[string]int64{},
	}
}

// Merge adds o's counts to q (the shards of a sharded run each count
// their own customers' rows).
func (q *Quality) Merge(o Quality) {
	fresh := newQuality()
	if q.RowsRead == nil {
		q.RowsRead = fresh.RowsRead
	}
	if q.Bad == nil {
		q.Bad = fresh.Bad
	}
	if q.Excluded == nil {
		q.Excluded = fresh.Excluded
	}
	if q.Duplicates == nil {
		q.Duplicates = fresh.Duplicates
	}
	if q.Invalid == nil {
		q.Invalid = fresh.Invalid
	}
	for t, n := range o.RowsRead {
		q.RowsRead[t] += n
	}
	for t, n := range o.Duplicates {
		q.Duplicates[t] += n
	}
	for t, n := range o.BytesRead {
		addBytes(&q.BytesRead, t, n)
	}
	for t, n := range o.BadBytes {
		addBytes(&q.BadBytes, t, n)
	}
	q.GuestRevenue += o.GuestRevenue
	if q.Currency == "" {
		q.Currency = o.Currency
	}
	for _, m := range []struct{ to, from map[string]map[string]int64 }{{q.Bad, o.Bad}, {q.Excluded, o.Excluded}, {q.Invalid, o.Invalid}} {
		for a, byB := range m.from {
			for b, n := range byB {
				add2(m.to, a, b, n)
			}
		}
	}
}

// BadRows is the number of quarantined rows of table, excluding duplicates.
func (q *Quality) BadRows(table string) int64 {
	var n int64
	for _, c := range q.Bad[table] {
		n += c
	}
	return n
}

func add2(m map[string]map[string]int64, a, b string, n int64) {
	if n == 0 {
		return
	}
	if m[a] == nil {
		m[a] = map[string]int64{}
	}
	m[a][b] += n
}

// Quarantine holds rejected rows, columnar.
type Quarantine struct {
	Table      []string
	Key        []string
	Row        []int64
	Reason     []string
	CustomerID []string
	Detail     []string // the row's mapped values as "name=value" pairs
}

// Len is the number of quarantined rows.
func (q *Quarantine) Len() int { return len(q.Reason) }

func (q *Quarantine) add(table, key string, row int64, reason, customer, detail string) {
	q.Table = append(q.Table, table)
	q.Key = append(q.Key, key)
	q.Row = append(q.Row, row)
	q.Reason = append(q.Reason, reason)
	q.CustomerID = append(q.CustomerID, customer)
	q.Detail = append(q.Detail, detail)
}

func (q *Quarantine) append(o *Quarantine) {
	q.Table = append(q.Table, o.Table...)
	q.Key = append(q.Key, o.Key...)
	q.Row = append(q.Row, o.Row...)
	q.Reason = append(q.Reason, o.Reason...)
	q.CustomerID = append(q.CustomerID, o.CustomerID...)
	q.Detail = append(q.Detail, o.Detail...)
}

func (q *Quarantine) reset() {
	q.Table, q.Key, q.Row = q.Table[:0], q.Key[:0], q.Row[:0]
	q.Reason, q.CustomerID, q.Detail = q.Reason[:0], q.CustomerID[:0], q.Detail[:0]
}

// sortRows orders the records by table (in reading order), object and row,
// so the quarantine is the same whatever the batching.
func (q *Quarantine) sortRows() {
	rank := map[string]int{"customers": 0, "orders": 1, "events": 2}
	idx := make([]int, q.Len())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		i, j := idx[a], idx[b]
		if q.Table[i] != q.Table[j] {
			return rank[q.Table[i]] < rank[q.Table[j]]
		}
		if q.Key[i] != q.Key[j] {
			return q.Key[i] < q.Key[j]
		}
		return q.Row[i] < q.Row[j]
	})
	var s Quarantine
	for _, i := range idx {
		s.add(q.Table[i], q.Key[i], q.Row[i], q.Reason[i], q.CustomerID[i], q.Detail[i])
	}
	*q = s
}

// detail renders row i of a batch for its quarantine record: name="value"
// pairs of its mapped columns, or the reason a malformed row could not be
// parsed; as the view shows them: the customer id rendered by ID, withheld
// columns as Withheld, and the raw text of a malformed row left out when
// it may hold either.
func (v *QuarantineView) detail(b *tables.Batch, table string, fields []tables.Field, i int) string {
	if b.Malformed != nil && b.Malformed[i] != "" {
		m := b.Malformed[i] // bounded by the reader: its row text is clipped
		if !v.hidesRaw(table, fields) {
			return m
		}
		// The reader's message ends with the quoted row ("…: \"a,b\"");
		// the reason before it holds no value.
		if j := strings.Index(m, ": \""); j >= 0 {
			m = m[:j]
		}
		return m + ": row text " + Withheld
	}
	var d strings.Builder
	for fi, f := range fields {
		if !b.Cols[fi].Present {
			continue
		}
		if d.Len() > 0 {
			d.WriteByte(' ')
		}
		// Values as the input wrote them (a CSV cell's text, not the
		// number it parsed to), each cut to tables.MaxValueBytes; the
		// customer id as read (trimmed), for the pseudonym to match.
		switch text := b.Text(fi, i); {
		case v.Withhold[f.Name] && text != "":
			fmt.Fprintf(&d, "%s=%s", f.Name, Withheld)
		case f.Name == "customer_id":
			fmt.Fprintf(&d, "%s=%q", f.Name, tables.Clip(v.id(b.Cols[fi].Text(i))))
		default:
			fmt.Fprintf(&d, "%s=%q", f.Name, tables.Clip(text))
		}
	}
	return d.String()
}

func (t *Table) source(fields []tables.Field) *tables.Source {
	cols := t.Columns
	if len(t.Own) > 0 {
		cols = make(map[string]string, len(t.Columns)+len(t.Own))
		for k, v := range t.Columns {
			cols[k] = v
		}
		for _, o := range t.Own {
			cols[o.Name] = o.Column
		}
	}
	return &tables.Source{Bucket: t.Bucket, Prefix: t.Prefix, Format: t.Format, Columns: cols, Fields: fields, CSV: t.CSV}
}

// ownFields are the fields of t's own columns, after the logical ones.
func ownFields(t *Table) []tables.Field {
	var fs []tables.Field
	for _, o := range t.Own {
		k := tables.Float
		if o.Categorical {
			k = tables.String
		}
		fs = append(fs, tables.Field{Name: o.Name, Kind: k, Required: true})
	}
	return fs
}

// CheckSchemas verifies every input object's columns, and the suppression
// list's, against the mapping without reading rows.
func CheckSchemas(ctx context.Context, spec Spec) error {
	ts := spec.tables()
	if spec.Suppression != nil {
		ts = append(ts, namedTable{"suppression", spec.Suppression, suppressionFields()})
	}
	for _, t := range ts {
		if err := t.table.source(t.fields).CheckSchema(ctx); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

type namedTable struct {
	name   string
	table  *Table
	fields []tables.Field
}

// tables lists the configured tables in reading order: customers first,
// so their attributes are in place; events last, so they can be matched
// against every customer known from the other two.
func (spec *Spec) tables() []namedTable {
	var ts []namedTable
	if spec.Customers != nil {
		ts = append(ts, namedTable{"customers", spec.Customers, append(customerFields(), ownFields(spec.Customers)...)})
	}
	ts = append(ts, namedTable{"orders", &spec.Orders, append(orderFields(spec.Orders.Columns), ownFields(&spec.Orders)...)})
	if spec.Events != nil {
		ts = append(ts, namedTable{"events", spec.Events, eventFields()})
	}
	return ts
}

func (ds *Dataset) fingerprint(ctx context.Context, table string, t *Table, src *tables.Source) error {
	keys, err := src.Files(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	for _, k := range keys {
		a, err := t.Bucket.Attributes(ctx, k)
		if err != nil {
			return fmt.Errorf("%s: attributes of %s: %w", table, k, err)
		}
		ds.Inputs = append(ds.Inputs, Input{Table: table, Key: k, Size: a.Size, ETag: a.ETag})
	}
	return nil
}
