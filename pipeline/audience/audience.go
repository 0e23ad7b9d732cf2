// Package audience compiles the filters that define campaign audiences —
// `rfm_segment in ["At Risk", "Can't Lose Them"] and clv > 200` — and
// evaluates them over the columns of the published segments table.
//
// The language is deliberately small, so that a marketer can read it and a
// config check can prove it sound before any run:
//
//	expr   = or
//	or     = and { "or" and }
//	and    = unary { "and" unary }
//	unary  = "not" unary | "(" expr ")" | test
//	test   = column op value
//	       | column ["not"] "in" ( "[" list "]" | "(" list ")" )
//	       | column ["not"] "like" string
//	       | column "is" ["not"] "null"
//	list   = value { "," value }
//	op     = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//	value  = number | string | "true" | "false"
//
// Strings are quoted with " or ' (a doubled quote or a backslash escapes
// it). Keywords are case-insensitive; column names are not. Every column
// and every value is type-checked against the table's schema when the
// filter is compiled: comparing a number column with a string, or naming a
// column the table does not have, is an error with its position.
//
// like matches a string column against a SQL pattern: % stands for any run
// of characters, _ for any one character, and a backslash escapes either
// (`order_id like 'C%'`). The match is case-sensitive, as SQL's is.
//
// Null semantics are SQL's, simplified to two values: any comparison with
// a null is false, and so is its negation with "not"; use "is null" to
// select nulls. So `clv > 200` and `not clv > 200` together leave out the
// customers without a CLV, as a reader of either would expect.
package audience

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is a column's type as the language sees it.
type Kind uint8

const (
	Number Kind = iota + 1 // any integer or floating-point column
	String
	Bool
)

func (k Kind) String() string {
	switch k {
	case Number:
		return "number"
	case String:
		return "string"
	case Bool:
		return "bool"
	}
	return "unknown"
}

// Schema maps the column names a filter may use to their kinds.
type Schema map[string]Kind

// Error is a problem in a filter, at a byte offset.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("at column %d: %s", e.Pos+1, e.Msg) }

// Filter is a compiled, type-checked filter.
type Filter struct {
	src  string
	root node
	cols []string
}

// String returns the filter's source text.
func (f *Filter) String() string { return f.src }

// Columns returns the columns the filter reads, sorted, without repeats.
func (f *Filter) Columns() []string { return append([]string(nil), f.cols...) }

// Compile parses src and checks it against schema. A nil schema checks
// syntax only; such a filter must not be run.
func Compile(src string, schema Schema) (*Filter, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, schema: schema, used: map[string]bool{}}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("unexpected %s after a complete filter", t)}
	}
	f := &Filter{src: src, root: root}
	for c := range p.used {
		f.cols = append(f.cols, c)
	}
	sort.Strings(f.cols)
	return f, nil
}

// Check parses src without a schema: it finds every syntax error but not
// unknown columns or type mismatches. Configuration loading uses it, before
// the table a filter will run over is known.
func Check(src string) error {
	_, err := Compile(src, nil)
	return err
}

// Table is the columnar data a filter runs over. Each accessor returns the
// column's values and its null mask (nil when no value is null); the
// filter only asks for columns of the kinds its schema declared.
type Table interface {
	Len() int
	Numbers(name string) (vals []float64, null []bool)
	Strings(name string) (vals []string, null []bool)
	Bools(name string) (vals []bool, null []bool)
}

// Select returns the rows of t that pass the filter, in order.
func (f *Filter) Select(t Table) []int {
	ev := f.root.bind(t)
	var rows []int
	for i := range t.Len() {
		if ev(i) {
			rows = append(rows, i)
		}
	}
	return rows
}

// Bind resolves the filter's columns in t once and returns its predicate
// over t's rows: Select without collecting the rows.
func (f *Filter) Bind(t Table) func(i int) bool { return f.root.bind(t) }

// ---- lexer

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tOp // = == != <> < <= > >=
	tLParen
	tRParen
	tLBracket
	tRBracket
	tComma
)

type token struct {
	kind tokKind
	pos  int
	text string  // identifier, operator or the decoded string
	num  float64 // for tNumber
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of filter"
	case tString:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		r, w := utf8.DecodeRuneInString(src[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			return nil, &Error{Pos: i, Msg: "invalid UTF-8"}
		case unicode.IsSpace(r):
			i += w
		case r == '(' || r == ')' || r == '[' || r == ']' || r == ',':
			k := map[rune]tokKind{'(': tLParen, ')': tRParen, '[': tLBracket, ']': tRBracket, ',': tComma}[r]
			toks = append(toks, token{kind: k, pos: i, text: string(r)})
			i++
		case strings.ContainsRune("=!<>", r):
			j := i + 1
			if j < len(src) && (src[j] == '=' || (r == '<' && src[j] == '>')) {
				j++
			}
			op := src[i:j]
			if op == "!" {
				return nil, &Error{Pos: i, Msg: `"!" is not an operator; use "!=" or "not"`}
			}
			toks = append(toks, token{kind: tOp, pos: i, text: op})
			i = j
		case r == '"' || r == '\'':
			s, n, err := lexString(src[i:], byte(r))
			if err != nil {
				return nil, &Error{Pos: i, Msg: err.Error()}
			}
			toks = append(toks, token{kind: tString, pos: i, text: s})
			i += n
		case r == '-' || r == '+' || r == '.' || (r >= '0' && r <= '9'):
			j := i + 1
			for j < len(src) && (isNumByte(src[j]) || ((src[j] == '-' || src[j] == '+') && (src[j-1] == 'e' || src[j-1] == 'E'))) {
				j++
			}
			v, err := strconv.ParseFloat(strings.ReplaceAll(src[i:j], "_", ""), 64)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, &Error{Pos: i, Msg: fmt.Sprintf("bad number %q", src[i:j])}
			}
			toks = append(toks, token{kind: tNumber, pos: i, text: src[i:j], num: v})
			i = j
		case r == '_' || unicode.IsLetter(r):
			j := i + w
			for j < len(src) {
				r2, w2 := utf8.DecodeRuneInString(src[j:])
				if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += w2
			}
			toks = append(toks, token{kind: tIdent, pos: i, text: src[i:j]})
			i = j
		default:
			return nil, &Error{Pos: i, Msg: fmt.Sprintf("unexpected character %q", r)}
		}
	}
	return append(toks, token{kind: tEOF, pos: len(src)}), nil
}

func isNumByte(b byte) bool {
	return b >= '0' && b <= '9' || b == '.' || b == 'e' || b == 'E' || b == '_'
}

// lexString decodes a quoted string at the start of s and returns it with
// the number of bytes consumed.
func lexString(s string, q byte) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == q && i+1 < len(s) && s[i+1] == q:
			i++
			b.WriteByte(q)
		case c == q:
			return b.String(), i + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

// ---- parser and type checker

type parser struct {
	toks   []token
	at     int
	schema Schema
	used   map[string]bool
	depth  int
}

// maxDepth bounds nesting, so a hostile filter cannot exhaust the stack.
const maxDepth = 100

func (p *parser) peek() token { return p.toks[p.at] }
func (p *parser) next() token {
	t := p.toks[p.at]
	if t.kind != tEOF {
		p.at++
	}
	return t
}

func (p *parser) keyword(t token, kw string) bool {
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) or() (node, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword(p.peek(), "or") {
		p.next()
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = orNode{left, right}
	}
	return left, nil
}

func (p *parser) and() (node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword(p.peek(), "and") {
		p.next()
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = andNode{left, right}
	}
	return left, nil
}

func (p *parser) unary() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, &Error{Pos: p.peek().pos, Msg: fmt.Sprintf("nested more than %d deep", maxDepth)}
	}
	t := p.peek()
	switch {
	case p.keyword(t, "not"):
		p.next()
		inner, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{inner}, nil
	case t.kind == tLParen:
		p.next()
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &Error{Pos: c.pos, Msg: fmt.Sprintf("expected \")\" to close the \"(\" at column %d, found %s", t.pos+1, c)}
		}
		return inner, nil
	}
	return p.test()
}

func (p *parser) test() (node, error) {
	col := p.next()
	if col.kind != tIdent || isKeyword(col.text) {
		return nil, &Error{Pos: col.pos, Msg: fmt.Sprintf("expected a column name, found %s", col)}
	}
	kind, ok := p.schema[col.text]
	if !ok && p.schema != nil {
		msg := fmt.Sprintf("unknown column %q", col.text)
		if s := closest(col.text, p.schema); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, &Error{Pos: col.pos, Msg: msg}
	}
	p.used[col.text] = true
	t := p.next()
	switch {
	case p.keyword(t, "is"):
		neg := false
		if p.keyword(p.peek(), "not") {
			p.next()
			neg = true
		}
		if n := p.next(); !p.keyword(n, "null") {
			return nil, &Error{Pos: n.pos, Msg: fmt.Sprintf("expected \"null\" after \"is\", found %s", n)}
		}
		return nullNode{col: col.text, kind: kind, not: neg}, nil
	case p.keyword(t, "not") || p.keyword(t, "in") || p.keyword(t, "like"):
		neg := false
		if p.keyword(t, "not") {
			neg = true
			if t = p.next(); !p.keyword(t, "in") && !p.keyword(t, "like") {
				return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("expected \"in\" or \"like\" after \"not\", found %s", t)}
			}
		}
		if p.keyword(t, "like") {
			if kind != String && kind != 0 {
				return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("%q is a %s column: like matches strings", col.text, kind)}
			}
			v := p.next()
			if v.kind != tString {
				return nil, &Error{Pos: v.pos, Msg: fmt.Sprintf("expected a quoted pattern after \"like\", found %s", v)}
			}
			return likeNode{col: col.text, pat: v.text, not: neg}, nil
		}
		b := p.next()
		closer, closeText := tRBracket, "]"
		switch b.kind {
		case tLBracket:
		case tLParen:
			closer, closeText = tRParen, ")"
		default:
			return nil, &Error{Pos: b.pos, Msg: fmt.Sprintf("expected \"[\" to start the list (or \"(\"), found %s", b)}
		}
		n := inNode{col: col.text, kind: kind, not: neg}
		for {
			v, err := p.value(col.text, kind)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
			sep := p.next()
			if sep.kind == closer {
				break
			}
			if sep.kind != tComma {
				return nil, &Error{Pos: sep.pos, Msg: fmt.Sprintf("expected \",\" or %q in the list, found %s", closeText, sep)}
			}
		}
		return n, nil
	case t.kind == tOp:
		v, err := p.value(col.text, kind)
		if err != nil {
			return nil, err
		}
		op := t.text
		if op == "==" {
			op = "="
		} else if op == "<>" {
			op = "!="
		}
		if kind != Number && kind != 0 && op != "=" && op != "!=" {
			return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("%q is a %s column: only = and != compare it", col.text, kind)}
		}
		return cmpNode{col: col.text, kind: kind, op: op, val: v}, nil
	}
	return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("expected an operator, \"in\" or \"is\" after %q, found %s", col.text, t)}
}

func (p *parser) value(col string, kind Kind) (value, error) {
	t := p.next()
	var v value
	switch {
	case t.kind == tNumber:
		v = value{kind: Number, num: t.num}
	case t.kind == tString:
		v = value{kind: String, str: t.text}
	case p.keyword(t, "true") || p.keyword(t, "false"):
		v = value{kind: Bool, b: strings.EqualFold(t.text, "true")}
	default:
		return value{}, &Error{Pos: t.pos, Msg: fmt.Sprintf("expected a value, found %s", t)}
	}
	if kind != 0 && v.kind != kind {
		return value{}, &Error{Pos: t.pos, Msg: fmt.Sprintf("%q is a %s column, compared with a %s", col, kind, v.kind)}
	}
	return v, nil
}

func isKeyword(s string) bool {
	switch strings.ToLower(s) {
	case "and", "or", "not", "in", "like", "is", "null", "true", "false":
		return true
	}
	return false
}

// closest returns the schema column within edit distance 2 of s, if any.
func closest(s string, schema Schema) string {
	best, bestD := "", 3
	for c := range schema {
		if d := editDistance(s, c); d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
