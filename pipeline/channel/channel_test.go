package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/strata-oss/strata/internal/duckdbtest"
)

// contacts covers each way a row can be complete, partial or unusable.
var contacts = []Contact{
	{CustomerID: "C1", Email: " John.Smith+promo@GMAIL.com ", Phone: "(650)555-1212", FirstName: "Mary", LastName: "Na'than-Boile", CountryCode: "us", PostalCode: "37221-3312"},
	{CustomerID: "C2", Phone: "020 7031 3000", CountryCode: "GB"},                                       // phone only; a lone country is no address
	{CustomerID: "C3", FirstName: "Valéry", LastName: "Dupont", CountryCode: "FR", PostalCode: "75018"}, // address only
	{CustomerID: "C4"}, // nothing
	{CustomerID: "C5", Email: "not-an-email", FirstName: "Ann"},              // nothing usable
	{CustomerID: "C6", Phone: "555-0100"},                                    // national number, no country
	{CustomerID: "C7", Email: "x@example.com", CountryCode: "United States"}, // email; the country is not a code
}

// expected are the written rows' normalised values, in file column
// order, before hashing; stated by hand from the platforms' rules.
var expected = map[Format][][]string{
	GoogleAds: {
		{"johnsmith@gmail.com", "+16505551212", "mary", "na'than-boile", "us", "37221-3312"},
		{"", "+442070313000", "", "", "", ""},
		{"", "", "valéry", "dupont", "fr", "75018"},
		{"x@example.com", "", "", "", "", ""},
	},
	Meta: {
		{"john.smith+promo@gmail.com", "16505551212", "mary", "nathanboile", "37221", "us"},
		{"", "442070313000", "", "", "", ""},
		{"", "", "valéry", "dupont", "75018", "fr"},
		{"x@example.com", "", "", "", "", ""},
	},
	Email: {
		{"john.smith+promo@gmail.com", "Mary", "Na'than-Boile"},
		{"x@example.com", "", ""},
	},
}

// hashedColumns are the columns the platform gets as SHA-256 hex.
var hashedColumns = map[Format][]bool{
	GoogleAds: {true, true, true, true, false, false},
	Meta:      {true, true, true, true, true, true},
	Email:     {false, false, false},
}

func write(t *testing.T, f Format) ([]byte, Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := WriteAll(context.Background(), &buf, f, slices.Values(contacts))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

func TestSummaries(t *testing.T) {
	for _, tc := range []struct {
		f       Format
		written int
		skipped map[string]int
		invalid map[string]int
	}{
		{GoogleAds, 4, map[string]int{SkipNoContact: 1, SkipNoIdentifier: 2},
			map[string]int{emailInvalid: 1, phoneNoCountry: 1, countryInvalid: 1, addressIncomplete: 3}},
		{Meta, 4, map[string]int{SkipNoContact: 1, SkipNoIdentifier: 2},
			map[string]int{emailInvalid: 1, phoneNoCountry: 1, countryInvalid: 1, addressIncomplete: 3}},
		{Email, 2, map[string]int{SkipNoEmail: 4, SkipEmailInvalid: 1},
			map[string]int{emailInvalid: 1}},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			_, sum := write(t, tc.f)
			if sum.Format != tc.f || sum.Rows != len(contacts) || sum.Written != tc.written {
				t.Errorf("%s: %d rows, %d written; want %d, %d", sum.Format, sum.Rows, sum.Written, len(contacts), tc.written)
			}
			if !reflect.DeepEqual(sum.Skipped, tc.skipped) {
				t.Errorf("skipped %v, want %v", sum.Skipped, tc.skipped)
			}
			if !reflect.DeepEqual(sum.Invalid, tc.invalid) {
				t.Errorf("invalid %v, want %v", sum.Invalid, tc.invalid)
			}
			if sum.Written+sum.SkippedRows() != sum.Rows {
				t.Errorf("%d written + %d skipped != %d rows: a row went missing", sum.Written, sum.SkippedRows(), sum.Rows)
			}
		})
	}
}

// TestFilesRestatedInDuckDB reads each file with DuckDB's CSV reader and
// checks every cell against DuckDB's SHA-256 of the hand-stated normalised
// value (or the value itself, for unhashed columns).
func TestFilesRestatedInDuckDB(t *testing.T) {
	dir := t.TempDir()
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			data, _ := write(t, f)
			if first, _, _ := strings.Cut(string(data), "\n"); first != strings.Join(header[f], ",") {
				t.Errorf("header %q, want %q", first, strings.Join(header[f], ","))
			}
			path := filepath.Join(dir, string(f)+".csv")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var values []string
			for i, row := range expected[f] {
				cells := []string{fmt.Sprint(i + 1)}
				for _, v := range row {
					cells = append(cells, "'"+strings.ReplaceAll(v, "'", "''")+"'")
				}
				values = append(values, "("+strings.Join(cells, ", ")+")")
			}
			var checks []string
			for j, name := range header[f] {
				want := fmt.Sprintf("e.c%d", j)
				if hashedColumns[f][j] {
					want = fmt.Sprintf("CASE WHEN e.c%d = '' THEN '' ELSE sha256(e.c%[1]d) END", j)
				}
				checks = append(checks, fmt.Sprintf(`CASE WHEN coalesce(f."%s", '') <> %s THEN '%[1]s' END`, name, want))
			}
			cols := make([]string, len(header[f]))
			for j := range cols {
				cols[j] = fmt.Sprintf("c%d", j)
			}
			rows := duckdbtest.Query(t, fmt.Sprintf(`
				WITH f AS (SELECT row_number() OVER () AS i, * FROM read_csv('%s', header = true, all_varchar = true)),
				e AS (SELECT * FROM (VALUES %s) v(i, %s))
				SELECT count(f.i) AS file_rows, count(e.i) AS expected_rows,
				       string_agg(coalesce(e.i, f.i)::VARCHAR || ': ' || concat_ws(',', %s), '; ') AS wrong
				FROM f FULL JOIN e ON f.i = e.i`,
				path, strings.Join(values, ", "), strings.Join(cols, ", "), strings.Join(checks, ", ")))
			r := rows[0]
			if fmt.Sprint(r["file_rows"]) != fmt.Sprint(len(expected[f])) || fmt.Sprint(r["expected_rows"]) != fmt.Sprint(len(expected[f])) {
				t.Errorf("file has %v rows, %v expected rows matched; want %d", r["file_rows"], r["expected_rows"], len(expected[f]))
			}
			for _, part := range strings.Split(fmt.Sprint(r["wrong"]), "; ") {
				if _, cols, _ := strings.Cut(part, ": "); cols != "" {
					t.Errorf("row %s differs from DuckDB's restatement", part)
				}
			}
		})
	}
}

// TestControlNeverWritten: every row marked control is skipped, in every
// format, and its contact values appear nowhere in the file.
func TestControlNeverWritten(t *testing.T) {
	for _, f := range Formats {
		rows := []Contact{contacts[0], {Email: "held.back@example.com", Phone: "+44 20 7946 0000", FirstName: "Held",
			LastName: "Back", CountryCode: "GB", PostalCode: "SW1A 1AA", Control: true}}
		var buf bytes.Buffer
		sum, err := WriteAll(context.Background(), &buf, f, slices.Values(rows))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Written != 1 || sum.Skipped[SkipControl] != 1 {
			t.Errorf("%s: %+v", f, sum)
		}
		for _, v := range []string{"held", "back", "sw1a", "SW1A", "+442079460000", "442079460000"} {
			if strings.Contains(strings.ToLower(buf.String()), strings.ToLower(v)) || strings.Contains(buf.String(), sha256Hex(v)) {
				t.Errorf("%s: the control row's %q is in the file", f, v)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, f := range Formats {
		a, _ := write(t, f)
		b, _ := write(t, f)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two writes of the same rows differ", f)
		}
	}
}

func TestEmptyFileHasHeader(t *testing.T) {
	for _, f := range Formats {
		var buf bytes.Buffer
		sum, err := WriteAll(context.Background(), &buf, f, slices.Values([]Contact(nil)))
		if err != nil || sum.Rows != 0 || buf.String() != strings.Join(header[f], ",")+"\n" {
			t.Errorf("%s: empty file %q, %+v, %v", f, buf.String(), sum, err)
		}
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorReported(t *testing.T) {
	_, err := WriteAll(context.Background(), failing{}, GoogleAds, slices.Values(contacts))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v, want the writer's", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	many := func(yield func(Contact) bool) {
		for i := 0; i < 10_000; i++ {
			if !yield(contacts[0]) {
				return
			}
		}
	}
	if _, err := WriteAll(ctx, &bytes.Buffer{}, Meta, many); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled write: %v", err)
	}
	if _, err := ParseFormat("csv"); err == nil {
		t.Error(`ParseFormat("csv") accepted: csv is not a channel format`)
	}
	if f, err := ParseFormat("meta"); err != nil || f != Meta {
		t.Errorf(`ParseFormat("meta") = %q, %v`, f, err)
	}
}
