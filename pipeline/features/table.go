package features

import (
	"math"
)

// Family groups features the way marketers speak of them.
type Family string

const (
	Behavioural   Family = "behavioural"
	Demographic   Family = "demographic"
	Geographic    Family = "geographic"
	Psychographic Family = "psychographic"
	Technographic Family = "technographic"
	// Own features come from the user's own attributes and measures.
	Own Family = "own"
)

// Kind says what a feature's values are.
type Kind string

const (
	Numeric   Kind = "numeric"   // a measurement (days, money, years)
	Count     Kind = "count"     // a non-negative integer count
	Share     Kind = "share"     // a fraction in [0, 1]; a group's shares sum to 1
	OneHotInd Kind = "one_hot"   // 0/1, exactly one of its group is 1
	MultiHot  Kind = "multi_hot" // 0/1, any number of its group may be 1
	Freq      Kind = "frequency" // share of customers with the same level
)

// Feature describes one column of the feature table.
type Feature struct {
	Name   string `json:"name"`
	Family Family `json:"family"`
	Kind   Kind   `json:"kind"`
	// Source is where it comes from: a table, or table.column.
	Source string `json:"source"`
	// Group is the attribute a one-hot, multi-hot or share column belongs
	// to (gender, category); Level the level it stands for, which may be
	// "other" or "unknown".
	Group string `json:"group,omitempty"`
	Level string `json:"level,omitempty"`
	Unit  string `json:"unit,omitempty"`
	// Missing says when the value is null; empty means never.
	Missing string `json:"missing,omitempty"`
	// Personal, for a feature of the user's own attributes and measures,
	// is the privacy.publish_personal entry that allows publishing it.
	Personal string `json:"personal,omitempty"`
}

// Column is one feature's values, by customer row. Exactly one of F and I
// holds them (integers — counts, days, indicators — in I). Null marks the
// rows without a value; it is nil when no row can be null, and may be
// shared between columns. A null row's value is 0 and means nothing.
type Column struct {
	Feature
	F    []float64
	I    []int32
	Null []bool
}

// IsNull reports whether row i has no value.
func (c *Column) IsNull(i int) bool { return c.Null != nil && c.Null[i] }

// Value returns row i as a float64, NaN when null.
func (c *Column) Value(i int) float64 {
	switch {
	case c.IsNull(i):
		return math.NaN()
	case c.F != nil:
		return c.F[i]
	}
	return float64(c.I[i])
}

// Table is the feature table: one column per feature, in a fixed order,
// rows in the order of Dataset.IDs.
type Table struct {
	N    int
	Cols []Column
	pos  map[string]int
}

// Names lists the features in order.
func (t *Table) Names() []string {
	out := make([]string, len(t.Cols))
	for i := range t.Cols {
		out[i] = t.Cols[i].Name
	}
	return out
}

// Col returns the named column.
func (t *Table) Col(name string) (*Column, bool) {
	i, ok := t.pos[name]
	if !ok {
		return nil, false
	}
	return &t.Cols[i], true
}

// Keep drops the columns keep rejects, in place, so that a run's later
// stages do not hold the memory of features nothing reads.
func (t *Table) Keep(keep func(*Column) bool) {
	cols := t.Cols[:0]
	for i := range t.Cols {
		if keep(&t.Cols[i]) {
			cols = append(cols, t.Cols[i])
		}
	}
	clear(t.Cols[len(cols):])
	t.Cols = cols
	t.pos = make(map[string]int, len(cols))
	for i := range cols {
		t.pos[cols[i].Name] = i
	}
}

func (t *Table) add(c Column) *Column {
	if t.pos == nil {
		t.pos = map[string]int{}
	}
	if _, dup := t.pos[c.Name]; dup {
		panic("features: duplicate feature " + c.Name)
	}
	t.pos[c.Name] = len(t.Cols)
	t.Cols = append(t.Cols, c)
	return &t.Cols[len(t.Cols)-1]
}
