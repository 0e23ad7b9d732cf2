package tables

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// csvObject is an open CSV object, positioned after its header.
type csvObject struct {
	rr     *recordReader
	parser *csvParser
	header []string
	closer io.Closer
}

// maxRowBytes is the most bytes a CSV row may hold.
func (s *Source) maxRowBytes() int {
	if s.CSV.MaxRowBytes > 0 {
		return s.CSV.MaxRowBytes
	}
	return DefaultMaxRowBytes
}

// openCSV opens key and reads its header.
func (s *Source) openCSV(ctx context.Context, key string) (*csvObject, error) {
	rc, err := s.Bucket.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	br := bufio.NewReaderSize(rc, 1<<20)
	if strings.HasSuffix(strings.ToLower(key), ".gz") {
		gz, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("open gzip %s: %w", key, err)
		}
		br = bufio.NewReaderSize(gz, 256<<10)
	}
	// A byte-order mark, as spreadsheet exports write, goes before the
	// CSV parser sees it: in front of a quoted header ("\ufeff\"id\",...")
	// it would make the quote a bare one and the header unreadable.
	if b, _ := br.Peek(3); string(b) == "\ufeff" {
		br.Discard(3)
	}
	comma := s.CSV.Comma
	if comma == 0 {
		comma = ','
	}
	o := &csvObject{rr: &recordReader{lr: lineReader{br: br}, max: s.maxRowBytes(), quote: '"'}, parser: newCSVParser(comma), closer: rc}
	header, err := o.readHeader()
	if err != nil {
		rc.Close()
		if errors.Is(err, io.EOF) {
			return nil, &SchemaError{Key: key, Problems: []string{"empty file: no header row"}}
		}
		return nil, fmt.Errorf("read header of %s: %w", key, err)
	}
	o.header = header
	return o, nil
}

func (o *csvObject) readHeader() ([]string, error) {
	rec, err := o.rr.next()
	if err != nil {
		return nil, err
	}
	if rec.problem != "" {
		return nil, fmt.Errorf("line %d: %s", rec.line, rec.problem)
	}
	fields, err := o.parser.parse(rec.text)
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %w", rec.line, pe.Err)
		}
		return nil, err
	}
	header := make([]string, len(fields))
	for i := range fields {
		header[i] = strings.Clone(strings.TrimSpace(fields[i])) // fields view the parser's buffer
	}
	return header, nil
}

func (s *Source) bindCSV(header []string) ([]int, []TimeUnit, []string) {
	idx := make([]int, len(s.Fields))
	units := make([]TimeUnit, len(s.Fields))
	var probs []string
	for fi, f := range s.Fields {
		idx[fi] = -1
		name, unit := s.physical(f)
		units[fi] = unit
		// A mapped column that appears twice is ambiguous: which one the
		// user meant can not be told, so it is a schema problem rather
		// than a silent choice of the first.
		dups := 0
		for hi, h := range header {
			if h == name {
				if idx[fi] < 0 {
					idx[fi] = hi
				}
				dups++
			}
		}
		if dups > 1 {
			probs = append(probs, fmt.Sprintf("column %q (for %s) appears %d times in the header", name, f.Name, dups))
		}
		if idx[fi] < 0 && f.Required {
			probs = append(probs, fmt.Sprintf("required column %q (for %s) not found; columns are: %s",
				name, f.Name, strings.Join(header, ", ")))
		}
	}
	return idx, units, probs
}

func (s *Source) checkCSVHeader(ctx context.Context, key string) ([]string, error) {
	o, err := s.openCSV(ctx, key)
	if err != nil {
		var se *SchemaError
		if errors.As(err, &se) {
			return se.Problems, nil
		}
		return nil, err
	}
	o.closer.Close()
	_, _, probs := s.bindCSV(o.header)
	return probs, nil
}

func (s *Source) scanCSV(ctx context.Context, key string, batch *Batch, fn func(*Batch) error) error {
	o, err := s.openCSV(ctx, key)
	if err != nil {
		return err
	}
	defer o.closer.Close()
	header := o.header
	idx, units, probs := s.bindCSV(header)
	if len(probs) > 0 {
		return &SchemaError{Key: key, Problems: probs}
	}
	size := s.batchRows()
	batch.Key = key
	if len(batch.Cols) != len(s.Fields) {
		batch.Cols = make([]Column, len(s.Fields))
	}
	if batch.csv == nil {
		batch.csv = &csvText{}
	}
	batch.csv.idx, batch.csv.comma, batch.csv.parser = idx, o.parser.comma, nil
	// Rows are parsed into the batch as they are read; the text of each
	// is kept too, in one buffer, for the quarantine records of the rows
	// that turn out bad (Batch.Text).
	var first int64
	n := 0
	start := func() {
		batch.FirstRow, batch.N, batch.Malformed = first, 0, nil
		batch.csv.reset()
		for fi, f := range s.Fields {
			if idx[fi] < 0 {
				batch.Cols[fi].Present = false
				continue
			}
			batch.Cols[fi].reset(textKind(f.Kind), size)
		}
		n = 0
	}
	flush := func() error {
		if n == 0 {
			return nil
		}
		batch.N = n
		for fi := range s.Fields {
			if idx[fi] >= 0 {
				truncate(&batch.Cols[fi], n)
			}
		}
		if batch.Malformed != nil {
			batch.Malformed = batch.Malformed[:n]
		}
		err := fn(batch)
		first += int64(n)
		return err
	}
	malformed := func(why string) {
		if batch.Malformed == nil {
			batch.Malformed = make([]string, size)
		}
		batch.Malformed[n] = why
		for fi := range s.Fields {
			if idx[fi] >= 0 {
				batch.Cols[fi].setNull(n, size)
			}
		}
	}
	start()
	for {
		rec, err := o.rr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		var fields []string
		if rec.problem == "" {
			fields, err = o.parser.parse(rec.text)
			if errors.Is(err, io.EOF) {
				continue // nothing but line ends
			}
			if (err != nil || len(fields) != len(header)) && o.rr.spans() {
				// A record over several lines that does not parse is a
				// stray quote's doing, most likely: its first line is the
				// bad row, and the lines after it are read again.
				o.rr.giveBack()
				rec.text, rec.size = rec.text[:o.rr.first], int64(o.rr.first)
				if err == nil {
					err = fmt.Errorf("a quoted field runs over several lines and the row does not parse: %d fields, the header has %d", len(fields), len(header))
				}
			}
		}
		batch.csv.add(rec)
		var pe *csv.ParseError
		switch {
		case rec.problem != "":
			malformed(fmt.Sprintf("unparsable CSV row (line %d): %s: %q", rec.line, rec.problem, clipBytes(string(rec.text), rec.size)))
		case errors.As(err, &pe):
			malformed(fmt.Sprintf("unparsable CSV row (line %d): %s: %q", rec.line, pe.Err, Clip(string(rec.text))))
		case err != nil:
			malformed(fmt.Sprintf("unparsable CSV row (line %d): %s: %q", rec.line, err, Clip(string(rec.text))))
		case len(fields) != len(header):
			malformed(fmt.Sprintf("CSV row has %d fields, header has %d: %q", len(fields), len(header), Clip(strings.Join(fields, string(o.parser.comma)))))
		default:
			for fi, f := range s.Fields {
				if idx[fi] >= 0 {
					convertText(fields[idx[fi]], textKind(f.Kind), units[fi], &batch.Cols[fi], n, size, s.CSV.TimeLayouts)
				}
			}
		}
		n++
		if n == size {
			if err := flush(); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			start()
		}
	}
	return flush()
}

// textKind is the kind a field is read as from text: identifiers are
// strings.
func textKind(k Kind) Kind {
	if k == Key {
		return String
	}
	return k
}

func truncate(c *Column, n int) {
	switch c.Kind {
	case String:
		c.Str = c.Str[:n]
	case Float:
		c.F = c.F[:n]
	case Int, Time:
		c.I = c.I[:n]
	case Bool:
		c.B = c.B[:n]
	case StringList:
		c.L = c.L[:n]
	}
	if c.Null != nil {
		c.Null = c.Null[:n]
	}
	if c.Bad != nil {
		c.Bad, c.BadRaw = c.Bad[:n], c.BadRaw[:n]
	}
}

// convertText stores CSV cell s as row i of col. An empty cell is null.
func convertText(s string, kind Kind, unit TimeUnit, col *Column, i, n int, layouts []string) {
	t := strings.TrimSpace(s)
	if t == "" {
		col.setNull(i, n)
		return
	}
	switch kind {
	case String:
		col.Str[i] = strings.Clone(s)
	case Float:
		f, ok := parseNumber(t)
		if !ok {
			col.setBad(i, n, strings.Clone(s))
			return
		}
		col.F[i] = f
	case Int:
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			f, ok := parseNumber(t)
			if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
				col.setBad(i, n, strings.Clone(s))
				return
			}
			v = int64(f)
		}
		col.I[i] = v
	case Time:
		us, ok := parseTimeUnit(t, unit, layouts)
		if !ok {
			col.setBad(i, n, strings.Clone(s))
			return
		}
		col.I[i] = us
	case Bool:
		b, ok := parseBool(t)
		if !ok {
			col.setBad(i, n, strings.Clone(s))
			return
		}
		col.B[i] = b
	case StringList:
		col.L[i] = splitList(strings.Clone(t))
	}
}
