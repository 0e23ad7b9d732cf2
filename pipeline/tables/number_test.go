package tables

import (
	"math"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// TestParseNumber: number text is what data exports write — sign, digits,
// one decimal point, exponent, NaN/Inf words — and nothing of Go's own
// literal syntax (underscores, hex floats) nor thousands separators.
func TestParseNumber(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"12", 12, true},
		{"-12.50", -12.5, true},
		{"+3", 3, true},
		{".5", 0.5, true},
		{"5.", 5, true},
		{"1e3", 1000, true},
		{"2.5E-4", 2.5e-4, true},
		{"1E+2", 100, true},
		{"Inf", math.Inf(1), true},
		{"-infinity", math.Inf(-1), true},
		{"1_000", 0, false},
		{"0x1p4", 0, false},
		{"0x10", 0, false},
		{"1,000", 0, false},
		{"1.000.000", 0, false},
		{"1e", 0, false},
		{"e5", 0, false},
		{".", 0, false},
		{"-", 0, false},
		{"", 0, false},
		{"12abc", 0, false},
		{"1e400", 0, false},
		{"١٢", 0, false}, // Arabic-Indic digits
	}
	for _, c := range cases {
		got, ok := parseNumber(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseNumber(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	if f, ok := parseNumber("nan"); !ok || !math.IsNaN(f) {
		t.Errorf("parseNumber(nan) = %v, %v", f, ok)
	}
}

// TestCSVAmountTextRaw: an amount in Go syntax is a bad cell, and a
// row's text is the cells as written ("1e16" stays "1e16", "12.50" stays
// "12.50", surrounding spaces accepted and shown).
func TestCSVAmountTextRaw(t *testing.T) {
	b := objstore.NewMem()
	upload(t, b, "in/o.csv", []byte("customer_id,note,amount\na,x,1_000\nb,x,0x1p4\nc,x, 1e16 \nd,x,12.50\n"))
	src := &Source{Bucket: b, Prefix: "in", Fields: boundFields}
	type row struct {
		bad  bool
		text string
	}
	want := []row{{true, "1_000"}, {true, "0x1p4"}, {false, " 1e16 "}, {false, "12.50"}}
	var got []row
	if err := src.Scan(t.Context(), func(bt *Batch) error {
		for i := range bt.N {
			got = append(got, row{bt.Cols[2].IsBad(i), bt.Text(2, i)})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows", len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
