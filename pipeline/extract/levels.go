package extract

import (
	"strings"
	"sync"

	"github.com/strata-oss/strata/pipeline/tables"
)

// Levels is the dictionary of one categorical column's values, shared by
// the goroutines reading a table. Codes are handed out in first-seen order,
// which depends on scheduling, so nothing may depend on a code's value:
// consumers rank levels by name or by count.
type Levels struct {
	mu    sync.Mutex
	index map[string]int32
	names []string
}

// Names returns the levels by code.
func (l *Levels) Names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.names...)
}

// Len is the number of levels coded so far.
func (l *Levels) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.names)
}

func (l *Levels) code(s string) int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.index[s]; ok {
		return c
	}
	if l.index == nil {
		l.index = map[string]int32{}
	}
	c := int32(len(l.names))
	s = strings.Clone(s) // the reader's string may pin a whole page
	l.index[s] = c
	l.names = append(l.names, s)
	return c
}

// levelReader resolves one column's strings to codes for one goroutine: a
// private cache in front of the shared Levels, and for a dictionary-encoded
// column one resolution per dictionary entry.
type levelReader struct {
	levels *Levels
	cache  map[string]int32
	dict   []string // the batch's dictionary the codes below are for
	dcode  []int32
}

func newLevelReader(l *Levels) *levelReader {
	return &levelReader{levels: l, cache: map[string]int32{}}
}

// codeOf returns the code of s; blank text is unknown (-1).
func (r *levelReader) codeOf(s string) int32 {
	if c, ok := r.cache[s]; ok {
		return c
	}
	c := int32(-1)
	if strings.TrimSpace(s) != "" {
		c = r.levels.code(s)
	}
	r.cache[strings.Clone(s)] = c
	return c
}

// row returns the code of row i of col, -1 when unknown.
func (r *levelReader) row(col *tables.Column, i int) int32 {
	if !col.Present || col.IsNull(i) {
		return -1
	}
	if col.Codes != nil {
		if !r.mapped(col) {
			r.dict = col.Dict
			r.dcode = r.dcode[:0]
			for _, s := range col.Dict {
				r.dcode = append(r.dcode, r.codeOf(s))
			}
		}
		return r.dcode[col.Codes[i]]
	}
	return r.codeOf(col.Str[i])
}

// mapped reports whether dcode holds the codes of col's dictionary.
func (r *levelReader) mapped(col *tables.Column) bool {
	return len(col.Dict) == len(r.dict) && (len(col.Dict) == 0 || &col.Dict[0] == &r.dict[0])
}

// dictCodes returns, after row has been called for col, the codes by
// dictionary index that row reads for col's rows, when every row of col
// has one (a dictionary-encoded column without nulls); else nil.
func (r *levelReader) dictCodes(col *tables.Column) []int32 {
	if !col.Present || col.Null != nil || col.Codes == nil || len(col.Dict) == 0 || !r.mapped(col) {
		return nil
	}
	return r.dcode
}
