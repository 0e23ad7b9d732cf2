// Package tables reads Strata's input tables and writes its output tables.
//
// Inputs are Parquet or CSV objects under a prefix of an object store. A
// column mapping names the user's columns for each logical column, so any
// schema works without code changes. Reading is streaming and columnar: a
// Scan hands out one Batch per Parquet row group (or per block of CSV rows),
// each a set of typed slices, so memory is bounded by the largest row group,
// not the table.
//
// Values that cannot be converted to the logical type (a CSV amount of
// "abc", a timestamp of "not-a-date") are not errors of the scan: the cell is
// marked Bad with its raw text, and the caller decides whether the row is
// quarantined. A schema that lacks a required column, or has a column whose
// type can never convert, is an error before any row is read.
package tables

import (
	"fmt"
	"strings"
)

// Kind is the logical type of a column, independent of its storage type.
type Kind uint8

const (
	String     Kind = iota // UTF-8 text; numbers are formatted
	Float                  // float64; integers and decimals convert
	Int                    // int64
	Time                   // instant, as microseconds since the Unix epoch (UTC)
	Bool                   // boolean
	StringList             // list of strings (Parquet LIST, or a delimited string)
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Float:
		return "float"
	case Int:
		return "int"
	case Time:
		return "timestamp"
	case Bool:
		return "bool"
	case StringList:
		return "string list"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Field is one logical column a reader wants.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
}

// Column holds one field's values for the rows of a batch. Exactly one of the
// value slices is used, by Kind. Null and Bad are nil when no row is null or
// bad; a bad cell is also null and keeps its raw text in BadRaw.
type Column struct {
	Present bool // false when an optional field is absent from the input
	Kind    Kind
	Str     []string
	F       []float64
	I       []int64
	B       []bool
	L       [][]string
	Null    []bool
	Bad     []bool
	BadRaw  []string
}

// IsNull reports whether row i has no usable value.
func (c *Column) IsNull(i int) bool {
	return !c.Present || (c.Null != nil && c.Null[i])
}

// IsBad reports whether row i held a value that could not be converted.
func (c *Column) IsBad(i int) bool { return c.Bad != nil && c.Bad[i] }

func (c *Column) reset(kind Kind, n int) {
	c.Present = true
	c.Kind = kind
	c.Null, c.Bad, c.BadRaw = nil, nil, nil
	switch kind {
	case String:
		c.Str = resize(c.Str, n)
	case Float:
		c.F = resize(c.F, n)
	case Int, Time:
		c.I = resize(c.I, n)
	case Bool:
		c.B = resize(c.B, n)
	case StringList:
		c.L = resize(c.L, n)
	}
}

func (c *Column) setNull(i, n int) {
	if c.Null == nil {
		c.Null = make([]bool, n)
	}
	c.Null[i] = true
}

func (c *Column) setBad(i, n int, raw string) {
	c.setNull(i, n)
	if c.Bad == nil {
		c.Bad = make([]bool, n)
		c.BadRaw = make([]string, n)
	}
	c.Bad[i] = true
	c.BadRaw[i] = raw
}

// Text renders row i of the column for humans (quarantine records, errors).
func (c *Column) Text(i int) string {
	switch {
	case !c.Present:
		return ""
	case c.IsBad(i):
		return c.BadRaw[i]
	case c.IsNull(i):
		return ""
	}
	switch c.Kind {
	case String:
		return c.Str[i]
	case Float:
		return fmt.Sprint(c.F[i])
	case Int:
		return fmt.Sprint(c.I[i])
	case Time:
		return formatMicros(c.I[i])
	case Bool:
		return fmt.Sprint(c.B[i])
	case StringList:
		return strings.Join(c.L[i], "|")
	}
	return ""
}

// Batch is a block of rows of one input object.
type Batch struct {
	Key      string // the object the rows came from
	FirstRow int64  // 0-based index of the batch's first row in the object
	N        int    // number of rows
	Cols     []Column
	// Malformed holds, per row, why a whole row could not be parsed (a CSV
	// row with the wrong number of fields); nil when every row parsed.
	Malformed []string
}

func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		s = s[:n]
		clear(s)
		return s
	}
	return make([]T, n)
}

// SchemaError says an input's columns do not fit the mapping. It is
// returned before any row is read, so a run fails before publishing.
type SchemaError struct {
	Key      string
	Problems []string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("schema of %s: %s", e.Key, strings.Join(e.Problems, "; "))
}
