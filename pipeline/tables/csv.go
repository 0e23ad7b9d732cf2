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

// csvReader opens key and returns a CSV reader positioned after the header,
// the header, and a closer.
func (s *Source) openCSV(ctx context.Context, key string) (*csv.Reader, []string, io.Closer, error) {
	rc, err := s.Bucket.Get(ctx, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open %s: %w", key, err)
	}
	br := bufio.NewReaderSize(rc, 1<<20)
	if strings.HasSuffix(strings.ToLower(key), ".gz") {
		gz, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, nil, nil, fmt.Errorf("open gzip %s: %w", key, err)
		}
		br = bufio.NewReader(gz)
	}
	// A byte-order mark, as spreadsheet exports write, goes before the
	// CSV parser sees it: in front of a quoted header ("\ufeff\"id\",...")
	// it would make the quote a bare one and the header unreadable.
	if b, _ := br.Peek(3); string(b) == "\ufeff" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	if s.CSV.Comma != 0 {
		cr.Comma = s.CSV.Comma
	}
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		rc.Close()
		if errors.Is(err, io.EOF) {
			return nil, nil, nil, &SchemaError{Key: key, Problems: []string{"empty file: no header row"}}
		}
		return nil, nil, nil, fmt.Errorf("read header of %s: %w", key, err)
	}
	header = append([]string(nil), header...)
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	return cr, header, rc, nil
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
	_, header, c, err := s.openCSV(ctx, key)
	if err != nil {
		var se *SchemaError
		if errors.As(err, &se) {
			return se.Problems, nil
		}
		return nil, err
	}
	c.Close()
	_, _, probs := s.bindCSV(header)
	return probs, nil
}

func (s *Source) scanCSV(ctx context.Context, key string, batch *Batch, fn func(*Batch) error) error {
	cr, header, c, err := s.openCSV(ctx, key)
	if err != nil {
		return err
	}
	defer c.Close()
	idx, units, probs := s.bindCSV(header)
	if len(probs) > 0 {
		return &SchemaError{Key: key, Problems: probs}
	}
	size := s.batchRows()
	batch.Key = key
	if len(batch.Cols) != len(s.Fields) {
		batch.Cols = make([]Column, len(s.Fields))
	}
	// Rows are parsed into the batch as they are read; text of a row is
	// only kept when a cell is bad.
	var first int64
	n := 0
	start := func() {
		batch.FirstRow, batch.N, batch.Malformed = first, 0, nil
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
	start()
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return fmt.Errorf("read %s: %w", key, err)
		}
		if err != nil || len(rec) != len(header) {
			// The row is kept as a malformed row so it is quarantined, not lost.
			if batch.Malformed == nil {
				batch.Malformed = make([]string, size)
			}
			if err != nil {
				batch.Malformed[n] = "unparsable CSV row: " + pe.Err.Error()
			} else {
				batch.Malformed[n] = fmt.Sprintf("CSV row has %d fields, header has %d: %q", len(rec), len(header), strings.Join(rec, string(cr.Comma)))
			}
			for fi := range s.Fields {
				if idx[fi] >= 0 {
					batch.Cols[fi].setNull(n, size)
				}
			}
		} else {
			for fi, f := range s.Fields {
				if idx[fi] >= 0 {
					convertText(rec[idx[fi]], textKind(f.Kind), units[fi], &batch.Cols[fi], n, size, s.CSV.TimeLayouts)
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
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			col.setBad(i, n, strings.Clone(s))
			return
		}
		col.F[i] = f
	case Int:
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(t, 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
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
