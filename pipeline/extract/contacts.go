package extract

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-oss/strata/pipeline/tables"
)

// Contact fields and consent are read by a pass of their own over the
// customers table, not by Stream: what Stream reads reaches the feature
// engine, whose levels, vocabularies and quarantine records are published
// or kept in model objects, and a contact value must reach none of them.
// This pass keeps them in memory for the audiences' channel files only,
// and never quarantines, logs or reports a row (Stream does that for the
// same rows, with the contact columns unread).

// ContactRecord is one customer's contact fields and consent, from the
// latest version of their customers row at or before the as-of date.
type ContactRecord struct {
	// Fields by name (config.ContactFieldNames); "" when blank or unmapped.
	Fields map[string]string
	// Consent by name: 1 yes, 0 no, -1 unknown (blank, unmapped or not a
	// boolean).
	Consent map[string]int8
	version int64
}

// ReadContacts reads the contact and consent columns of spec.Customers as
// a run reads its customers: the rows of spec.Keep's customers only, none
// of a customer on spec.Suppression, no
// customer who signed up after the as-of date and no version stamped
// after it, ids normalised by spec.Rules. A row Stream rejects (no id, an
// unparsable signup_ts or updated_at, a malformed CSV row) is skipped
// here. The latest version of a customer wins, a tie going to the later
// row, as in the feature engine. The result is keyed by the customer id
// as in Dataset.IDs.
//
// contact and consent map a field name (config.ContactFieldNames,
// "email_opt_in", "sms_opt_in") to its column; an unmapped field is not
// read.
func ReadContacts(ctx context.Context, spec Spec, contact, consent map[string]string) (map[string]*ContactRecord, error) {
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
	t := spec.Customers
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
	src, contactNames, consentNames := contactSource(t, contact, consent)
	out := map[string]*ContactRecord{}
	err := src.Scan(ctx, func(b *tables.Batch) error {
		id, signup, updated := &b.Cols[0], &b.Cols[1], &b.Cols[2]
		for i := 0; i < b.N; i++ {
			if b.Malformed != nil && b.Malformed[i] != "" {
				continue
			}
			if id.IsNull(i) || (id.Kind != tables.Int && strings.TrimSpace(id.Str[i]) == "") {
				continue
			}
			if spec.Keep != nil && !spec.Keep.cell(id, i, norm) {
				continue
			}
			if sup.cell(id, i, norm) {
				continue
			}
			if signup.IsBad(i) || updated.IsBad(i) {
				continue
			}
			if !signup.IsNull(i) && signup.I[i] >= cutoff {
				continue
			}
			if !updated.IsNull(i) && updated.I[i] >= cutoff {
				continue
			}
			key := contactKey(id, i, norm)
			v := timeOr(updated, i)
			if old, ok := out[key]; ok && v < old.version {
				continue
			}
			rec := &ContactRecord{Fields: make(map[string]string, len(contact)), Consent: make(map[string]int8, len(consent)), version: v}
			for k, n := range contactNames {
				c := &b.Cols[3+k]
				if !c.IsNull(i) {
					// Parquet strings share their page's bytes.
					rec.Fields[n] = strings.Clone(c.Str[i])
				}
			}
			for k, n := range consentNames {
				c := &b.Cols[3+len(contactNames)+k]
				switch {
				case c.IsNull(i): // bad cells are null too
					rec.Consent[n] = -1
				case c.B[i]:
					rec.Consent[n] = 1
				default:
					rec.Consent[n] = 0
				}
			}
			out[key] = rec
		}
		return ctx.Err()
	})
	if err != nil {
		// The error names the object and row, never a value read.
		return nil, fmt.Errorf("read contact fields of customers: %w", err)
	}
	return out, nil
}

// contactKey is row i's customer id as Dataset.IDs spells it.
func contactKey(col *tables.Column, i int, norm IDNorm) string {
	if col.Kind == tables.Int {
		return strconv.FormatInt(col.I[i], 10)
	}
	if norm != (IDNorm{}) {
		return norm.apply(col.Str[i])
	}
	return strings.Clone(col.Str[i])
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
