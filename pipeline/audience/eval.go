package audience

// A node is a checked filter expression. bind resolves its columns in a
// table once and returns the per-row predicate, so evaluation does no name
// lookups.
type node interface {
	bind(t Table) func(i int) bool
}

type value struct {
	kind Kind
	num  float64
	str  string
	b    bool
}

type andNode struct{ l, r node }
type orNode struct{ l, r node }

// notNode negates a test, except that a row where the test's column is
// null stays excluded (see the package doc).
type notNode struct{ inner node }

func (n andNode) bind(t Table) func(int) bool {
	l, r := n.l.bind(t), n.r.bind(t)
	return func(i int) bool { return l(i) && r(i) }
}

func (n orNode) bind(t Table) func(int) bool {
	l, r := n.l.bind(t), n.r.bind(t)
	return func(i int) bool { return l(i) || r(i) }
}

func (n notNode) bind(t Table) func(int) bool {
	in := n.inner.bind(t)
	known := nullFree(n.inner, t)
	return func(i int) bool { return known(i) && !in(i) }
}

// nullFree returns a predicate that is false where a column n reads is
// null, because a negated comparison with a null is still unknown.
// "is null" tests read nulls on purpose and are always known.
func nullFree(n node, t Table) func(int) bool {
	var masks [][]bool
	var walk func(node)
	walk = func(n node) {
		switch x := n.(type) {
		case andNode:
			walk(x.l)
			walk(x.r)
		case orNode:
			walk(x.l)
			walk(x.r)
		case notNode:
			walk(x.inner)
		case cmpNode:
			masks = append(masks, nullMask(t, x.col, x.kind))
		case inNode:
			masks = append(masks, nullMask(t, x.col, x.kind))
		case likeNode:
			masks = append(masks, nullMask(t, x.col, String))
		}
	}
	walk(n)
	return func(i int) bool {
		for _, m := range masks {
			if m != nil && m[i] {
				return false
			}
		}
		return true
	}
}

func nullMask(t Table, col string, k Kind) []bool {
	switch k {
	case Number:
		_, null := t.Numbers(col)
		return null
	case String:
		_, null := t.Strings(col)
		return null
	}
	_, null := t.Bools(col)
	return null
}

type cmpNode struct {
	col  string
	kind Kind
	op   string
	val  value
}

func (n cmpNode) bind(t Table) func(int) bool {
	switch n.kind {
	case Number:
		vals, null := t.Numbers(n.col)
		v := n.val.num
		var f func(x float64) bool
		switch n.op {
		case "=":
			f = func(x float64) bool { return x == v }
		case "!=":
			f = func(x float64) bool { return x != v }
		case "<":
			f = func(x float64) bool { return x < v }
		case "<=":
			f = func(x float64) bool { return x <= v }
		case ">":
			f = func(x float64) bool { return x > v }
		default:
			f = func(x float64) bool { return x >= v }
		}
		return func(i int) bool { return !isNull(null, i) && f(vals[i]) }
	case String:
		vals, null := t.Strings(n.col)
		eq := n.op == "="
		return func(i int) bool { return !isNull(null, i) && (vals[i] == n.val.str) == eq }
	}
	vals, null := t.Bools(n.col)
	eq := n.op == "="
	return func(i int) bool { return !isNull(null, i) && (vals[i] == n.val.b) == eq }
}

type inNode struct {
	col  string
	kind Kind
	not  bool
	vals []value
}

func (n inNode) bind(t Table) func(int) bool {
	switch n.kind {
	case Number:
		vals, null := t.Numbers(n.col)
		set := map[float64]bool{}
		for _, v := range n.vals {
			set[v.num] = true
		}
		return func(i int) bool { return !isNull(null, i) && set[vals[i]] != n.not }
	case String:
		vals, null := t.Strings(n.col)
		set := map[string]bool{}
		for _, v := range n.vals {
			set[v.str] = true
		}
		return func(i int) bool { return !isNull(null, i) && set[vals[i]] != n.not }
	}
	vals, null := t.Bools(n.col)
	set := map[bool]bool{}
	for _, v := range n.vals {
		set[v.b] = true
	}
	return func(i int) bool { return !isNull(null, i) && set[vals[i]] != n.not }
}

type nullNode struct {
	col  string
	kind Kind
	not  bool
}

func (n nullNode) bind(t Table) func(int) bool {
	null := nullMask(t, n.col, n.kind)
	return func(i int) bool { return isNull(null, i) != n.not }
}

func isNull(mask []bool, i int) bool { return mask != nil && mask[i] }

type likeNode struct {
	col string
	pat string
	not bool
}

func (n likeNode) bind(t Table) func(int) bool {
	vals, null := t.Strings(n.col)
	m := compileLike(n.pat)
	return func(i int) bool { return !isNull(null, i) && m(vals[i]) != n.not }
}

// compileLike returns a matcher for a SQL LIKE pattern: % any run of
// characters, _ any one character (rune), \ escapes the next one.
func compileLike(pat string) func(string) bool {
	type part struct {
		lit []rune
		any bool // %
		one bool // _
	}
	var parts []part
	rs := []rune(pat)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; {
		case c == '\\' && i+1 < len(rs):
			i++
			if len(parts) == 0 || parts[len(parts)-1].lit == nil {
				parts = append(parts, part{lit: []rune{}})
			}
			parts[len(parts)-1].lit = append(parts[len(parts)-1].lit, rs[i])
		case c == '%':
			if len(parts) == 0 || !parts[len(parts)-1].any {
				parts = append(parts, part{any: true})
			}
		case c == '_':
			parts = append(parts, part{one: true})
		default:
			if len(parts) == 0 || parts[len(parts)-1].lit == nil {
				parts = append(parts, part{lit: []rune{}})
			}
			parts[len(parts)-1].lit = append(parts[len(parts)-1].lit, c)
		}
	}
	// A simple prefix pattern ('C%') is the common case.
	if len(parts) == 2 && parts[0].lit != nil && parts[1].any {
		pre := string(parts[0].lit)
		return func(s string) bool { return len(s) >= len(pre) && s[:len(pre)] == pre }
	}
	var match func(ps []part, s []rune) bool
	match = func(ps []part, s []rune) bool {
		for len(ps) > 0 {
			p := ps[0]
			switch {
			case p.any:
				for k := 0; k <= len(s); k++ {
					if match(ps[1:], s[k:]) {
						return true
					}
				}
				return false
			case p.one:
				if len(s) == 0 {
					return false
				}
				s = s[1:]
			default:
				if len(s) < len(p.lit) {
					return false
				}
				for j, r := range p.lit {
					if s[j] != r {
						return false
					}
				}
				s = s[len(p.lit):]
			}
			ps = ps[1:]
		}
		return len(s) == 0
	}
	return func(s string) bool { return match(parts, []rune(s)) }
}
