package audience

import (
	"slices"
	"strings"
	"testing"
)

var schema = Schema{"rfm_segment": String, "clv": Number, "frequency": Number, "email_opt_in": Bool, "cluster_id": Number}

// table is a small in-memory Table; NaN-free, with explicit null masks.
type table struct {
	n    int
	nums map[string][]float64
	strs map[string][]string
	bols map[string][]bool
	null map[string][]bool
}

func (t *table) Len() int                             { return t.n }
func (t *table) Numbers(c string) ([]float64, []bool) { return t.nums[c], t.null[c] }
func (t *table) Strings(c string) ([]string, []bool)  { return t.strs[c], t.null[c] }
func (t *table) Bools(c string) ([]bool, []bool)      { return t.bols[c], t.null[c] }

func sample() *table {
	return &table{
		n:    6,
		strs: map[string][]string{"rfm_segment": {"At Risk", "Champions", "Can't Lose Them", "At Risk", "Lost", ""}},
		nums: map[string][]float64{
			"clv":        {250, 900, 150, 0, 10, 0},
			"frequency":  {3, 20, 8, 2, 1, 0},
			"cluster_id": {1, 2, 1, 0, 0, 0},
		},
		bols: map[string][]bool{"email_opt_in": {true, true, false, true, false, false}},
		// Row 3 has no CLV; row 5 has no segment, CLV or opt-in.
		null: map[string][]bool{
			"clv":          {false, false, false, true, false, true},
			"rfm_segment":  {false, false, false, false, false, true},
			"email_opt_in": {false, false, false, false, false, true},
		},
	}
}

func TestSelect(t *testing.T) {
	cases := []struct {
		filter string
		want   []int
	}{
		{`rfm_segment in ["At Risk", "Can't Lose Them"] and clv > 200`, []int{0}},
		{`rfm_segment in ['At Risk', 'Can''t Lose Them']`, []int{0, 2, 3}},
		{`rfm_segment not in ["At Risk"]`, []int{1, 2, 4}},
		{`clv >= 150 or frequency = 1`, []int{0, 1, 2, 4}},
		{`clv > 200`, []int{0, 1}},
		{`not clv > 200`, []int{2, 4}}, // nulls excluded both ways
		{`clv is null`, []int{3, 5}},
		{`clv is not null and email_opt_in = true`, []int{0, 1}},
		{`email_opt_in != true`, []int{2, 4}},
		{`NOT (cluster_id = 1 OR cluster_id == 2)`, []int{3, 4, 5}},
		{`(frequency < 3 and frequency <> 0) or rfm_segment = "Champions"`, []int{1, 3, 4}},
		{`cluster_id in [0, 2] and not email_opt_in = false`, []int{1, 3}},
		{`frequency <= 2.5e0 AND frequency > -1`, []int{3, 4, 5}},
	}
	tbl := sample()
	for _, tc := range cases {
		f, err := Compile(tc.filter, schema)
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		if got := f.Select(tbl); !slices.Equal(got, tc.want) {
			t.Errorf("%s: rows %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct{ filter, want string }{
		{``, "at column 1: expected a column name, found end of filter"},
		{`clv > "big"`, `at column 7: "clv" is a number column, compared with a string`},
		{`rfm_segment > "A"`, `"rfm_segment" is a string column: only = and != compare it`},
		{`clvv > 3`, `unknown column "clvv"; did you mean "clv"?`},
		{`customer_email = "x"`, `unknown column "customer_email"`},
		{`clv > 3 and`, `expected a column name, found end of filter`},
		{`(clv > 3`, `expected ")" to close the "(" at column 1`},
		{`clv > 3)`, `unexpected ")" after a complete filter`},
		{`rfm_segment in "A"`, `expected "[" to start the list`},
		{`rfm_segment in ["A" "B"]`, `expected "," or "]" in the list`},
		{`rfm_segment = "open`, `unterminated string`},
		{`clv ! 3`, `"!" is not an operator`},
		{`clv is 3`, `expected "null" after "is"`},
		{`clv > 1e999`, `bad number`},
		{`clv > 3 # comment`, `unexpected character '#'`},
		{strings.Repeat("(", 200) + "clv > 1" + strings.Repeat(")", 200), "nested more than 100 deep"},
		{`and > 3`, `expected a column name, found "and"`},
	}
	for _, tc := range cases {
		_, err := Compile(tc.filter, schema)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.filter, err, tc.want)
		}
	}
}

func TestColumns(t *testing.T) {
	f, err := Compile(`clv > 1 and (frequency > 2 or clv < 9) and rfm_segment is not null`, schema)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Columns(); !slices.Equal(got, []string{"clv", "frequency", "rfm_segment"}) {
		t.Errorf("columns %v", got)
	}
}

// FuzzCompile: any input either fails to compile with an *Error or
// compiles to a filter that runs over the sample table without panicking
// and selects valid, increasing rows. Type checking is on the path: a
// filter that passes it also passes the syntax-only Check, reads only
// schema columns, and its negation selects none of its rows (nulls pass
// neither way). The seed corpus in testdata/fuzz/FuzzCompile holds type
// mismatches, odd quoting, unicode and huge numbers.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`rfm_segment in ["At Risk", "Can't Lose Them"] and clv > 200`,
		`not (clv is null or frequency < 2)`, `email_opt_in = true`, `cluster_id not in [1, 2.5, -3e2]`,
		`'a''b'`, `((((`, `clv >= -0.5e-3`, "rfm_segment = \"\\\"\"",
	} {
		f.Add(s)
	}
	tbl := sample()
	f.Fuzz(func(t *testing.T, src string) {
		flt, err := Compile(src, schema)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if err := Check(src); err != nil {
			t.Fatalf("type-checked filter fails the syntax check: %v", err)
		}
		for _, c := range flt.Columns() {
			if _, ok := schema[c]; !ok {
				t.Fatalf("filter reads %q, not in the schema", c)
			}
		}
		rows := flt.Select(tbl)
		for i, r := range rows {
			if r < 0 || r >= tbl.n || (i > 0 && rows[i-1] >= r) {
				t.Fatalf("bad rows %v", rows)
			}
		}
		if neg, err := Compile("not ("+src+")", schema); err == nil {
			for _, r := range neg.Select(tbl) {
				if slices.Contains(rows, r) {
					t.Fatalf("row %d passes both the filter and its negation", r)
				}
			}
		}
	})
}

func TestCheckIsSyntaxOnly(t *testing.T) {
	if err := Check(`anything_at_all > "x" and other in [1, 'a']`); err != nil {
		t.Errorf("syntax-only check rejected a well-formed filter: %v", err)
	}
	if err := Check(`clv > `); err == nil {
		t.Error("syntax-only check accepted a truncated filter")
	}
}

func TestLikeAndParenLists(t *testing.T) {
	schema := Schema{"order_id": String, "category": String, "quantity": Number}
	tbl := memTable{n: 5, str: map[string][]string{
		"order_id": {"C536379", "536380", "c1", "C", "A_C"},
		"category": {"POSTAGE", "Bank Charges", "toys", "POSTAGE", ""},
	}, null: map[string][]bool{"category": {false, false, false, false, true}},
		num: map[string][]float64{"quantity": {-1, 2, 3, -4, 5}}}
	for src, want := range map[string][]int{
		`order_id like 'C%'`:                             {0, 3},
		`order_id not like 'C%'`:                         {1, 2, 4},
		`order_id like '_\_C'`:                           {4},
		`order_id like '%3%0'`:                           {1},
		`category in ("POSTAGE", "Bank Charges")`:        {0, 1, 3},
		`not category in ("POSTAGE", "Bank Charges")`:    {2},
		`order_id like 'C%' or quantity < 0`:             {0, 3},
		`category like '%a%' and not order_id like 'C%'`: {1},
	} {
		f, err := Compile(src, schema)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := f.Select(tbl); !slices.Equal(got, want) {
			t.Errorf("%s: rows %v, want %v", src, got, want)
		}
	}
	for _, src := range []string{`quantity like '1%'`, `order_id like 5`, `category in ("a"]`} {
		if _, err := Compile(src, schema); err == nil {
			t.Errorf("%s compiled", src)
		}
	}
}

type memTable struct {
	n    int
	str  map[string][]string
	num  map[string][]float64
	null map[string][]bool
}

func (m memTable) Len() int                             { return m.n }
func (m memTable) Numbers(c string) ([]float64, []bool) { return m.num[c], m.null[c] }
func (m memTable) Strings(c string) ([]string, []bool)  { return m.str[c], m.null[c] }
func (m memTable) Bools(c string) ([]bool, []bool)      { return nil, m.null[c] }
