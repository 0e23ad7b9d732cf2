package tables

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// csvReference reads text, one record, with encoding/csv as Strata read
// CSV before: its fields, or its error, and whether the record was all
// of text (false: encoding/csv saw more than one record in it).
func csvReference(text string, comma rune) ([]string, error, bool) {
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	rec, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, err, true
	}
	_, next := cr.Read()
	return rec, nil, errors.Is(next, io.EOF)
}

// oneRecord reports whether the record reader takes text as one record.
func oneRecord(text string) bool {
	rr := &recordReader{lr: lineReader{br: bufio.NewReader(strings.NewReader(text))}, max: DefaultMaxRowBytes, quote: '"'}
	rec, err := rr.next()
	return err == nil && rec.problem == "" && string(rec.text) == text
}

// TestCSVReadsAsEncodingCSV: well-formed CSV texts of many records read,
// through the record reader and the splitter, as encoding/csv reads them.
func TestCSVReadsAsEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "b", ",", `""`, "\r", "\n", "\r\n", " ", "é"}
	for range 5_000 {
		var text strings.Builder
		for range 1 + rng.IntN(4) {
			for k := range 1 + rng.IntN(4) {
				if k > 0 {
					text.WriteByte(',')
				}
				if rng.IntN(2) == 0 {
					text.WriteByte('"')
					for range rng.IntN(5) {
						text.WriteString(alphabet[rng.IntN(len(alphabet))])
					}
					text.WriteByte('"')
				} else {
					for range rng.IntN(4) {
						text.WriteString([]string{"a", "b", " ", "é", "\r"}[rng.IntN(5)])
					}
				}
			}
			text.WriteString([]string{"\n", "\r\n", "\n\n"}[rng.IntN(3)])
		}
		cr := csv.NewReader(strings.NewReader(text.String()))
		cr.FieldsPerRecord = -1
		want, err := cr.ReadAll()
		if err != nil {
			continue
		}
		rr := &recordReader{lr: lineReader{br: bufio.NewReader(strings.NewReader(text.String()))}, max: DefaultMaxRowBytes, quote: '"'}
		p := newCSVParser(',')
		var got [][]string
		for {
			rec, err := rr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || rec.problem != "" {
				t.Fatalf("%q: %v %s", text.String(), err, rec.problem)
			}
			fields, err := p.parse(rec.text)
			if errors.Is(err, io.EOF) {
				continue
			}
			if err != nil {
				t.Fatalf("%q: record %q: %v", text.String(), rec.text, err)
			}
			rec2 := make([]string, len(fields))
			for i, f := range fields {
				rec2[i] = strings.Clone(f) // fields view the parser's buffer
			}
			got = append(got, rec2)
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("%q: records %q, encoding/csv %q", text.String(), got, want)
		}
	}
}

// TestCSVSplitMatchesEncodingCSV: the record splitter reads every record
// as encoding/csv does — the same fields, or the same error — on crafted
// records and on many random ones built of the characters that matter.
func TestCSVSplitMatchesEncodingCSV(t *testing.T) {
	crafted := []string{
		"a,b,c\n", "a,b,c\r\n", "a,b,c", "a,b,c\r", "a,,c\n", ",\n", ",,\n", "a,\n", `"a","b"` + "\n",
		`"a,b",c` + "\n", `"a""b",c` + "\n", `"",""` + "\n", "\"two\nlines\",x\n", "\"two\r\nlines\",x\r\n",
		`a"b,c` + "\n", `"a"b,c` + "\n", `"a" ,c` + "\n", ` "a",c` + "\n", `"a,b` + "\n", `"a,b`, `a,"b"c`,
		"é,ü\n", "a\rb,c\n", `"a` + "\r" + `b",c` + "\n", "\"\"\"\",x\n", "\r", `""` + "\n", "\"a\"\r",
	}
	check := func(text string, comma rune) {
		t.Helper()
		if !oneRecord(text) {
			return // the line reader never hands such a text over whole
		}
		want, wantErr, single := csvReference(text, comma)
		if !single {
			return
		}
		got, err := newCSVParser(comma).parse([]byte(text))
		if !errors.Is(err, wantErr) && !(err != nil && wantErr != nil && errors.As(err, new(*csv.ParseError))) || (err == nil) != (wantErr == nil) {
			t.Fatalf("%q (comma %q): error %v, encoding/csv %v", text, comma, err, wantErr)
		}
		if err == nil && !slices.Equal(got, want) {
			t.Fatalf("%q (comma %q): fields %q, encoding/csv %q", text, comma, got, want)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, wantErr) {
				t.Fatalf("%q (comma %q): error %v, encoding/csv %v", text, comma, pe.Err, wantErr)
			}
		}
	}
	for _, c := range crafted {
		check(c, ',')
		check(strings.ReplaceAll(c, ",", ";"), ';')
		check(strings.ReplaceAll(c, ",", "¦"), '¦')
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", ",", `"`, `""`, "\r", "\n", "\r\n", " ", "é", "\t"}
	for range 50_000 {
		var sb strings.Builder
		for range rng.IntN(10) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		check(sb.String(), ',')
	}
	// Records of well-formed fields, quoted or not.
	for range 20_000 {
		var fields []string
		for range 1 + rng.IntN(5) {
			var f strings.Builder
			quote := rng.IntN(2) == 0
			for range rng.IntN(6) {
				ch := alphabet[rng.IntN(len(alphabet))]
				if !quote && (ch == `"` || ch == `""` || ch == "," || ch == "\n" || ch == "\r\n" || ch == "\r") {
					ch = "x"
				}
				if quote && ch == `"` {
					ch = `""`
				}
				f.WriteString(ch)
			}
			if quote {
				fields = append(fields, `"`+f.String()+`"`)
			} else {
				fields = append(fields, f.String())
			}
		}
		check(strings.Join(fields, ",")+[]string{"", "\n", "\r\n"}[rng.IntN(3)], ',')
	}
}
