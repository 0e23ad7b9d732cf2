// Package channel writes an audience's customers as files that ad and
// email tools import: Google Ads Customer Match, Meta (Facebook) custom
// audience, and a plain email-tool CSV.
//
// The ad platforms match on identifiers they hash themselves, so a file
// matches only if every value was normalised exactly their way before
// its SHA-256 (FIPS 180-4) was taken; each platform's rules, with the
// documented example they are tested against, are on the functions that
// apply them (GoogleEmail, MetaEmail, E164, GoogleName, MetaName,
// Country, GoogleZip, MetaZip).
//
// A row is written when it has something a platform can match on: an
// email, a phone number, or a complete name and address (first name, last
// name, country and postal code, which the platforms only match together;
// an incomplete address is left out of the row). Any other row is
// skipped, and counted by reason in the Summary Close returns, as is
// every value that was present but unusable (a malformed email, a
// national phone number of an unknown country) even in rows that were
// written on other fields. Nothing is dropped silently.
//
// A campaign's control group must never reach a channel: a row marked
// Control is not written whatever it holds, and is counted as skipped
// (control_group), so the files are safe even if a caller forgets to
// filter.
//
// Writers stream: one row in, one line out, in the order given, so the
// same rows give the same bytes.
package channel

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"iter"
	"strings"
)

// Format is a channel file format.
type Format string

// Formats.
const (
	// GoogleAds is a Customer Match customer data file with hashed values
	// (support.google.com/google-ads/answer/7659867 for the headers,
	// answer/7474263: "Country and Zip data won't be hashed"): columns
	// Email, Phone, First Name, Last Name (SHA-256 hex of the normalised
	// value), Country, Zip (as normalised, not hashed).
	GoogleAds Format = "google_ads"
	// Meta is a custom audience customer list, with the column headers
	// Meta's Business Help Center documents for one ("How to format a
	// customer list", facebook.com/business/help/2082575038703844): email,
	// phone, fn, ln, zip, country; every value the SHA-256 hex of its
	// normalised form, as Meta requires of all of them. (The Marketing
	// API's schema keys for an upload are the same names upper-cased.)
	Meta Format = "meta"
	// Email is a plain CSV for email tools: email, first_name, last_name.
	// The email is trimmed and lower-cased; names are trimmed and keep
	// their case, for a greeting. Rows without a valid email are skipped.
	Email Format = "email"
)

// Formats lists the formats this package writes.
var Formats = []Format{GoogleAds, Meta, Email}

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("channel: unknown format %q (want one of google_ads, meta, email)", s)
}

// Contact is one customer's contact fields; an empty field is missing.
// CountryCode is ISO 3166-1 alpha-2, in any case.
type Contact struct {
	CustomerID  string
	Email       string
	Phone       string
	FirstName   string
	LastName    string
	CountryCode string
	PostalCode  string
	// Control marks a customer of the campaign's control group (see
	// pipeline/holdout): never written.
	Control bool
}

// Reasons a row is skipped.
const (
	// SkipNoContact: every contact field is empty.
	SkipNoContact = "no_contact"
	// SkipNoIdentifier: no valid email, no valid phone, and no complete
	// name and address (see Summary.Invalid for what was wrong).
	SkipNoIdentifier = "no_usable_identifier"
	// SkipNoEmail and SkipEmailInvalid: the email format's rows need an
	// email.
	SkipNoEmail      = "no_email"
	SkipEmailInvalid = emailInvalid
	// SkipControl: the customer is in the campaign's control group.
	SkipControl = "control_group"
)

// addressIncomplete counts rows with some but not all of first name, last
// name, country and postal code.
const addressIncomplete = "address_incomplete"

// Summary counts what a Writer did.
type Summary struct {
	Format  Format `json:"format"`
	Rows    int    `json:"rows"`    // rows given
	Written int    `json:"written"` // rows written
	// Skipped counts the rows left out, by reason (Skip* constants).
	Skipped map[string]int `json:"skipped"`
	// Invalid counts values present but unusable, by problem
	// (email_invalid, phone_invalid, phone_no_country, country_invalid,
	// address_incomplete), in written and skipped rows alike.
	Invalid map[string]int `json:"invalid"`
}

// SkippedRows is the number of rows left out.
func (s Summary) SkippedRows() int {
	n := 0
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// Writer writes one channel file.
type Writer struct {
	f   Format
	bw  *bufio.Writer
	cw  *csv.Writer
	rec []string
	sum Summary
	err error
}

// header is each format's first line.
var header = map[Format][]string{
	GoogleAds: {"Email", "Phone", "First Name", "Last Name", "Country", "Zip"},
	Meta:      {"email", "phone", "fn", "ln", "zip", "country"},
	Email:     {"email", "first_name", "last_name"},
}

// NewWriter starts a file of format f on w, writing its header.
func NewWriter(w io.Writer, f Format) (*Writer, error) {
	h, ok := header[f]
	if !ok {
		return nil, fmt.Errorf("channel: unknown format %q", f)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(h); err != nil {
		return nil, fmt.Errorf("channel: write %s header: %w", f, err)
	}
	return &Writer{f: f, bw: bw, cw: cw, rec: make([]string, len(h)),
		sum: Summary{Format: f, Skipped: map[string]int{}, Invalid: map[string]int{}}}, nil
}

// Write writes c's row, or counts why it cannot.
func (w *Writer) Write(c Contact) error {
	if w.err != nil {
		return w.err
	}
	w.sum.Rows++
	var skip string
	switch {
	case c.Control:
		skip = SkipControl
	case w.f == GoogleAds:
		skip = w.google(c)
	case w.f == Meta:
		skip = w.meta(c)
	case w.f == Email:
		skip = w.email(c)
	}
	if skip != "" {
		w.sum.Skipped[skip]++
		return nil
	}
	if err := w.cw.Write(w.rec); err != nil {
		w.err = fmt.Errorf("channel: write %s row %d: %w", w.f, w.sum.Rows, err)
		return w.err
	}
	w.sum.Written++
	return nil
}

// Close flushes the file and returns what was written and skipped.
func (w *Writer) Close() (Summary, error) {
	if w.err != nil {
		return w.sum, w.err
	}
	w.cw.Flush()
	if err := w.cw.Error(); err != nil {
		return w.sum, fmt.Errorf("channel: write %s: %w", w.f, err)
	}
	if err := w.bw.Flush(); err != nil {
		return w.sum, fmt.Errorf("channel: write %s: %w", w.f, err)
	}
	return w.sum, nil
}

// WriteAll writes every row of rows as format f to out.
func WriteAll(ctx context.Context, out io.Writer, f Format, rows iter.Seq[Contact]) (Summary, error) {
	w, err := NewWriter(out, f)
	if err != nil {
		return Summary{}, err
	}
	n := 0
	for c := range rows {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return w.sum, fmt.Errorf("channel: write %s: %w", f, err)
			}
		}
		if err := w.Write(c); err != nil {
			return w.sum, err
		}
	}
	return w.Close()
}

// blank reports whether a field is missing.
func blank(s string) bool { return strings.TrimSpace(s) == "" }

func noContact(c Contact) bool {
	return blank(c.Email) && blank(c.Phone) && blank(c.FirstName) && blank(c.LastName) &&
		blank(c.CountryCode) && blank(c.PostalCode)
}

// identifiers are a row's normalised values, before hashing; "" is absent.
type identifiers struct {
	email, phone, first, last, country, zip string
}

// normalise applies a platform's rules to c, counting problems. The
// address is kept only when complete.
func (w *Writer) normalise(c Contact, email func(string) (string, bool), name func(string) string, zip func(string, string) string) identifiers {
	var id identifiers
	if !blank(c.Email) {
		if e, ok := email(c.Email); ok {
			id.email = e
		} else {
			w.sum.Invalid[emailInvalid]++
		}
	}
	if !blank(c.Phone) {
		if p, problem := E164(c.Phone, c.CountryCode); problem == "" {
			id.phone = p
		} else {
			w.sum.Invalid[problem]++
		}
	}
	if !blank(c.CountryCode) {
		if cc, ok := Country(c.CountryCode); ok {
			id.country = cc
		} else {
			w.sum.Invalid[countryInvalid]++
		}
	}
	id.first, id.last, id.zip = name(c.FirstName), name(c.LastName), zip(c.PostalCode, c.CountryCode)
	given := !blank(c.FirstName) || !blank(c.LastName) || !blank(c.CountryCode) || !blank(c.PostalCode)
	if id.first == "" || id.last == "" || id.country == "" || id.zip == "" {
		if given {
			w.sum.Invalid[addressIncomplete]++
		}
		id.first, id.last, id.country, id.zip = "", "", "", ""
	}
	return id
}

// usable says why a row cannot be written, or "".
func usable(c Contact, id identifiers) string {
	switch {
	case id.email != "" || id.phone != "" || id.first != "":
		return ""
	case noContact(c):
		return SkipNoContact
	}
	return SkipNoIdentifier
}

func hashed(s string) string {
	if s == "" {
		return ""
	}
	return sha256Hex(s)
}

func (w *Writer) google(c Contact) string {
	id := w.normalise(c, GoogleEmail, GoogleName, func(z, _ string) string { return GoogleZip(z) })
	if skip := usable(c, id); skip != "" {
		return skip
	}
	w.rec[0], w.rec[1], w.rec[2], w.rec[3] = hashed(id.email), hashed(id.phone), hashed(id.first), hashed(id.last)
	w.rec[4], w.rec[5] = id.country, id.zip
	return ""
}

func (w *Writer) meta(c Contact) string {
	id := w.normalise(c, MetaEmail, MetaName, MetaZip)
	if skip := usable(c, id); skip != "" {
		return skip
	}
	// Meta's phone is E.164 without the "+" (its example: 16505551212).
	w.rec[0], w.rec[1] = hashed(id.email), hashed(strings.TrimPrefix(id.phone, "+"))
	w.rec[2], w.rec[3], w.rec[4], w.rec[5] = hashed(id.first), hashed(id.last), hashed(id.zip), hashed(id.country)
	return ""
}

func (w *Writer) email(c Contact) string {
	if blank(c.Email) {
		return SkipNoEmail
	}
	e, ok := MetaEmail(c.Email) // trimmed and lower-cased, nothing folded
	if !ok {
		w.sum.Invalid[emailInvalid]++
		return SkipEmailInvalid
	}
	w.rec[0], w.rec[1], w.rec[2] = e, strings.TrimSpace(c.FirstName), strings.TrimSpace(c.LastName)
	return ""
}
