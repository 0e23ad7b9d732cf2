package tables

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"unicode/utf8"
	"unsafe"
)

// csvParser splits one record's text into fields as encoding/csv reads
// it (RFC 4180; no lazy quotes, no trimming, no comments): fields are
// separated by comma; a field that starts with a quote is quoted, may
// hold commas, line breaks (CRLF read as LF) and doubled quotes; a quote
// elsewhere in a field is an error (csv.ErrBareQuote), as is a quoted
// field not closed, or closed and followed by anything but a comma or the
// record's end (csv.ErrQuote).
//
// encoding/csv itself reads from a stream, through a buffer of its own,
// and makes a string of every record: fed a record at a time, it cost a
// CSV read 60% more time than it took before records were cut first. The
// fields are views of the parser's buffer, valid until the next parse:
// whatever keeps one copies it (convertText does).
type csvParser struct {
	comma rune
	sep   []byte // comma, UTF-8 encoded
	buf   []byte
	ends  []int
	out   []string
}

var errInvalidDelim = errors.New("csv: invalid field delimiter")

func newCSVParser(comma rune) *csvParser {
	return &csvParser{comma: comma, sep: utf8.AppendRune(nil, comma)}
}

// parse splits text, one record with its line end, into fields; io.EOF
// means the record is blank (a lone "\r"), which encoding/csv skips.
func (p *csvParser) parse(text []byte) ([]string, error) {
	if p.comma == '"' || p.comma == '\r' || p.comma == '\n' || !utf8.ValidRune(p.comma) || p.comma == utf8.RuneError {
		return nil, errInvalidDelim
	}
	text = trimLineEnd(text)
	if len(text) == 0 {
		return nil, io.EOF
	}
	p.buf, p.ends = p.buf[:0], p.ends[:0]
	for {
		if text[0] != '"' {
			i := bytes.Index(text, p.sep)
			field := text
			if i >= 0 {
				field = text[:i]
			}
			if bytes.IndexByte(field, '"') >= 0 {
				return nil, &csv.ParseError{Err: csv.ErrBareQuote}
			}
			p.buf = append(p.buf, field...)
			p.ends = append(p.ends, len(p.buf))
			if i < 0 {
				return p.fields(), nil
			}
			text = text[i+len(p.sep):]
		} else {
			var end bool
			var err error
			if text, end, err = p.quoted(text[1:]); err != nil {
				return nil, err
			}
			p.ends = append(p.ends, len(p.buf))
			if end {
				return p.fields(), nil
			}
		}
		if len(text) == 0 { // a comma ended the record: one more, empty field
			p.ends = append(p.ends, len(p.buf))
			return p.fields(), nil
		}
	}
}

// quoted appends the quoted field that text starts (after its opening
// quote) to buf and returns the text after it and its separator; end says
// the field ended the record.
func (p *csvParser) quoted(text []byte) (rest []byte, end bool, err error) {
	for {
		i := bytes.IndexByte(text, '"')
		if i < 0 {
			return nil, false, &csv.ParseError{Err: csv.ErrQuote} // not closed
		}
		p.appendLF(text[:i])
		text = text[i+1:]
		switch {
		case len(text) == 0:
			return nil, true, nil
		case text[0] == '"':
			p.buf = append(p.buf, '"')
			text = text[1:]
		case bytes.HasPrefix(text, p.sep):
			return text[len(p.sep):], false, nil
		default:
			return nil, false, &csv.ParseError{Err: csv.ErrQuote}
		}
	}
}

// appendLF appends b to buf with each CRLF read as LF, as encoding/csv
// reads the line breaks inside a quoted field.
func (p *csvParser) appendLF(b []byte) {
	for {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			p.buf = append(p.buf, b...)
			return
		}
		p.buf = append(p.buf, b[:i]...)
		p.buf = append(p.buf, '\n')
		b = b[i+2:]
	}
}

// fields views buf as the fields ends delimits.
func (p *csvParser) fields() []string {
	p.out = p.out[:0]
	lo := 0
	for _, hi := range p.ends {
		if hi == lo {
			p.out = append(p.out, "")
		} else {
			p.out = append(p.out, unsafe.String(&p.buf[lo], hi-lo))
		}
		lo = hi
	}
	return p.out
}

// trimLineEnd drops a record's line end: "\n", "\r\n", or a "\r" before
// the end of the object (encoding/csv drops it too).
func trimLineEnd(b []byte) []byte {
	n := len(b)
	switch {
	case n >= 2 && b[n-2] == '\r' && b[n-1] == '\n':
		return b[:n-2]
	case n >= 1 && (b[n-1] == '\n' || b[n-1] == '\r'):
		return b[:n-1]
	}
	return b
}
