package tables

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/pipeline/tables/hugemem"
)

// A row group column that is a single data page of fixed-width numbers,
// plain or dictionary-coded, without nulls — what DuckDB writes, a 1M-row
// group's column in one page — is decoded here rather than by parquet-go's
// page reader, which copies the compressed bytes into a buffer of its own,
// decompresses them into another, and copies the values into a third
// before decodePlain copies them into the column. Here the page is
// decompressed once, into a buffer this column keeps across row groups,
// and a plain page's values are the column's values where the kinds
// agree (times converted in place). Anything else is parquet-go's.

// directPage is a column's reusable state for direct decoding.
type directPage struct {
	buf   []byte // the decompressed page; the column's values may view it
	dict  []byte // the decompressed dictionary page
	dcol  Column // the dictionary, converted to the column's kind
	codes []int32
	lvl   []byte
	// lead is the length of the last version 1 page's definition levels,
	// which the next page of the column most likely has too.
	lead int
}

// pageAt decodes the page header at data[pos:], returning the header and
// where its payload starts.
func pageAt(data []byte, pos int) (h format.PageHeader, body int, err error) {
	pr := (&thrift.CompactProtocol{}).NewReaderFromBytes(data[pos:])
	if err = thrift.NewDecoder(pr).Decode(&h); err != nil {
		return h, 0, err
	}
	body = pos + pr.BytesRead()
	if int(h.CompressedPageSize) < 0 || int(h.CompressedPageSize) > len(data)-body {
		return h, 0, fmt.Errorf("page at byte %d claims %d bytes, %d are left", pos, h.CompressedPageSize, len(data)-body)
	}
	return h, body, nil
}

// decode writes column chunk data (compressed with codec) of a row group
// of n rows into col, of kind kind, and reports whether it did; false,
// with nothing changed, means the chunk is not of the shape decoded here
// and parquet-go's reader must read it.
func (dp *directPage) decode(data []byte, codec format.CompressionCodec, src source, col *Column, n int) (bool, error) {
	width := 8
	switch src.phys {
	case parquet.Int64, parquet.Double:
	case parquet.Int32, parquet.Float:
		width = 4
	default:
		return false, nil
	}
	if src.repeated || col.Kind == String || n <= 0 {
		return false, nil
	}
	// A dictionary page, then one data page holding every row.
	h, body, err := pageAt(data, 0)
	if err != nil {
		return false, nil
	}
	var dict *format.PageHeader
	if h.Type == format.DictionaryPage {
		if e := h.DictionaryPageHeader.V.Encoding; e != format.Plain && e != format.PlainDictionary {
			return false, nil
		}
		dh, dbody := h, body
		dict = &dh
		if h, body, err = pageAt(data, dbody+int(dh.CompressedPageSize)); err != nil {
			return false, nil
		}
		if ok, err := dp.readDict(data[dbody:dbody+int(dict.CompressedPageSize)], dict, codec, src, col.Kind); !ok || err != nil {
			return false, err
		}
	}
	var np int
	want := int(h.UncompressedPageSize) // of the payload
	var enc, levelEnc format.Encoding
	var levels []byte // version 2: the definition levels, outside the compressed values
	payload := data[body : body+int(h.CompressedPageSize)]
	compressed := codec != format.Uncompressed
	switch h.Type {
	case format.DataPage:
		v := &h.DataPageHeader.V
		np, enc, levelEnc = int(v.NumValues), v.Encoding, v.DefinitionLevelEncoding
	case format.DataPageV2:
		v := &h.DataPageHeaderV2.V
		np, enc, levelEnc = int(v.NumValues), v.Encoding, format.RLE
		rl, dl := int(v.RepetitionLevelsByteLength), int(v.DefinitionLevelsByteLength)
		if rl != 0 || dl < 0 || dl > len(payload) {
			return false, nil
		}
		levels, payload = payload[:dl], payload[dl:]
		want -= dl // version 2 counts the levels, which are not compressed
		if c, ok := v.IsCompressed.Get(); ok && !c {
			compressed = false
		}
	default:
		return false, nil
	}
	coded := enc == format.PlainDictionary || enc == format.RLEDictionary
	if np != n || (enc != format.Plain && !coded) || coded != (dict != nil) ||
		(src.maxDef > 0 && levelEnc != format.RLE) || int64(h.UncompressedPageSize) > maxPageBytes {
		return false, nil
	}
	// Version 1 pages start with the definition levels, their 4-byte
	// length and, when no value is null, an RLE run or a few: the plain
	// values follow. Decompressing to where that puts them on an 8-byte
	// boundary lets the column view them. The length is known only once
	// decompressed: the column's last page's, or one run's, is assumed,
	// and a wrong guess costs a copy.
	pad := 0
	if h.Type == format.DataPage && src.maxDef > 0 && !coded {
		if dp.lead == 0 {
			dp.lead = 4 + runLen(n, src.maxDef)
		}
		pad = (8 - dp.lead%8) % 8
	}
	raw, err := dp.decompress(&dp.buf, pad, payload, want, codec, compressed)
	if err != nil {
		return false, err
	}
	if src.maxDef > 0 {
		if h.Type == format.DataPage {
			if len(raw) < 4 || int(binary.LittleEndian.Uint32(raw)) > len(raw)-4 {
				return false, fmt.Errorf("definition levels overrun the page")
			}
			l := int(binary.LittleEndian.Uint32(raw))
			levels, raw = raw[4:4+l], raw[4+l:]
			dp.lead = 4 + l
		}
		all, err := dp.allDefined(levels, np, src.maxDef)
		if err != nil || !all {
			return false, err
		}
	}
	if coded {
		return true, dp.decodeCodes(raw, src, col, n)
	}
	if len(raw) != n*width {
		return false, fmt.Errorf("PLAIN: cannot decode %s: the page holds %d bytes for %d values", src.phys, len(raw), n)
	}
	// The column views the page where its kind and the page's agree,
	// the values moved down to their alignment if the guess above was
	// wrong; otherwise they are converted into the column's own buffer.
	// dp.buf starts on an 8-byte boundary (alignedBytes), so moving the
	// values down by their misalignment stays inside it.
	if off := uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % uintptr(width); off != 0 {
		if at := int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))) - uintptr(unsafe.Pointer(unsafe.SliceData(dp.buf))) - off); within(dp.buf, raw) && at >= 0 {
			raw = dp.buf[at : at+copy(dp.buf[at:], raw)]
		} else {
			raw = append(alignedBytes(len(raw))[:0], raw...)
		}
	}
	aligned := uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%uintptr(width) == 0
	switch {
	case aligned && col.Kind == Float && src.phys == parquet.Double && src.scale <= 0:
		col.view()
		col.F = unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(raw))), n)
	case aligned && col.Kind == Int && src.phys == parquet.Int64 && src.scale <= 0 && !src.unsigned:
		col.view()
		col.I = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(raw))), n)
	case aligned && col.Kind == Time && src.phys == parquet.Int64 && (src.isTime || src.epochNumber()) && !src.unsigned:
		col.view()
		col.I = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(raw))), n)
		if src.isTime {
			timesToMicros(col.I, src, col, 0, n)
		} else {
			epochToMicros(col.I, col.I, src, col, 0, n)
		}
	default:
		// Unsigned integers are not viewed: their bits as int64 are not
		// their values, and decodePlain converts them.
		vals := plainValues(src.phys, raw)
		col.grow(n, n)
		if !decodePlain(vals, src, col, 0, n, n) {
			col.reset(col.Kind, 0) // a pairing of types for the boxed path
			return false, nil
		}
	}
	return true, nil
}

// runLen is the length of the RLE run that says n values are all at level
// maxDef: its varint header and the level, in as many bytes as its width
// takes.
func runLen(n, maxDef int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n)<<1) + (bits.Len(uint(maxDef))+7)/8
}

// allDefined reports whether the n definition levels encoded in levels are
// all maxDef.
func (dp *directPage) allDefined(levels []byte, n, maxDef int) (bool, error) {
	width := bits.Len(uint(maxDef))
	// The common case, one run of n: decoding it would write n bytes.
	if h, k := binary.Uvarint(levels); k > 0 && h&1 == 0 && int(h>>1) >= n {
		vb := (width + 7) / 8
		if len(levels) >= k+vb {
			var v [4]byte
			copy(v[:], levels[k:k+vb])
			return int(binary.LittleEndian.Uint32(v[:])) == maxDef, nil
		}
	}
	levels, err := runsFor(levels, width, n)
	if err != nil {
		return false, fmt.Errorf("definition levels: %w", err)
	}
	d, err := (&rle.Encoding{BitWidth: width}).DecodeLevels(dp.lvl[:0], levels)
	dp.lvl = d
	if err != nil {
		return false, fmt.Errorf("definition levels: %w", err)
	}
	if len(d) < n {
		return false, fmt.Errorf("%d definition levels for %d values", len(d), n)
	}
	for _, l := range d[:n] {
		if int(l) != maxDef {
			return false, nil
		}
	}
	return true, nil
}

// runsFor returns the start of src, an RLE / bit-packed hybrid encoding
// of values bitWidth bits wide, that holds the first n of them. The
// decoder sizes its output by what the run headers claim, and one RLE
// header of a few bytes can claim two billion values: a corrupt page must
// be an error, not an 8 GiB allocation. A bit-packed run's values are
// bounded by its bytes, which must be in src; writers pad it past the
// values (DuckDB by whole blocks of groups), so its count is not checked.
func runsFor(src []byte, bitWidth, n int) ([]byte, error) {
	have := 0
	for i := 0; i < len(src); {
		if have >= n {
			return src[:i], nil
		}
		h, k := binary.Uvarint(src[i:])
		if k <= 0 {
			return nil, fmt.Errorf("bad run header at byte %d", i)
		}
		i += k
		left := uint64(n - have)
		count, size := h>>1, uint64((bitWidth+7)/8)
		if h&1 == 1 { // groups of 8 bit-packed values
			if count > uint64(len(src)-i) {
				return nil, fmt.Errorf("a run of %d groups at byte %d, %d bytes are left", count, i-k, len(src)-i)
			}
			count, size = 8*count, count*uint64(bitWidth)
		} else if count > left+8 {
			return nil, fmt.Errorf("a run of %d values at byte %d, %d are left to read", count, i-k, left)
		}
		if size > uint64(len(src)-i) {
			return nil, fmt.Errorf("a run of %d values at byte %d needs %d bytes, %d are left", count, i-k, size, len(src)-i)
		}
		have += int(min(count, left))
		i += int(size)
	}
	return src, nil
}

// decompress decodes payload into *buf from byte pad on, returning the
// decoded bytes; want is the size the page header gives. An uncompressed
// payload is copied: the chunk's buffer is reused for the next column.
func (dp *directPage) decompress(buf *[]byte, pad int, payload []byte, want int, codec format.CompressionCodec, compressed bool) ([]byte, error) {
	if want < 0 {
		return nil, fmt.Errorf("page claims %d bytes decompressed", want)
	}
	if cap(*buf) < pad+want {
		*buf = alignedBytes(pad + want + want/8)
	}
	*buf = (*buf)[:pad+want]
	if !compressed {
		if len(payload) != want {
			return nil, fmt.Errorf("uncompressed page of %d bytes, its header says %d", len(payload), want)
		}
		return append((*buf)[pad:pad], payload...), nil
	}
	out, err := parquet.LookupCompressionCodec(codec).Decode((*buf)[pad:pad], payload)
	if err != nil {
		return nil, fmt.Errorf("decompress page: %w", err)
	}
	if len(out) != want {
		return nil, fmt.Errorf("page decompresses to %d bytes, its header says %d", len(out), want)
	}
	return out, nil
}

// readDict decodes a dictionary page into dp.dcol, of kind.
func (dp *directPage) readDict(payload []byte, h *format.PageHeader, codec format.CompressionCodec, src source, kind Kind) (bool, error) {
	nd := int(h.DictionaryPageHeader.V.NumValues)
	raw, err := dp.decompress(&dp.dict, 0, payload, int(h.UncompressedPageSize), codec, codec != format.Uncompressed)
	if err != nil {
		return false, err
	}
	w := 8
	if src.phys == parquet.Int32 || src.phys == parquet.Float {
		w = 4
	}
	if nd < 0 || len(raw) != nd*w {
		return false, fmt.Errorf("PLAIN: cannot decode %s: the dictionary page holds %d bytes for %d values", src.phys, len(raw), nd)
	}
	dp.dcol.reset(kind, nd)
	return decodePlain(plainValues(src.phys, raw), src, &dp.dcol, 0, nd, nd), nil
}

// decodeCodes writes the n dictionary-coded values of raw, a data page's
// values (the code width, then the codes), to col.
func (dp *directPage) decodeCodes(raw []byte, src source, col *Column, n int) error {
	if len(raw) < 1 || raw[0] > 32 {
		return fmt.Errorf("dictionary codes: bad width")
	}
	src1, err := runsFor(raw[1:], int(raw[0]), n)
	if err != nil {
		return fmt.Errorf("dictionary codes: %w", err)
	}
	codes, err := (&rle.Encoding{BitWidth: int(raw[0])}).DecodeInt32(dp.codes[:0], src1)
	dp.codes = codes
	if err != nil {
		return fmt.Errorf("dictionary codes: %w", err)
	}
	if len(codes) < n {
		return fmt.Errorf("%d dictionary codes for %d values", len(codes), n)
	}
	codes = codes[:n]
	d := &dp.dcol
	size := uint32(d.rows())
	for _, c := range codes {
		if uint32(c) >= size {
			return fmt.Errorf("dictionary code %d, the dictionary has %d values", c, size)
		}
	}
	col.grow(n, n)
	switch col.Kind {
	case Float:
		for k, c := range codes {
			col.F[k] = d.F[c]
		}
	case Int, Time:
		for k, c := range codes {
			col.I[k] = d.I[c]
		}
	case Bool:
		for k, c := range codes {
			col.B[k] = d.B[c]
		}
	}
	if d.Bad != nil {
		for k, c := range codes {
			if d.Bad[c] {
				col.setBad(k, n, d.BadRaw[c])
			}
		}
	}
	return nil
}

// plainValues wraps b, plain-encoded values of physical type phys.
func plainValues(phys parquet.Kind, b []byte) encoding.Values {
	p := unsafe.Pointer(unsafe.SliceData(b))
	switch phys {
	case parquet.Int32:
		return encoding.Int32Values(unsafe.Slice((*int32)(p), len(b)/4))
	case parquet.Int64:
		return encoding.Int64Values(unsafe.Slice((*int64)(p), len(b)/8))
	case parquet.Float:
		return encoding.FloatValues(unsafe.Slice((*float32)(p), len(b)/4))
	default:
		return encoding.DoubleValues(unsafe.Slice((*float64)(p), len(b)/8))
	}
}

// alignedBytes returns n bytes starting on an 8-byte boundary, as values
// viewed in place need; a small byte slice need not be.
func alignedBytes(n int) []byte {
	words := hugemem.Fresh(make([]uint64, (n+7)/8))
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), n)
}

// within reports whether b lies in buf.
func within(buf, b []byte) bool {
	if len(buf) == 0 || len(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(buf))
}
