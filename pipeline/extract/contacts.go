package extract

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Contact fields and consent are read by a pass of their own over the
// customers table, not by Stream: what Stream reads reaches the feature
// engine, whose levels, vocabularies and quarantine records are published
// or kept in model objects, and a contact value must reach none of them.
// This pass keeps them in memory for the audiences' channel files only,
// and never quarantines, logs or reports a row (Stream does that for the
// same rows, with the contact columns unread).

// Contacts are the contact fields and consent of a dataset's customers,
// by row of Dataset.IDs, from the latest version of each customer's
// customers row at or before the as-of date. Columnar, with no per-customer
// allocation and no pointer per customer: a million customers' are a few
// arrays the garbage collector does not scan.
type Contacts struct {
	// Fields by name (as given to ReadContacts), one string per row; ""
	// when blank, or when the customer has no customers row.
	Fields map[string]strcol.Column
	// Consent by name: 1 yes, 0 no, -1 unknown (blank, not a boolean, no
	// customers row).
	Consent map[string][]int8
}

// ReadContacts reads the contact and consent columns of spec.Customers for
// the customers of ds, as the run read them: the rows of spec.Keep's
// customers only, none of a customer on spec.Suppression, no customer who
// signed up after the as-of date and no version stamped after it, ids
// normalised by spec.Rules. A row Stream rejects (no id, an unparsable
// signup_ts or updated_at, a malformed CSV row) is skipped here. The
// latest version of a customer wins, a tie going to the later row, as in
// the feature engine.
//
// contact and consent map a field name (config.ContactFieldNames,
// "email_opt_in", "sms_opt_in") to its column; an unmapped field is not
// read.
func ReadContacts(ctx context.Context, spec Spec, ds *Dataset, contact, consent map[string]string) (*Contacts, error) {
	if spec.Customers == nil {
		return nil, fmt.Errorf("read contact fields: no customers table")
	}
	var sup *Suppression
	if spec.Suppression != nil {
		var err error
		if sup, _, err = ReadSuppression(ctx, spec.Suppression); err != nil {
			return nil, fmt.Errorf("read contact fields: %w", err)
		}
	}
	loc := spec.Location
	if loc == nil {
		loc = time.UTC
	}
	// As Stream: the as-of date's calendar day, ending in loc.
	y, m, d := spec.AsOf.Date()
	cutoff := time.Date(y, m, d, 0, 0, 0, 0, loc).AddDate(0, 0, 1).UnixMicro()
	norm := IDNorm{}
	if spec.Rules != nil {
		norm = spec.Rules.IDs
	}
	src, contactNames, consentNames := contactSource(spec.Customers, contact, consent)
	n := ds.IDs.Len()
	out := &Contacts{Fields: map[string]strcol.Column{}, Consent: map[string][]int8{}}
	fields := make([]latest, len(contactNames))
	for k := range fields {
		fields[k] = latest{at: make([]int64, n), end: make([]int64, n)}
	}
	flags := make([][]int8, len(consentNames))
	for k, name := range consentNames {
		flags[k] = make([]int8, n)
		for i := range flags[k] {
			flags[k][i] = -1
		}
		out.Consent[name] = flags[k]
	}
	// The version each row's values are of; NoTime - no row yet (NoTime is
	// itself a version: a row without updated_at).
	version := make([]int64, n)
	seen := make([]bool, n)
	err := src.Scan(ctx, func(b *tables.Batch) error {
		id, signup, updated := &b.Cols[0], &b.Cols[1], &b.Cols[2]
		for i := 0; i < b.N; i++ {
			switch {
			case b.Malformed != nil && b.Malformed[i] != "",
				id.IsNull(i) || (id.Kind != tables.Int && strings.TrimSpace(id.Str[i]) == ""),
				spec.Keep != nil && !spec.Keep.cell(id, i, norm),
				sup.cell(id, i, norm),
				signup.IsBad(i) || updated.IsBad(i),
				!signup.IsNull(i) && signup.I[i] >= cutoff,
				!updated.IsNull(i) && updated.I[i] >= cutoff:
				continue
			}
			row, ok := ds.Index(contactKey(id, i, norm))
			if !ok {
				continue // not a customer of the run
			}
			v := timeOr(updated, i)
			if seen[row] && v < version[row] {
				continue
			}
			seen[row], version[row] = true, v
			for k := range contactNames {
				c := &b.Cols[3+k]
				if c.IsNull(i) {
					fields[k].set(row, "")
				} else {
					fields[k].set(row, c.Str[i])
				}
			}
			for k := range consentNames {
				c := &b.Cols[3+len(contactNames)+k]
				switch {
				case c.IsNull(i): // bad cells are null too
					flags[k][row] = -1
				case c.B[i]:
					flags[k][row] = 1
				default:
					flags[k][row] = 0
				}
			}
		}
		return ctx.Err()
	})
	if err != nil {
		// The error names the object and row, never a value read.
		return nil, fmt.Errorf("read contact fields of customers: %w", err)
	}
	for k, name := range contactNames {
		out.Fields[name] = fields[k].column()
	}
	return out, nil
}

// latest holds one contact field's value by row while a later version of
// a customer may still replace it: every value read is appended to data,
// and a replaced one's bytes stay there until column copies out the
// latest. Offsets rather than strings: no header for the collector to
// scan, and no allocation per value.
type latest struct {
	data    []byte
	at, end []int64 // row's value is data[at:end]
}

// set makes s row's value. The bytes are copied: Parquet strings share
// their page's.
func (l *latest) set(row int32, s string) {
	if s == "" {
		l.at[row], l.end[row] = 0, 0
		return
	}
	l.at[row] = int64(len(l.data))
	l.data = append(l.data, s...)
	l.end[row] = int64(len(l.data))
}

// column is the latest values, by row, without the replaced ones' bytes.
func (l *latest) column() strcol.Column {
	var size int64
	for row := range l.at {
		size += l.end[row] - l.at[row]
	}
	b := strcol.NewBuilder(len(l.at), int(size))
	for row := range l.at {
		b.AppendBytes(l.data[l.at[row]:l.end[row]])
	}
	return b.Column()
}

// contactKey is row i's customer id as Dataset.IDs spells it.
func contactKey(col *tables.Column, i int, norm IDNorm) string {
	if col.Kind == tables.Int {
		return strconv.FormatInt(col.I[i], 10)
	}
	if norm != (IDNorm{}) {
		return norm.apply(col.Str[i])
	}
	return col.Str[i]
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// contactSource is the read of t's id, signup, version and the contact
// and consent columns, with the names of the fields read, in order: the
// contact fields from the batch's fourth column, then consent.
func contactSource(t *Table, contact, consent map[string]string) (src *tables.Source, contactNames, consentNames []string) {
	fields := []tables.Field{
		{Name: "customer_id", Kind: tables.Key, Required: true},
		{Name: "signup_ts", Kind: tables.Time},
		{Name: "updated_at", Kind: tables.Time},
	}
	cols := map[string]string{}
	for k, v := range t.Columns {
		if k == "customer_id" || k == "signup_ts" || k == "updated_at" {
			cols[k] = v
		}
	}
	// In a fixed order: the fields' positions in a batch follow it.
	contactNames, consentNames = sortedKeys(contact), sortedKeys(consent)
	for _, n := range contactNames {
		cols["contact."+n] = contact[n]
		fields = append(fields, tables.Field{Name: "contact." + n, Kind: tables.String, Required: true})
	}
	for _, n := range consentNames {
		cols["consent."+n] = consent[n]
		fields = append(fields, tables.Field{Name: "consent." + n, Kind: tables.Bool, Required: true})
	}
	src = &tables.Source{Bucket: t.Bucket, Prefix: t.Prefix, Format: t.Format, Columns: cols, Fields: fields, CSV: t.CSV}
	return src, contactNames, consentNames
}

// CheckContacts verifies that every customers object has the contact and
// consent columns mapped, without reading rows: `strata validate` and a
// run find a missing one before anything is computed.
func CheckContacts(ctx context.Context, spec Spec, contact, consent map[string]string) error {
	if spec.Customers == nil || (len(contact) == 0 && len(consent) == 0) {
		return nil
	}
	src, _, _ := contactSource(spec.Customers, contact, consent)
	if err := src.CheckSchema(ctx); err != nil {
		return fmt.Errorf("customers (contact fields): %w", err)
	}
	return nil
}
