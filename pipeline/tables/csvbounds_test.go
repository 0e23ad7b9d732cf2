package tables

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// csvRow is what a test reads of one CSV row: its id and amount, or
// "malformed: <why>".
func csvRows(t *testing.T, src *Source) []string {
	t.Helper()
	var rows []string
	err := src.Scan(context.Background(), func(b *Batch) error {
		for i := range b.N {
			if b.Malformed != nil && b.Malformed[i] != "" {
				rows = append(rows, "malformed: "+b.Malformed[i])
				continue
			}
			rows = append(rows, b.Cols[0].Text(i)+" "+b.Cols[2].Text(i))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

var boundFields = []Field{
	{Name: "customer_id", Kind: String, Required: true},
	{Name: "note", Kind: String},
	{Name: "amount", Kind: Float, Required: true},
}

// TestCSVStrayQuote: an unmatched quote costs its own line, not the rest
// of the object: that line is a malformed row naming its line number, and
// reading resumes on the next. A quoted field over several lines that
// closes is still one row.
func TestCSVStrayQuote(t *testing.T) {
	good := func(from, to int) string {
		var sb strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&sb, "c%d,n,%d\n", i, i)
		}
		return sb.String()
	}
	cases := []struct {
		name      string
		body      string
		rows      int
		malformed map[int]string // row → text its reason holds
	}{
		{
			name: "stray quote, no quote after it",
			body: good(0, 1000) + "c1000,\"oops,1000\n" + good(1001, 3000),
			rows: 3000, malformed: map[int]string{1000: "(line 1002)"},
		},
		{
			name: "stray quote, a quoted field further on",
			body: good(0, 10) + "c10,5\" tall,10\n" + good(11, 20) + "c20,\"quoted, fine\",20\n" + good(21, 30),
			rows: 30, malformed: map[int]string{10: "(line 12)"},
		},
		{
			name: "stray quote in the last line",
			body: good(0, 5) + "c5,\"x,5",
			rows: 6, malformed: map[int]string{5: "(line 7)"},
		},
		{
			name: "quoted newline is one row",
			body: good(0, 3) + "c3,\"two\nlines\",3\n" + good(4, 6),
			rows: 6,
		},
		{
			name: "quoted newline, CRLF",
			body: "c0,n,0\r\nc1,\"two\r\nlines\",1\r\nc2,n,2\r\n",
			rows: 3,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := objstore.NewMem()
			upload(t, b, "in/o.csv", []byte("customer_id,note,amount\n"+c.body))
			src := &Source{Bucket: b, Prefix: "in", Fields: boundFields, BatchRows: 512}
			rows := csvRows(t, src)
			if len(rows) != c.rows {
				t.Fatalf("%d rows, want %d", len(rows), c.rows)
			}
			for i, r := range rows {
				want, bad := c.malformed[i]
				switch {
				case bad && !(strings.HasPrefix(r, "malformed: ") && strings.Contains(r, want)):
					t.Errorf("row %d = %q, want malformed, %q", i, r, want)
				case !bad && r != fmt.Sprintf("c%d %d", i, i):
					t.Errorf("row %d = %q, want c%d %d", i, r, i, i)
				}
			}
		})
	}
}

// TestCSVLongLine: a line longer than the row limit is one malformed
// row, its text cut to MaxValueBytes with its length given; the rows
// around it are read.
func TestCSVLongLine(t *testing.T) {
	long := "c1," + strings.Repeat("x", 100_000) + ",1\n"
	for _, quoted := range []bool{false, true} {
		t.Run(fmt.Sprint("quoted ", quoted), func(t *testing.T) {
			line := long
			if quoted {
				line = "c1,\"" + strings.Repeat("y", 100_000) + "\",1\n"
			}
			b := objstore.NewMem()
			upload(t, b, "in/o.csv", []byte("customer_id,note,amount\nc0,n,0\n"+line+"c2,n,2\n"))
			src := &Source{Bucket: b, Prefix: "in", Fields: boundFields, CSV: CSVOptions{MaxRowBytes: 4096}}
			rows := csvRows(t, src)
			if len(rows) != 3 || rows[0] != "c0 0" || rows[2] != "c2 2" {
				t.Fatalf("rows %.200q", rows)
			}
			want := fmt.Sprintf("[truncated, %d bytes]", len(line))
			if !strings.Contains(rows[1], "(line 3)") || !strings.Contains(rows[1], want) || len(rows[1]) > 2*MaxValueBytes {
				t.Errorf("long row: %.300q… (%d bytes), want line 3 and %q", rows[1], len(rows[1]), want)
			}
		})
	}
}

// lazyObject serves one object generated as it is read, so a test can
// feed a line of many megabytes without holding it.
type lazyObject struct {
	objstore.Bucket
	key  string
	open func() io.Reader
}

func (l lazyObject) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if key == l.key {
		return io.NopCloser(l.open()), nil
	}
	return l.Bucket.Get(ctx, key)
}

// TestCSVHugeLineBoundedMemory: reading a 64 MiB line allocates a small
// part of it: it is read past, not held.
func TestCSVHugeLineBoundedMemory(t *testing.T) {
	const size = 64 << 20
	b := objstore.NewMem()
	upload(t, b, "in/o.csv", nil) // listed; its bytes come from open
	lazy := lazyObject{Bucket: b, key: "in/o.csv", open: func() io.Reader {
		return io.MultiReader(strings.NewReader("customer_id,note,amount\nc0,n,0\nc1,"),
			io.LimitReader(repeatReader('z'), size), strings.NewReader(",1\nc2,n,2\n"))
	}}
	src := &Source{Bucket: lazy, Prefix: "in", Fields: boundFields}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rows := csvRows(t, src)
	runtime.ReadMemStats(&after)
	if len(rows) != 3 || !strings.Contains(rows[1], fmt.Sprintf("[truncated, %d bytes]", size+6)) {
		t.Fatalf("rows %.200q", rows)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("reading a %d-byte line allocated %d bytes", size, alloc)
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}
