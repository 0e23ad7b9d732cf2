package extract

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-oss/strata/pipeline/tables"
)

// ExcludedSuppressed counts the rows dropped because their customer is on
// the suppression list (Quality.Excluded[table]).
const ExcludedSuppressed = "suppressed"

// Suppression is a set of customer ids whose rows a run must drop: an
// erasure list. The rows are dropped as they are read, before any rule
// that would quarantine them, so a suppressed customer reaches neither a
// model nor the quarantine table.
//
// Ids compare as text, with the list's values trimmed of surrounding
// spaces; integer ids (an integer column in the inputs or in the list)
// compare by value, so "007" in the list suppresses customer 7 of an
// integer id column.
type Suppression struct {
	strs map[string]struct{}
	ints map[int64]struct{}
	lens []int // distinct lengths of strs' keys, for matchText
}

// NewSuppression returns the set of ids.
func NewSuppression(ids []string) *Suppression {
	s := &Suppression{strs: map[string]struct{}{}, ints: map[int64]struct{}{}}
	for _, id := range ids {
		s.add(id)
	}
	return s
}

func (s *Suppression) add(id string) {
	id = strings.TrimSpace(id)
	if id == "" {
		return
	}
	if _, ok := s.strs[id]; !ok {
		s.strs[id] = struct{}{}
		if !slices.Contains(s.lens, len(id)) {
			s.lens = append(s.lens, len(id))
		}
	}
	if v, err := strconv.ParseInt(id, 10, 64); err == nil {
		s.ints[v] = struct{}{}
		if c := strconv.FormatInt(v, 10); c != id {
			// The canonical form is what an integer id is rendered as.
			s.add(c)
		}
	} else if c := DefaultIDs.apply(id); c != id {
		// "12346.0" is customer 12346 when ids are read with
		// input.ids.integer_floats (the default): list both.
		s.add(c)
	}
}

// Len is the number of distinct ids (as text).
func (s *Suppression) Len() int {
	if s == nil {
		return 0
	}
	return len(s.strs)
}

// Has reports whether id is suppressed.
func (s *Suppression) Has(id string) bool {
	if s == nil {
		return false
	}
	_, ok := s.strs[id]
	return ok
}

// HasInt reports whether integer id v is suppressed.
func (s *Suppression) HasInt(v int64) bool {
	if s == nil {
		return false
	}
	_, ok := s.ints[v]
	return ok
}

// cell reports whether row i of a customer id column is suppressed.
func (s *Suppression) cell(col *tables.Column, i int, norm IDNorm) bool {
	if s == nil || col.IsNull(i) {
		return false
	}
	if col.Kind == tables.Int {
		return s.HasInt(col.I[i])
	}
	if norm != (IDNorm{}) {
		return s.Has(norm.apply(col.Str[i]))
	}
	return s.Has(col.Str[i])
}

// matchText reports whether a suppressed id appears in t as a token: not
// preceded or followed by a letter or digit. It finds the ids in the text
// of rows that could not be split into columns, where which field is the
// customer id is unknown, and in the text of any row about to be
// quarantined (see mentions): a rejected row that mentions a suppressed id
// is dropped, not published. Erring on the side of dropping is the point.
func (s *Suppression) matchText(t string) bool {
	if s == nil || t == "" {
		return false
	}
	for _, n := range s.lens {
		for p := 0; p+n <= len(t); p++ {
			if p > 0 && isWordByte(t[p-1]) || p+n < len(t) && isWordByte(t[p+n]) {
				continue
			}
			if _, ok := s.strs[t[p:p+n]]; ok {
				return true
			}
		}
	}
	return false
}

// mentions is the text of row i of b in which an id may be mentioned: a
// malformed row's whole text, else its text cells and the raw text of
// cells that did not convert, separated by NULs. Numbers, instants and
// flags are left out: an amount of 7 is no mention of customer 7.
func mentions(b *tables.Batch, i int) string {
	if b.Malformed != nil && b.Malformed[i] != "" {
		return b.Malformed[i]
	}
	var t strings.Builder
	for c := range b.Cols {
		col := &b.Cols[c]
		switch {
		case col.IsBad(i):
			t.WriteString(col.BadRaw[i])
		case col.IsNull(i):
			continue
		case col.Kind == tables.String:
			t.WriteString(col.Str[i])
		case col.Kind == tables.StringList:
			t.WriteString(strings.Join(col.L[i], "\x00"))
		default:
			continue
		}
		t.WriteByte(0)
	}
	return t.String()
}

func isWordByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}

// ReadSuppression reads the suppression list in t, whose one logical
// column is customer_id (t.Columns maps it), and fingerprints its objects.
// Every object under the prefix is read: a list is not pruned by date,
// since an erasure applies to re-runs of earlier dates too.
func ReadSuppression(ctx context.Context, t *Table) (*Suppression, []Input, error) {
	src := t.source(suppressionFields())
	var ds Dataset
	if err := ds.fingerprint(ctx, "suppression", t, src); err != nil {
		return nil, nil, err
	}
	s := NewSuppression(nil)
	for _, in := range ds.Inputs {
		err := src.ScanObject(ctx, in.Key, func(b *tables.Batch) error {
			col := &b.Cols[0]
			for i := range b.N {
				switch {
				case b.Malformed != nil && b.Malformed[i] != "":
					// A list that cannot be read in full must not
					// be applied in part.
					return fmt.Errorf("%s row %d: %s", b.Key, b.FirstRow+int64(i), b.Malformed[i])
				case col.IsNull(i):
				case col.Kind == tables.Int:
					s.add(strconv.FormatInt(col.I[i], 10))
				default:
					s.add(col.Str[i])
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("suppression: read %s: %w", in.Key, err)
		}
	}
	return s, ds.Inputs, nil
}

func suppressionFields() []tables.Field {
	return []tables.Field{{Name: "customer_id", Kind: tables.Key, Required: true}}
}

// QuarantineView is how quarantine records show people. The zero value
// shows rows as read.
type QuarantineView struct {
	// ID renders a customer id for the records (a pseudonym); nil keeps
	// ids as read.
	ID func(string) string
	// Withhold names logical columns whose values records do not show.
	Withhold map[string]bool
	// HideRaw names tables whose malformed rows' raw text records do not
	// show: it may hold values of columns the run does not read as
	// logical ones (the customers table's contact fields).
	HideRaw map[string]bool
}

// Withheld is what a record shows instead of a withheld value.
const Withheld = "(withheld)"

func (v *QuarantineView) id(s string) string {
	if v.ID == nil || s == "" {
		return s
	}
	return v.ID(s)
}

// hidesRaw reports whether the raw text of a malformed row of a table with
// fields must be withheld: it may hold any of the row's values, and which
// is which is unknown.
func (v *QuarantineView) hidesRaw(table string, fields []tables.Field) bool {
	if v.ID != nil || v.HideRaw[table] {
		return true
	}
	for _, f := range fields {
		if v.Withhold[f.Name] {
			return true
		}
	}
	return false
}
