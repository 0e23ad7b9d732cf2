package tables

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// DefaultMaxRowBytes bounds a CSV row (CSVOptions.MaxRowBytes): a longer
// line is quarantined without being held, and a quoted field left open
// looks no further ahead than this for its closing quote.
const DefaultMaxRowBytes = 1 << 20

// MaxValueBytes bounds a value shown in a quarantine record or an error:
// a longer one is cut there (at a character boundary) and marked with its
// length by Clip. A 200 MB malformed line must not become a 200 MB cell
// (and Parquet statistics of it) in the quarantine table.
const MaxValueBytes = 1024

// Clip returns s, or when s is longer than MaxValueBytes, its first
// MaxValueBytes bytes (whole characters) followed by a marker giving
// the original length: "…[truncated, 209715200 bytes]".
func Clip(s string) string {
	return clipBytes(s, int64(len(s)))
}

// clipBytes is Clip for a prefix s of a text of size bytes.
func clipBytes(s string, size int64) string {
	if size <= MaxValueBytes && int64(len(s)) == size {
		return s
	}
	cut := min(len(s), MaxValueBytes)
	for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…[truncated, %d bytes]", s[:cut], size)
}

// lineReader hands out an object's lines, each at most a given number of
// bytes at a time, reading bytes pushed back before the rest of the
// object. Nothing is held beyond the line being read: a line of 200 MB
// costs the bufio buffer, not 200 MB.
type lineReader struct {
	br     *bufio.Reader
	replay []byte // pushed back; read before br
	lines  int64  // lines read whole
}

// avail returns the bytes that can be read next without blocking on more
// than one read, or an error (io.EOF at the end).
func (lr *lineReader) avail() ([]byte, error) {
	if len(lr.replay) > 0 {
		return lr.replay, nil
	}
	if lr.br.Buffered() == 0 {
		if _, err := lr.br.Peek(1); err != nil {
			return nil, err
		}
	}
	b, _ := lr.br.Peek(lr.br.Buffered())
	return b, nil
}

func (lr *lineReader) consume(n int) {
	if len(lr.replay) > 0 {
		lr.replay = lr.replay[n:]
		return
	}
	lr.br.Discard(n)
}

// appendLine appends up to room bytes of the next line, its '\n'
// included, to dst. whole says the line ended (at '\n' or the end of the
// object) within them; otherwise its rest is still unread. io.EOF means
// there was no line left.
func (lr *lineReader) appendLine(dst []byte, room int) (out []byte, whole bool, err error) {
	start := len(dst)
	for len(dst)-start < room {
		b, err := lr.avail()
		if errors.Is(err, io.EOF) {
			if len(dst) == start {
				return dst, false, io.EOF
			}
			lr.lines++
			return dst, true, nil
		}
		if err != nil {
			return dst, false, err
		}
		end := len(b)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			end = i + 1
		}
		take := min(end, room-(len(dst)-start))
		dst = append(dst, b[:take]...)
		lr.consume(take)
		if take == end && b[end-1] == '\n' {
			lr.lines++
			return dst, true, nil
		}
	}
	return dst, false, nil
}

// skipLine reads and drops the rest of the current line, returning how
// many bytes it had.
func (lr *lineReader) skipLine() (int64, error) {
	var n int64
	for {
		b, err := lr.avail()
		if errors.Is(err, io.EOF) {
			lr.lines++
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			lr.consume(i + 1)
			lr.lines++
			return n + int64(i+1), nil
		}
		lr.consume(len(b))
		n += int64(len(b))
	}
}

// pushBack makes b the next bytes read, before what was pushed back
// already; lines is how many whole lines b holds.
func (lr *lineReader) pushBack(b []byte, lines int64) {
	lr.replay = append(bytes.Clone(b), lr.replay...)
	lr.lines -= lines
}

// csvRecord is one row of a CSV object: the text of a record, or of the
// line that could not start one.
type csvRecord struct {
	text []byte // the record's bytes, newlines included; a prefix when long
	size int64  // the bytes of input it stands for
	line int64  // its first line, 1-based
	// problem, when set, says why the row could not be read: a line
	// longer than the limit, or a quote that opens a field no quote
	// closes within it.
	problem string
}

// recordReader splits a CSV object into records the way encoding/csv
// reads them (a quoted field may hold newlines; empty lines are skipped),
// except that a record is never longer than max bytes. A quote left open
// on a line — a stray one — takes the rest of the object into one field
// for encoding/csv; here the lines after it are read ahead only as far as
// max, and if no quote closes the field by then, or the record they make
// does not parse, the first line alone is the bad row and reading resumes
// on the next.
type recordReader struct {
	lr    lineReader
	max   int
	quote byte
	buf   []byte
	// first is the length of the current record's first line, and lines
	// the whole lines after it, for giving them back.
	first int
	lines int64
}

// next reads the next record, or io.EOF. Its text is valid until the
// next call.
func (rr *recordReader) next() (csvRecord, error) {
	for {
		if rec, ok := rr.whole(); ok {
			if isEmptyLine(rec.text) {
				continue
			}
			return rec, nil
		}
		rr.buf = rr.buf[:0]
		line := rr.lr.lines + 1
		buf, whole, err := rr.lr.appendLine(rr.buf, rr.max)
		rr.buf = buf
		if err != nil {
			return csvRecord{}, err
		}
		if !whole {
			rest, err := rr.lr.skipLine()
			if err != nil {
				return csvRecord{}, err
			}
			size := int64(len(buf)) + rest
			return csvRecord{text: buf, size: size, line: line,
				problem: fmt.Sprintf("line of %d bytes is longer than the %d a row may hold", size, rr.max)}, nil
		}
		if isEmptyLine(buf) {
			continue // as encoding/csv does
		}
		rr.first, rr.lines = len(buf), 0
		open := bytes.Count(buf, []byte{rr.quote})%2 == 1
		for open {
			n := len(rr.buf)
			buf, whole, err := rr.lr.appendLine(rr.buf, rr.max-n)
			rr.buf = buf
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return csvRecord{}, err
			}
			if whole {
				rr.lines++
			}
			open = open != (bytes.Count(buf[n:], []byte{rr.quote})%2 == 1)
			if !whole || len(buf) >= rr.max {
				break
			}
		}
		rec := csvRecord{text: rr.buf, size: int64(len(rr.buf)), line: line}
		if open {
			rr.giveBack()
			rec.text, rec.size = rr.buf[:rr.first], int64(rr.first)
			rec.problem = fmt.Sprintf("a quote opens a field that no quote closes within %d bytes", rr.max)
		}
		return rec, nil
	}
}

// whole is next's fast path, for the common record: a line with its
// line end in the read buffer, no longer than max, with no quote left
// open. Its text is the buffer's, not copied.
func (rr *recordReader) whole() (csvRecord, bool) {
	if len(rr.lr.replay) > 0 || rr.lr.br.Buffered() == 0 {
		return csvRecord{}, false
	}
	b, _ := rr.lr.br.Peek(rr.lr.br.Buffered())
	i := bytes.IndexByte(b, '\n')
	if i < 0 || i >= rr.max {
		return csvRecord{}, false
	}
	line := b[:i+1]
	if bytes.IndexByte(line, rr.quote) >= 0 && bytes.Count(line, []byte{rr.quote})%2 == 1 {
		return csvRecord{}, false
	}
	// Discard keeps the bytes where they are until the next read fills
	// the buffer: line stays valid until then.
	rr.lr.br.Discard(i + 1)
	rr.lr.lines++
	rr.buf, rr.first, rr.lines = rr.buf[:0], 0, 0 // spans is false
	return csvRecord{text: line, size: int64(len(line)), line: rr.lr.lines}, true
}

// giveBack pushes back what the current record read after its first
// line, so that reading resumes on the next line.
func (rr *recordReader) giveBack() {
	if len(rr.buf) > rr.first {
		rr.lr.pushBack(rr.buf[rr.first:], rr.lines)
	}
	rr.lines = 0
}

// spans reports whether the current record is more than its first line.
func (rr *recordReader) spans() bool { return len(rr.buf) > rr.first }

func isEmptyLine(b []byte) bool {
	return len(b) == 1 && b[0] == '\n' || len(b) == 2 && b[0] == '\r' && b[1] == '\n'
}

// csvText keeps the text of a CSV batch's rows, so that a row found bad
// later can be shown as the input wrote it rather than as its values
// format (an amount of "1e16" is not "1e+16", "12.50" is not "12.5").
type csvText struct {
	idx   []int // each field's column in the header, -1 when absent
	comma rune
	text  []byte  // the rows' texts, one after another
	ends  []int   // where each row's text ends in text
	sizes []int64 // the bytes of input each row stands for
	total int64

	parser *csvParser // for parsing a row again
	row    int        // the row cells holds, -1 for none
	cells  []string
}

func (c *csvText) reset() {
	c.text, c.ends, c.sizes, c.total = c.text[:0], c.ends[:0], c.sizes[:0], 0
	c.row = -1
}

func (c *csvText) add(rec csvRecord) {
	c.text = append(c.text, rec.text...)
	c.ends = append(c.ends, len(c.text))
	c.sizes = append(c.sizes, rec.size)
	c.total += rec.size
}

// cell is field fi's text in row i, or false when the row does not
// parse (a malformed row) or lacks the field.
func (c *csvText) cell(fi, i int) (string, bool) {
	if i < 0 || i >= len(c.ends) || fi < 0 || fi >= len(c.idx) || c.idx[fi] < 0 {
		return "", false
	}
	if c.row != i {
		if c.parser == nil {
			c.parser = newCSVParser(c.comma)
		}
		lo := 0
		if i > 0 {
			lo = c.ends[i-1]
		}
		fields, err := c.parser.parse(c.text[lo:c.ends[i]])
		if err != nil {
			return "", false
		}
		c.cells = append(c.cells[:0], fields...)
		c.row = i
	}
	if c.idx[fi] >= len(c.cells) {
		return "", false
	}
	// A copy: the cells view the parser's buffer, which the next row's
	// parse overwrites.
	return strings.Clone(c.cells[c.idx[fi]]), true
}
