// Package extract reads a run's input tables as of a date into a Dataset:
// a dictionary of customers and the columnar transactions that belong to
// the as-of window, with every rejected row counted and kept.
//
// Point in time: a run for date D sees only records stamped before the end
// of D in the run's time zone. Later orders are excluded (counted, not bad);
// customer rows carrying an updated_at after D are ignored in favour of the
// latest earlier version; customers who signed up after D do not exist yet.
//
// Bad rows — no customer id, an unparsable or missing timestamp, an amount
// that is missing, not a number, or negative without being a refund, a CSV
// row that does not parse — are quarantined with their reason. Orders whose
// order_id was already seen are dropped as duplicates, once, and quarantined
// too, so nothing read is ever silently lost.
package extract

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

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
	ReasonNegativeAmount    = "negative_amount"
	ReasonDuplicateOrder    = "duplicate_order_id"
)

// Table is where to read one logical input table.
type Table struct {
	Bucket  objstore.Bucket
	Prefix  string
	Format  string
	Columns map[string]string
	CSV     tables.CSVOptions
}

// Spec is everything extraction needs for one run.
type Spec struct {
	AsOf      time.Time      // the as-of date; only its calendar day matters
	Location  *time.Location // where the day ends; UTC when nil
	Orders    Table
	Customers *Table // optional
}

// Dataset is a run's extracted input.
type Dataset struct {
	AsOf     time.Time // midnight starting the as-of day, in the run's zone
	Cutoff   int64     // records stamped at or after this instant (µs) are excluded
	Location *time.Location

	// The customer dictionary: row i is customer IDs[i]. After Finish, IDs
	// are sorted, so output order does not depend on input order.
	IDs   []string
	index map[string]int32
	// Signup is the signup instant (µs), or NoTime.
	Signup []int64
	// Known marks customers present in the customers table (as opposed to
	// known only from their orders).
	Known []bool

	// Accepted transactions in the window, deduplicated, in input order.
	TxCust   []int32
	TxTime   []int64 // µs since epoch, UTC
	TxAmount []float64
	TxRefund []bool

	Quality    Quality
	Quarantine Quarantine
	Inputs     []Input
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
}

// BadRows is the number of quarantined rows of table, excluding duplicates.
func (q *Quality) BadRows(table string) int64 {
	var n int64
	for _, c := range q.Bad[table] {
		n += c
	}
	return n
}

func (q *Quality) bad(table, reason string) {
	if q.Bad[table] == nil {
		q.Bad[table] = map[string]int64{}
	}
	q.Bad[table][reason]++
}

func (q *Quality) excluded(table, reason string) {
	if q.Excluded[table] == nil {
		q.Excluded[table] = map[string]int64{}
	}
	q.Excluded[table][reason]++
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

func (q *Quarantine) add(table string, b *tables.Batch, fields []tables.Field, i int, reason string) {
	q.Table = append(q.Table, table)
	q.Key = append(q.Key, b.Key)
	q.Row = append(q.Row, b.FirstRow+int64(i))
	q.Reason = append(q.Reason, reason)
	q.CustomerID = append(q.CustomerID, b.Cols[0].Text(i))
	var d strings.Builder
	if b.Malformed != nil && b.Malformed[i] != "" {
		d.WriteString(b.Malformed[i])
	} else {
		for fi, f := range fields {
			if !b.Cols[fi].Present {
				continue
			}
			if d.Len() > 0 {
				d.WriteByte(' ')
			}
			fmt.Fprintf(&d, "%s=%q", f.Name, b.Cols[fi].Text(i))
		}
	}
	q.Detail = append(q.Detail, d.String())
}

// Field positions in the orders read; customer_id is first in every table so
// quarantine records can name the customer.
const (
	oCustomer = iota
	oTime
	oAmount
	oOrderID
	oQuantity
	oUnitPrice
	oRefund
)

func orderFields(cols map[string]string) []tables.Field {
	_, priced := cols["unit_price"]
	return []tables.Field{
		{Name: "customer_id", Kind: tables.String, Required: true},
		{Name: "order_ts", Kind: tables.Time, Required: true},
		{Name: "amount", Kind: tables.Float, Required: !priced},
		{Name: "order_id", Kind: tables.String},
		{Name: "quantity", Kind: tables.Float, Required: priced},
		{Name: "unit_price", Kind: tables.Float, Required: priced},
		{Name: "is_refund", Kind: tables.Bool},
	}
}

const (
	cCustomer = iota
	cSignup
	cUpdated
)

func customerFields() []tables.Field {
	return []tables.Field{
		{Name: "customer_id", Kind: tables.String, Required: true},
		{Name: "signup_ts", Kind: tables.Time},
		{Name: "updated_at", Kind: tables.Time},
	}
}

func (t *Table) source(fields []tables.Field) *tables.Source {
	return &tables.Source{Bucket: t.Bucket, Prefix: t.Prefix, Format: t.Format, Columns: t.Columns, Fields: fields, CSV: t.CSV}
}

// CheckSchemas verifies every input object's columns against the mapping
// without reading rows.
func CheckSchemas(ctx context.Context, spec Spec) error {
	if err := spec.Orders.source(orderFields(spec.Orders.Columns)).CheckSchema(ctx); err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	if spec.Customers != nil {
		if err := spec.Customers.source(customerFields()).CheckSchema(ctx); err != nil {
			return fmt.Errorf("customers: %w", err)
		}
	}
	return nil
}

// Run extracts the dataset. Schemas are checked for every object before any
// row is read, so a mismatch fails fast.
func Run(ctx context.Context, spec Spec) (*Dataset, error) {
	loc := spec.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := spec.AsOf.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, loc)
	ds := &Dataset{
		AsOf:     day,
		Cutoff:   day.AddDate(0, 0, 1).UnixMicro(),
		Location: loc,
		index:    map[string]int32{},
		Quality: Quality{
			RowsRead:   map[string]int64{},
			Bad:        map[string]map[string]int64{},
			Excluded:   map[string]map[string]int64{},
			Duplicates: map[string]int64{},
		},
	}
	if err := CheckSchemas(ctx, spec); err != nil {
		return nil, err
	}
	if spec.Customers != nil {
		if err := ds.readCustomers(ctx, spec.Customers); err != nil {
			return nil, err
		}
	}
	if err := ds.readOrders(ctx, &spec.Orders); err != nil {
		return nil, err
	}
	ds.finish()
	return ds, nil
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

func (ds *Dataset) customer(id string) int32 {
	if i, ok := ds.index[id]; ok {
		return i
	}
	i := int32(len(ds.IDs))
	ds.index[id] = i
	ds.IDs = append(ds.IDs, id)
	ds.Signup = append(ds.Signup, NoTime)
	ds.Known = append(ds.Known, false)
	return i
}

func (ds *Dataset) readCustomers(ctx context.Context, t *Table) error {
	fields := customerFields()
	src := t.source(fields)
	if err := ds.fingerprint(ctx, "customers", t, src); err != nil {
		return err
	}
	// The version of each customer that is current as of the cutoff wins.
	versionAt := map[int32]int64{}
	return src.Scan(ctx, func(b *tables.Batch) error {
		ds.Quality.RowsRead["customers"] += int64(b.N)
		id, signup, updated := &b.Cols[cCustomer], &b.Cols[cSignup], &b.Cols[cUpdated]
		for i := 0; i < b.N; i++ {
			switch {
			case b.Malformed != nil && b.Malformed[i] != "":
				ds.reject("customers", b, fields, i, ReasonMalformedRow)
				continue
			case id.IsNull(i) || strings.TrimSpace(id.Str[i]) == "":
				ds.reject("customers", b, fields, i, ReasonMissingCustomerID)
				continue
			case signup.IsBad(i) || updated.IsBad(i):
				ds.reject("customers", b, fields, i, ReasonBadTimestamp)
				continue
			}
			if !signup.IsNull(i) && signup.I[i] >= ds.Cutoff {
				ds.Quality.excluded("customers", "signup_after_as_of")
				continue
			}
			if !updated.IsNull(i) && updated.I[i] >= ds.Cutoff {
				ds.Quality.excluded("customers", "version_after_as_of")
				continue
			}
			v := int64(NoTime)
			if !updated.IsNull(i) {
				v = updated.I[i]
			}
			c := ds.customer(id.Str[i])
			if prev, seen := versionAt[c]; seen && prev > v {
				continue
			}
			versionAt[c] = v
			ds.Known[c] = true
			if !signup.IsNull(i) {
				ds.Signup[c] = signup.I[i]
			}
		}
		return nil
	})
}

func (ds *Dataset) reject(table string, b *tables.Batch, fields []tables.Field, i int, reason string) {
	ds.Quality.bad(table, reason)
	ds.Quarantine.add(table, b, fields, i, reason)
}

func (ds *Dataset) readOrders(ctx context.Context, t *Table) error {
	fields := orderFields(t.Columns)
	src := t.source(fields)
	if err := ds.fingerprint(ctx, "orders", t, src); err != nil {
		return err
	}
	seen := map[string]struct{}{}
	return src.Scan(ctx, func(b *tables.Batch) error {
		ds.Quality.RowsRead["orders"] += int64(b.N)
		id, ts := &b.Cols[oCustomer], &b.Cols[oTime]
		amt, oid := &b.Cols[oAmount], &b.Cols[oOrderID]
		qty, price, refund := &b.Cols[oQuantity], &b.Cols[oUnitPrice], &b.Cols[oRefund]
		for i := 0; i < b.N; i++ {
			reason := ""
			var amount float64
			switch {
			case b.Malformed != nil && b.Malformed[i] != "":
				reason = ReasonMalformedRow
			case id.IsNull(i) || strings.TrimSpace(id.Str[i]) == "":
				reason = ReasonMissingCustomerID
			case ts.IsBad(i):
				reason = ReasonBadTimestamp
			case ts.IsNull(i):
				reason = ReasonMissingTimestamp
			}
			isRefund := !refund.IsNull(i) && refund.B[i]
			if reason == "" {
				amount, reason = orderAmount(amt, qty, price, i)
			}
			if reason == "" && amount < 0 && !isRefund {
				reason = ReasonNegativeAmount
			}
			if reason != "" {
				ds.reject("orders", b, fields, i, reason)
				continue
			}
			if ts.I[i] >= ds.Cutoff {
				ds.Quality.excluded("orders", "after_as_of")
				continue
			}
			if oid.Present && !oid.IsNull(i) {
				if _, dup := seen[oid.Str[i]]; dup {
					ds.Quality.Duplicates["orders"]++
					ds.Quarantine.add("orders", b, fields, i, ReasonDuplicateOrder)
					continue
				}
				seen[oid.Str[i]] = struct{}{}
			}
			if isRefund {
				amount = -math.Abs(amount)
			}
			ds.TxCust = append(ds.TxCust, ds.customer(id.Str[i]))
			ds.TxTime = append(ds.TxTime, ts.I[i])
			ds.TxAmount = append(ds.TxAmount, amount)
			ds.TxRefund = append(ds.TxRefund, isRefund)
		}
		return nil
	})
}

// orderAmount is the row's amount, either its own column or quantity ×
// unit price, or the reason it has none.
func orderAmount(amt, qty, price *tables.Column, i int) (float64, string) {
	if amt.Present {
		switch {
		case amt.IsBad(i):
			return 0, ReasonBadAmount
		case amt.IsNull(i) || math.IsNaN(amt.F[i]):
			return 0, ReasonMissingAmount
		case math.IsInf(amt.F[i], 0):
			return 0, ReasonBadAmount
		}
		return amt.F[i], ""
	}
	if qty.IsBad(i) || price.IsBad(i) {
		return 0, ReasonBadAmount
	}
	if qty.IsNull(i) || price.IsNull(i) {
		return 0, ReasonMissingAmount
	}
	a := qty.F[i] * price.F[i]
	if math.IsNaN(a) || math.IsInf(a, 0) {
		return 0, ReasonBadAmount
	}
	return a, ""
}

// finish sorts the customer dictionary by id and renumbers transactions, so
// that every output is in customer-id order whatever the input order.
func (ds *Dataset) finish() {
	n := len(ds.IDs)
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(a, b int) bool { return ds.IDs[order[a]] < ds.IDs[order[b]] })
	newIndex := make([]int32, n)
	ids := make([]string, n)
	signup := make([]int64, n)
	known := make([]bool, n)
	for newI, oldI := range order {
		newIndex[oldI] = int32(newI)
		ids[newI] = ds.IDs[oldI]
		signup[newI] = ds.Signup[oldI]
		known[newI] = ds.Known[oldI]
	}
	for i, c := range ds.TxCust {
		ds.TxCust[i] = newIndex[c]
	}
	ds.IDs, ds.Signup, ds.Known = ids, signup, known
	for i, id := range ids {
		ds.index[id] = int32(i)
	}
}

// Index returns the row of customer id.
func (ds *Dataset) Index(id string) (int32, bool) {
	i, ok := ds.index[id]
	return i, ok
}
