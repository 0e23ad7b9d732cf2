package tables

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"golang.org/x/sync/errgroup"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables/hugemem"
)

// parquetFile is an open Parquet object, shared by the units (row groups)
// read from it; the last one released closes it.
type parquetFile struct {
	file   *parquet.File
	r      *objectReader
	size   int64
	closer io.Closer
	binds  []binding
	refs   atomic.Int32
}

func (p *parquetFile) Close() {
	if p.closer != nil {
		p.closer.Close()
	}
}

func (p *parquetFile) release() {
	if p.refs.Add(-1) == 0 {
		p.Close()
	}
}

// openParquet opens key through ranged reads. A large read buffer and an
// optimistic footer read matter on S3: each small read is a round trip.
func openParquet(ctx context.Context, b objstore.Bucket, key string) (_ *parquetFile, err error) {
	ra, size, err := b.ReaderAt(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	closer, _ := ra.(io.Closer)
	defer guard(&err, func() {
		if closer != nil {
			closer.Close()
		}
		err = fmt.Errorf("open parquet %s: %w", key, err)
	})
	fail := func(err error) (*parquetFile, error) {
		if closer != nil {
			closer.Close()
		}
		return nil, fmt.Errorf("open parquet %s: %w", key, err)
	}
	or, err := readTail(ra, size, readBufferSize)
	if err != nil {
		return fail(err)
	}
	if need := footerSpan(or.tail); need > len(or.tail) {
		// A footer larger than the optimistic read: read it whole.
		if or, err = readTail(ra, size, need); err != nil {
			return fail(err)
		}
	}
	f, err := parquet.OpenFile(or, size,
		parquet.ReadBufferSize(pageBufferSize),
		parquet.OptimisticRead(true),
		parquet.SkipBloomFilters(true),
		parquet.SkipPageIndex(true),
	)
	or.tail = nil // only the footer read needs it
	if err != nil {
		return fail(err)
	}
	if err := checkRowCounts(f); err != nil {
		return fail(err)
	}
	return &parquetFile{file: f, r: or, size: size, closer: closer}, nil
}

// guard, deferred, turns a panic raised inside parquet-go into an error
// and calls then (which may wrap it). parquet-go trusts a file's metadata
// in places and panics on some corrupt files — a DECIMAL stored as DOUBLE,
// statistics shorter than their type — and a corrupt input must fail its
// run with an error naming the file, not crash it. A panic anywhere else
// is a bug of ours and goes on.
func guard(err *error, then func()) {
	r := recover()
	if r == nil {
		return
	}
	if !panickedIn("github.com/parquet-go/") {
		panic(r)
	}
	*err = fmt.Errorf("corrupt file: the Parquet decoder failed: %v", r)
	if then != nil {
		then()
	}
}

// panickedIn reports whether the panic being handled was raised by a
// function of a package under prefix: the first frame below
// runtime.gopanic that is not the runtime's own.
func panickedIn(prefix string) bool {
	pc := make([]uintptr, 128)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, prefix)
		}
		if !more {
			return false
		}
	}
}

// readBufferSize is the size of the optimistic read of an object's tail
// that should hold its whole footer: one request on S3 for most files
// (a footer takes some hundred bytes a column chunk), a second one, for
// exactly the rest, for larger footers. Reading 4 MiB each time an object
// was opened (twice a run) was a tenth of the time to a 10M-row file's
// first rows, most of it faulting in the buffer.
const readBufferSize = 256 << 10

// footerSpan is how many bytes of an object's tail, which ends tail, hold
// its footer, its length and magic.
func footerSpan(tail []byte) int {
	return int(binary.LittleEndian.Uint32(tail[len(tail)-8:])) + 8
}

// pageBufferSize is that of parquet-go's buffered reader of each column
// chunk being decoded. The chunks are in memory (loadChunk), so it only
// sets how much is copied at a time; a row group read in windows has one
// per column open at once, and at 4 MiB each they were a wide table's
// largest buffers. parquet-go reads the footer through it too, from the
// tail held in memory.
const pageBufferSize = 256 << 10

// objectReader serves parquet-go's reads of a Parquet object: those of
// its last bytes (the footer) and of the column chunks being decoded from
// memory, where they were read and checked, every other from the object.
type objectReader struct {
	io.ReaderAt
	off  int64
	tail []byte

	mu     sync.Mutex
	chunks []chunkBytes
}

type chunkBytes struct {
	off  int64
	data []byte
}

func (t *objectReader) ReadAt(p []byte, off int64) (int, error) {
	if t.tail != nil && off >= t.off && off+int64(len(p)) <= t.off+int64(len(t.tail)) {
		return copy(p, t.tail[off-t.off:]), nil
	}
	t.mu.Lock()
	for _, c := range t.chunks {
		if off >= c.off && off+int64(len(p)) <= c.off+int64(len(c.data)) {
			t.mu.Unlock()
			return copy(p, c.data[off-c.off:]), nil
		}
	}
	t.mu.Unlock()
	return t.ReaderAt.ReadAt(p, off)
}

// hold serves reads inside data, which starts at off, from memory until
// the function it returns is called.
func (t *objectReader) hold(off int64, data []byte) (drop func()) {
	t.mu.Lock()
	t.chunks = append(t.chunks, chunkBytes{off, data})
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		for i, c := range t.chunks {
			if c.off == off && len(c.data) == len(data) && (len(data) == 0 || &c.data[0] == &data[0]) {
				t.chunks = append(t.chunks[:i], t.chunks[i+1:]...)
				return
			}
		}
	}
}

// loadChunk reads column chunk col of row group gi whole — the range
// parquet-go reads it from — checks its page headers, and holds it for
// parquet-go's reads. parquet-go allocates what a page header claims (its
// size, a dictionary's number of values) before it finds out the claim is
// false: a 6 KiB file whose dictionary page claims 2^31 values cost 16
// GiB. Checked here first, a false claim is an error naming the page.
// Reading the chunk in one request costs no extra round trip: parquet-go
// would read the same bytes, a buffer at a time.
//
// It also returns the most values a data page of the chunk holds.
func (pf *parquetFile) loadChunk(gi, col int, rows int64, src source, buf *[]byte) (drop func(), maxPage int64, err error) {
	md := &pf.file.Metadata().RowGroups[gi].Columns[col].MetaData
	off := md.DataPageOffset
	if md.DictionaryPageOffset != 0 {
		off = md.DictionaryPageOffset
	}
	n := md.TotalCompressedSize
	if off < 0 || n < 0 || off > pf.size || n > pf.size-off {
		return nil, 0, fmt.Errorf("footer is corrupt: the column chunk claims bytes %d to %d of a %d-byte object", off, off+n, pf.size)
	}
	// The buffer is reused for the batch's next chunk: everything decoded
	// from it is copied out (strings included) before drop.
	if int64(cap(*buf)) < n {
		*buf = hugemem.Fresh(make([]byte, n, n+n/8))
	}
	data := (*buf)[:n]
	if k, err := pf.r.ReaderAt.ReadAt(data, off); k != len(data) {
		return nil, 0, fmt.Errorf("read column chunk: %w", err)
	}
	if maxPage, err = checkPages(data, md, rows, src); err != nil {
		return nil, 0, err
	}
	return pf.r.hold(off, data), maxPage, nil
}

// maxExpansion is the most codec can expand data: no page can decompress
// to more than that many times its size, whatever its header claims.
// Each is its format's limit, rounded up: deflate 1032:1, snappy about
// 21:1 (a 3-byte copy of 64 bytes), LZ4 255:1, a zstd RLE block 128 KiB
// from 4 bytes; brotli's is not as simple to state, and gets 2^20.
func maxExpansion(codec format.CompressionCodec) int64 {
	switch codec {
	case format.Uncompressed:
		return 1
	case format.Snappy:
		return 32
	case format.Gzip:
		return 1100
	case format.Lz4, format.Lz4Raw:
		return 256
	case format.Zstd:
		return 1 << 15
	}
	return 1 << 20
}

// maxPageBytes bounds a page's decompressed size whatever its codec.
// Writers cut pages at about 1 MiB (parquet-mr, Arrow, DuckDB); a page
// claiming more than 256 MiB is corrupt, not large.
const maxPageBytes = 256 << 20

// checkPages walks the page headers of a column chunk and checks what
// parquet-go would trust: each page fits in what is left of the chunk and
// decompresses to no more than its codec can expand it to, a dictionary's
// values fit its decompressed size (at least one byte each, four for
// text), and a page of a column that is not a list holds no more values
// than the row group has rows. A header that does not decode is left for
// parquet-go to report.
func checkPages(data []byte, md *format.ColumnMetaData, rows int64, src source) (maxPage int64, err error) {
	proto := &thrift.CompactProtocol{}
	for pos := 0; pos < len(data); {
		pr := proto.NewReaderFromBytes(data[pos:])
		var h format.PageHeader
		if err := thrift.NewDecoder(pr).Decode(&h); err != nil {
			return maxPage, nil
		}
		at := pos
		pos += pr.BytesRead()
		size := int(h.CompressedPageSize)
		if size < 0 || size > len(data)-pos {
			return 0, fmt.Errorf("page at byte %d of the column chunk claims %d bytes, %d are left", at, size, len(data)-pos)
		}
		pos += size
		unc := int64(h.UncompressedPageSize)
		if unc > maxPageBytes || unc > maxExpansion(md.Codec)*int64(size)+64 {
			return 0, fmt.Errorf("page at byte %d of the column chunk claims %d bytes decompressed from %d, more than %s can expand to",
				at, unc, size, md.Codec)
		}
		var values int64
		switch h.Type {
		case format.DictionaryPage:
			values = int64(h.DictionaryPageHeader.V.NumValues)
			width := int64(1)
			if src.phys == parquet.ByteArray {
				width = 4 // each value has a 4-byte length
			}
			if values*width > unc {
				return 0, fmt.Errorf("dictionary page at byte %d of the column chunk claims %d values in %d bytes", at, values, unc)
			}
		case format.DataPage:
			values = int64(h.DataPageHeader.V.NumValues)
		case format.DataPageV2:
			values = int64(h.DataPageHeaderV2.V.NumValues)
		}
		if h.Type != format.DictionaryPage && !src.repeated && values > rows {
			return 0, fmt.Errorf("page at byte %d of the column chunk claims %d values, the row group has %d rows", at, values, rows)
		}
		if h.Type != format.DictionaryPage {
			maxPage = max(maxPage, values)
		}
	}
	return maxPage, nil
}

// readTail reads the object's last min(n, size) bytes — the read
// parquet-go's optimistic footer read makes, so it costs no extra round
// trip — and checks the footer length they end with. parquet-go allocates
// a buffer of whatever length the footer claims before finding out that
// the object is shorter: a corrupt or truncated file must not cost 4 GiB.
func readTail(ra io.ReaderAt, size int64, n int) (*objectReader, error) {
	t := &objectReader{ReaderAt: ra, off: size - min(int64(n), size)}
	t.tail = make([]byte, size-t.off)
	if k, err := ra.ReadAt(t.tail, t.off); k != len(t.tail) {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	// "PAR1", the footer, its 4-byte length and "PAR1" (or "PARE",
	// encrypted).
	if size < 12 {
		return nil, fmt.Errorf("%d bytes is too short for a Parquet file", size)
	}
	if m := string(t.tail[len(t.tail)-4:]); m != "PAR1" && m != "PARE" {
		return nil, fmt.Errorf("the file does not end in PAR1: it is truncated or not Parquet")
	}
	if l := int64(binary.LittleEndian.Uint32(t.tail[len(t.tail)-8:])); l > size-12 {
		return nil, fmt.Errorf("footer claims %d bytes in a %d-byte object: the file is truncated or corrupt", l, size)
	}
	return t, nil
}

// checkRowCounts checks the row counts of the footer against each other:
// a row group with a negative count, or row groups that do not add up to
// the file's count, mean a corrupt footer, and the counts are what the
// reader checks the decoded values against.
func checkRowCounts(f *parquet.File) error {
	var sum int64
	for i, rg := range f.RowGroups() {
		n := rg.NumRows()
		if n < 0 || n > math.MaxInt64-sum {
			return fmt.Errorf("footer is corrupt: row group %d declares %d rows", i, n)
		}
		sum += n
	}
	if sum != f.NumRows() {
		return fmt.Errorf("footer is corrupt: it declares %d rows, its %d row groups %d", f.NumRows(), len(f.RowGroups()), sum)
	}
	return nil
}

// source describes how a Parquet leaf column's values convert.
type source struct {
	phys     parquet.Kind
	unit     int64 // for Int64 timestamps: divide (>0) or multiply (<0) to get micros
	isTime   bool
	isDate   bool
	scale    int32 // decimal scale, or -1
	repeated bool
	maxDef   int
	// unsigned says an INT32 or INT64 column holds unsigned integers
	// (Integer(bitWidth, signed=false), or UINT_8 … UINT_64): their bits
	// read as signed would make 3,000,000,000 into -1,294,967,296.
	unsigned bool
	// epoch is the mapping's unit for a plain number read as a Time.
	epoch TimeUnit
}

type binding struct {
	field  int // index in Source.Fields
	column int // leaf column index
	kind   Kind
	src    source
}

// bindParquet maps the source's fields onto the file's leaf columns.
func (s *Source) bindParquet(f *parquet.File) ([]binding, []string) {
	schema := f.Schema()
	var binds []binding
	var probs []string
	cols := schema.Columns()
	for fi, fld := range s.Fields {
		name, unit := s.physical(fld)
		idx := -1
		for ci, p := range cols {
			if p[0] == name {
				idx = ci
				break
			}
		}
		if idx < 0 {
			if fld.Required {
				probs = append(probs, fmt.Sprintf("required column %q (for %s) not found; columns are: %s",
					name, fld.Name, topLevel(cols)))
			}
			continue
		}
		if n := countFields(schema, name); n > 1 {
			// Ambiguous, as in a CSV header; no writer makes this, a
			// corrupt or hand-built footer can.
			probs = append(probs, fmt.Sprintf("column %q (for %s) appears %d times in the schema", name, fld.Name, n))
			continue
		}
		leaf, _ := schema.Lookup(cols[idx]...)
		src := sourceOf(leaf)
		if fld.Kind == Time {
			src.epoch = unit
		}
		kind := fld.Kind
		if kind == Key {
			kind = String
			// An unsigned 64-bit id may not fit an int64: it is read as
			// text, formatted unsigned. Unsigned 32-bit ids all fit.
			if (src.phys == parquet.Int64 || src.phys == parquet.Int32) && !src.isTime && !src.isDate && src.scale < 0 &&
				!(src.unsigned && src.phys == parquet.Int64) {
				kind = Int
			}
		}
		if err := checkConvertible(src, kind); err != nil {
			probs = append(probs, fmt.Sprintf("column %q (for %s): %v", name, fld.Name, err))
			continue
		}
		binds = append(binds, binding{field: fi, column: leaf.ColumnIndex, kind: kind, src: src})
	}
	return binds, probs
}

func countFields(schema *parquet.Schema, name string) int {
	n := 0
	for _, f := range schema.Fields() {
		if f.Name() == name {
			n++
		}
	}
	return n
}

func topLevel(cols [][]string) string {
	var names []string
	seen := map[string]bool{}
	for _, c := range cols {
		if !seen[c[0]] {
			seen[c[0]] = true
			names = append(names, c[0])
		}
	}
	return strings.Join(names, ", ")
}

func sourceOf(leaf parquet.LeafColumn) source {
	t := leaf.Node.Type()
	src := source{phys: t.Kind(), scale: -1, repeated: leaf.MaxRepetitionLevel > 0, maxDef: leaf.MaxDefinitionLevel}
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *format.TimestampType:
			src.isTime = true
			src.unit = unitDivisor(v.Unit.Value.Duration())
		case *format.DateType:
			src.isDate = true
		case *format.DecimalType:
			src.scale = v.Scale
		case *format.IntType:
			src.unsigned = !v.IsSigned
		}
	} else if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
			src.unsigned = true
		case deprecated.TimestampMillis:
			src.isTime, src.unit = true, -1000
		case deprecated.TimestampMicros:
			src.isTime, src.unit = true, 1
		case deprecated.Date:
			src.isDate = true
		}
	}
	if src.phys == parquet.Int96 {
		src.isTime = true
	}
	return src
}

// unitDivisor turns a timestamp unit into the factor to microseconds:
// negative means multiply.
func unitDivisor(d time.Duration) int64 {
	switch d {
	case time.Millisecond:
		return -1000
	case time.Nanosecond:
		return 1000
	}
	return 1
}

// epochNumber reports whether a Time field reads src as a count of epoch
// units: a plain number (no timestamp or date type) with a mapped unit.
func (src source) epochNumber() bool {
	if src.epoch == NoUnit || src.isTime || src.isDate || src.repeated {
		return false
	}
	switch src.phys {
	case parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
		return true
	}
	return false
}

func checkConvertible(src source, k Kind) error {
	switch k {
	case String:
		if src.phys == parquet.Boolean || src.repeated {
			return fmt.Errorf("is %s, not text", describe(src))
		}
	case Float, Int:
		if src.isTime || src.isDate || src.repeated || src.phys == parquet.Boolean || src.phys == parquet.FixedLenByteArray {
			return fmt.Errorf("is %s, not a number", describe(src))
		}
	case Time:
		if src.epochNumber() {
			return nil
		}
		if !(src.isTime || src.isDate || src.phys == parquet.ByteArray) || src.repeated {
			return fmt.Errorf("is %s, not a timestamp, date or text (an integer column has no unit: store it as TIMESTAMP, or map it as \"column:epoch_s\", epoch_ms, epoch_us or epoch_ns)", describe(src))
		}
	case Bool:
		if src.repeated || src.phys == parquet.FixedLenByteArray || src.phys == parquet.Float || src.phys == parquet.Double {
			return fmt.Errorf("is %s, not a boolean", describe(src))
		}
	case StringList:
		if src.phys != parquet.ByteArray {
			return fmt.Errorf("is %s, not a list of text", describe(src))
		}
	}
	return nil
}

func describe(src source) string {
	d := src.phys.String()
	switch {
	case src.isDate:
		d = "DATE"
	case src.isTime:
		d = "TIMESTAMP"
	case src.scale >= 0:
		d = "DECIMAL"
	}
	if src.repeated {
		d = "a list of " + d
	}
	return d
}

// readRowGroup decodes row group gi of pf and calls fn with its rows in
// batches of at most batchRows. A group no larger, or one with a list
// column, is decoded whole, a column at a time. A larger one is decoded in
// windows, every column's pages read in step (readWindows), so that memory
// holds a page per column and one window decoded rather than the whole
// group: a Spark table's 128 MiB row groups decode to gigabytes. A page is
// decoded whole, though, so windows pay only when pages are small: DuckDB
// writes a 1M-row group's column as one page, and windows would then hold
// every column's page at once instead of one. They are used when no page
// holds more than a quarter of the group.
func (s *Source) readRowGroup(pf *parquetFile, key string, gi int, first int64, batch *Batch, fn func(*Batch) error) (err error) {
	defer guard(&err, func() { err = fmt.Errorf("read %s row group %d: %w", key, gi, err) })
	rg := pf.file.RowGroups()[gi]
	n := int(rg.NumRows())
	batch.Key, batch.FirstRow, batch.N, batch.Malformed = key, first, n, nil
	batch.csv = nil
	if len(batch.Cols) != len(s.Fields) {
		batch.Cols = make([]Column, len(s.Fields))
	}
	for i := range batch.Cols {
		batch.Cols[i].Present = false
	}
	if w := s.batchRows(); n > w && !slices.ContainsFunc(pf.binds, func(b binding) bool { return b.src.repeated }) {
		if len(batch.chunks) < len(pf.binds) {
			batch.chunks = make([][]byte, len(pf.binds))
		}
		drops := make([]func(), len(pf.binds))
		maxPages := make([]int64, len(pf.binds))
		defer func() {
			for _, drop := range drops {
				if drop != nil {
					drop()
				}
			}
		}()
		err := s.eachColumn(pf, key, gi, batch.ColumnWorkers, func(i int, bd binding) (err error) {
			drops[i], maxPages[i], err = pf.loadChunk(gi, bd.column, int64(n), bd.src, &batch.chunks[i])
			if err != nil {
				return s.columnError(key, gi, bd, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		small := true
		for _, maxPage := range maxPages {
			small = small && 4*maxPage <= int64(n)
		}
		if small {
			return s.readWindows(pf, key, gi, first, n, w, batch, fn)
		}
		if err := s.readColumns(pf, key, gi, n, batch, true); err != nil {
			return err
		}
		return fn(batch)
	}
	if err := s.readColumns(pf, key, gi, n, batch, false); err != nil {
		return err
	}
	return fn(batch)
}

// readColumns decodes every column of row group gi, which has n rows,
// whole, a column at a time or, with batch.ColumnWorkers above 1, that
// many at once on goroutines of their own, each reading its chunk into a
// buffer of its own. With loaded, the chunks are in memory already.
func (s *Source) readColumns(pf *parquetFile, key string, gi, n int, batch *Batch, loaded bool) error {
	chunks := pf.file.RowGroups()[gi].ColumnChunks()
	if len(batch.direct) < len(pf.binds) {
		batch.direct = make([]directPage, len(pf.binds))
	}
	one := func(i int, bd binding, buf *[]byte) error {
		col := &batch.Cols[bd.field]
		col.reset(bd.kind, 0) // grown page by page, to what the pages hold
		drop := func() {}
		if loaded {
			buf = &batch.chunks[i]
		} else {
			var err error
			if drop, _, err = pf.loadChunk(gi, bd.column, int64(n), bd.src, buf); err != nil {
				return s.columnError(key, gi, bd, err)
			}
		}
		defer drop()
		md := &pf.file.Metadata().RowGroups[gi].Columns[bd.column].MetaData
		ok, err := batch.direct[i].decode((*buf)[:md.TotalCompressedSize], md.Codec, bd.src, col, n)
		if err != nil {
			return s.columnError(key, gi, bd, err)
		}
		if ok {
			return nil
		}
		if bd.src.repeated {
			err = readRepeated(chunks[bd.column], bd.src, col, n)
		} else {
			err = readChunk(chunks[bd.column], bd.src, col, n)
		}
		if err != nil {
			return s.columnError(key, gi, bd, err)
		}
		return nil
	}
	if batch.ColumnWorkers <= 1 || len(pf.binds) <= 1 {
		for i, bd := range pf.binds {
			if err := one(i, bd, &batch.chunk); err != nil {
				return err
			}
		}
		return nil
	}
	if len(batch.chunks) < len(pf.binds) {
		batch.chunks = make([][]byte, len(pf.binds))
	}
	return s.eachColumn(pf, key, gi, batch.ColumnWorkers, func(i int, bd binding) error {
		return one(i, bd, &batch.chunks[i])
	})
}

// eachColumn calls fn for every bound column of pf, up to workers at once
// (one at a time for workers ≤ 1), each on a goroutine of its own with a
// guard of its own: readRowGroup's does not see their panics. It returns
// the error of the first column in order that failed, as one at a time
// would, not of whichever failed first.
func (s *Source) eachColumn(pf *parquetFile, key string, gi, workers int, fn func(i int, bd binding) error) error {
	if workers <= 1 || len(pf.binds) <= 1 {
		for i, bd := range pf.binds {
			if err := fn(i, bd); err != nil {
				return err
			}
		}
		return nil
	}
	var g errgroup.Group
	g.SetLimit(workers)
	errs := make([]error, len(pf.binds))
	for i, bd := range pf.binds {
		g.Go(func() error {
			defer guard(&errs[i], func() { errs[i] = fmt.Errorf("read %s row group %d: %w", key, gi, errs[i]) })
			errs[i] = fn(i, bd)
			return nil
		})
	}
	_ = g.Wait() // every goroutine returns nil; errs has their errors
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) columnError(key string, gi int, bd binding, err error) error {
	name, _ := s.physical(s.Fields[bd.field])
	return fmt.Errorf("read %s row group %d column %s: %w", key, gi, name, err)
}

// pageCursor reads one column chunk's pages in step with the others: the
// current page decoded whole into page, of which the rows from pos on are
// still to be handed out.
type pageCursor struct {
	bd    binding
	pages parquet.Pages
	page  Column
	pos   int
	read  int // values decoded so far
	dc    dictCache
	dict  bool // the current page is dictionary-encoded
}

// readWindows is readRowGroup for a group larger than a window of w rows,
// its column chunks loaded.
func (s *Source) readWindows(pf *parquetFile, key string, gi int, first int64, n, w int, batch *Batch, fn func(*Batch) error) error {
	chunks := pf.file.RowGroups()[gi].ColumnChunks()
	curs := make([]pageCursor, len(pf.binds))
	for i, bd := range pf.binds {
		curs[i] = pageCursor{bd: bd, pages: chunks[bd.column].Pages()}
	}
	defer func() {
		for i := range curs {
			curs[i].pages.Close()
		}
	}()
	for lo := 0; lo < n; lo += w {
		m := min(w, n-lo)
		batch.FirstRow, batch.N = first+int64(lo), m
		for i := range curs {
			c := &curs[i]
			col := &batch.Cols[c.bd.field]
			col.reset(c.bd.kind, m)
			if err := c.fill(col, m, n); err != nil {
				return s.columnError(key, gi, c.bd, err)
			}
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
	for i := range curs {
		c := &curs[i]
		if c.pos < c.page.rows() {
			return s.columnError(key, gi, c.bd, fmt.Errorf("more values than the row group declares (%d)", n))
		}
		page, err := c.pages.ReadPage()
		if err == nil {
			parquet.Release(page)
			return s.columnError(key, gi, c.bd, fmt.Errorf("more values than the row group declares (%d)", n))
		}
		if !errors.Is(err, io.EOF) {
			return s.columnError(key, gi, c.bd, err)
		}
	}
	return nil
}

// fill writes the cursor's next m values into rows [0, m) of col, reading
// pages as it needs them; n is the row group's rows.
func (c *pageCursor) fill(col *Column, m, n int) error {
	allDict := col.Kind == String
	for row := 0; row < m; {
		if c.pos == c.page.rows() {
			page, err := c.pages.ReadPage()
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("read %d values for %d rows", c.read, n)
			}
			if err != nil {
				return err
			}
			np := int(page.NumValues())
			if np < 0 || c.read+np > n {
				parquet.Release(page)
				return fmt.Errorf("more values than the row group declares (%d)", n)
			}
			c.dict = page.Dictionary() != nil
			c.page.reset(c.bd.kind, np)
			err = decodePage(page, c.bd.src, &c.page, 0, np, np, &c.dc)
			parquet.Release(page)
			if err != nil {
				return err
			}
			c.pos, c.read = 0, c.read+np
			continue
		}
		allDict = allDict && c.dict
		k := min(m-row, c.page.rows()-c.pos)
		col.copyRows(row, &c.page, c.pos, k, m)
		row, c.pos = row+k, c.pos+k
	}
	if allDict && m > 0 {
		col.Dict = c.dc.str
	} else {
		col.Codes = nil
	}
	return nil
}

// readChunk decodes a non-repeated column chunk page by page from the
// pages' typed buffers.
func readChunk(chunk parquet.ColumnChunk, src source, col *Column, n int) error {
	pages := chunk.Pages()
	defer pages.Close()
	var dc dictCache
	row := 0
	allDict := col.Kind == String
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		np := int(page.NumValues())
		if np < 0 || row+np > n {
			parquet.Release(page)
			return fmt.Errorf("more values than the row group declares (%d)", n)
		}
		if page.Dictionary() == nil {
			allDict = false
		}
		col.grow(row+np, n)
		err = decodePage(page, src, col, row, np, row+np, &dc)
		parquet.Release(page)
		if err != nil {
			return err
		}
		row += np
	}
	if row != n {
		return fmt.Errorf("read %d values for %d rows", row, n)
	}
	if allDict && n > 0 {
		col.Dict = dc.str
	} else {
		col.Codes = nil
	}
	return nil
}

// dictCache holds a column chunk's dictionary converted once to the
// destination kind.
type dictCache struct {
	dict parquet.Dictionary
	col  Column
	str  []string
}

func (dc *dictCache) prepare(dict parquet.Dictionary, src source, kind Kind) {
	if dc.dict == dict {
		return
	}
	dc.dict = dict
	n := dict.Len()
	dc.col.reset(kind, n)
	dc.str = nil
	vals := dict.Page().Data()
	switch {
	case kind == String && src.phys == parquet.ByteArray:
		data, offs := vals.ByteArray()
		all := string(data)
		for i := range n {
			dc.col.Str[i] = all[offs[i]:offs[i+1]]
		}
	case kind == Float && src.phys == parquet.Double && src.scale < 0:
		copy(dc.col.F, vals.Double())
	case (kind == Int || kind == Time) && src.phys == parquet.Int64 && !src.isTime && src.scale <= 0 && src.epoch == NoUnit && !src.unsigned:
		copy(dc.col.I, vals.Int64())
	default:
		for i := range n {
			convert(dict.Index(int32(i)), src, &dc.col, i, n)
		}
	}
	if kind == String {
		dc.str = dc.col.Str
	}
}

// decodePage writes the np rows of page at rows [row, row+np) of col, which
// has n rows (row+np, or more). The
// page's defined values are first written densely from row on, then
// spread over the rows their definition levels say are not null.
func decodePage(page parquet.Page, src source, col *Column, row, np, n int, dc *dictCache) error {
	def := page.DefinitionLevels()
	nn := np
	if len(def) > 0 {
		nn = 0
		for _, d := range def {
			if int(d) == src.maxDef {
				nn++
			}
		}
	}
	vals := page.Data()
	if dict := page.Dictionary(); dict != nil {
		dc.prepare(dict, src, col.Kind)
		codes := vals.Int32()
		if len(codes) < nn {
			return fmt.Errorf("page has %d dictionary codes for %d values", len(codes), nn)
		}
		d := &dc.col
		switch col.Kind {
		case String:
			col.codes(n)
			for k, c := range codes[:nn] {
				col.Str[row+k] = d.Str[c]
				col.Codes[row+k] = c
			}
		case Float:
			for k, c := range codes[:nn] {
				col.F[row+k] = d.F[c]
			}
		case Int, Time:
			for k, c := range codes[:nn] {
				col.I[row+k] = d.I[c]
			}
		case Bool:
			for k, c := range codes[:nn] {
				col.B[row+k] = d.B[c]
			}
		}
		if d.Bad != nil {
			for k, c := range codes[:nn] {
				if d.Bad[c] {
					col.setBad(row+k, n, d.BadRaw[c])
				}
			}
		}
	} else if !decodePlain(vals, src, col, row, nn, n) {
		// An uncommon pairing of types: the boxed reader handles it,
		// nulls included, so there is nothing to spread. It leaves a
		// null's value as it finds it, and Column.grow did not clear it.
		col.clearRows(row, row+np)
		return decodeBoxed(page, src, col, row, np, n)
	}
	if nn < np {
		spread(col, def, src.maxDef, row, np, nn, n)
	}
	return nil
}

// decodePlain converts nn plain-encoded values to rows [row, row+nn) of
// col, or reports false when the pairing of types has no fast path.
func decodePlain(vals encoding.Values, src source, col *Column, row, nn, n int) bool {
	switch col.Kind {
	case String:
		switch src.phys {
		case parquet.ByteArray:
			data, offs := vals.ByteArray()
			all := string(data) // one allocation per page
			dst := col.Str[row : row+nn]
			for k := range dst {
				dst[k] = all[offs[k]:offs[k+1]]
			}
			if col.Codes != nil {
				for k := range dst {
					col.Codes[row+k] = -1
				}
			}
			return true
		case parquet.Int64:
			for k, v := range vals.Int64()[:nn] {
				col.Str[row+k] = src.formatInt64(v)
			}
			return true
		case parquet.Int32:
			for k, v := range vals.Int32()[:nn] {
				col.Str[row+k] = strconv.FormatInt(src.int32(v), 10)
			}
			return true
		}
	case Float:
		if src.scale > 0 {
			return false
		}
		switch src.phys {
		case parquet.Double:
			copy(col.F[row:row+nn], vals.Double())
			return true
		case parquet.Float:
			convertAll(col.F[row:row+nn], vals.Float()[:nn])
			return true
		case parquet.Int64:
			if src.unsigned {
				uint64sTo(col.F[row:row+nn], vals.Int64()[:nn])
				return true
			}
			convertAll(col.F[row:row+nn], vals.Int64()[:nn])
			return true
		case parquet.Int32:
			if src.unsigned {
				uint32sTo(col.F[row:row+nn], vals.Int32()[:nn])
				return true
			}
			convertAll(col.F[row:row+nn], vals.Int32()[:nn])
			return true
		}
	case Int:
		if src.scale > 0 {
			return false
		}
		switch src.phys {
		case parquet.Int64:
			copy(col.I[row:row+nn], vals.Int64())
			if src.unsigned {
				unsignedInts(col, row, nn, n)
			}
			return true
		case parquet.Int32:
			if src.unsigned {
				uint32sTo(col.I[row:row+nn], vals.Int32()[:nn])
				return true
			}
			convertAll(col.I[row:row+nn], vals.Int32()[:nn])
			return true
		}
	case Time:
		dst := col.I[row : row+nn]
		switch {
		case src.isTime && src.phys == parquet.Int64:
			copy(dst, vals.Int64())
			timesToMicros(dst, src, col, row, n)
			return true
		case src.isDate && src.phys == parquet.Int32:
			for k, v := range vals.Int32()[:nn] {
				us, ok := dateMicros(int64(v))
				dst[k] = us
				if !ok {
					col.setBad(row+k, n, strconv.FormatInt(int64(v), 10))
				}
			}
			return true
		case src.epochNumber() && (src.phys == parquet.Int64 || src.phys == parquet.Int32):
			var vs []int64
			if src.phys == parquet.Int64 {
				vs = vals.Int64()[:nn]
			} else {
				for k, v := range vals.Int32()[:nn] {
					dst[k] = src.int32(v)
				}
				vs = dst
			}
			epochToMicros(dst, vs, src, col, row, n)
			return true
		}
	case Bool:
		if src.phys == parquet.Boolean {
			bits := vals.Boolean()
			for k := range nn {
				col.B[row+k] = bits[k>>3]>>(k&7)&1 != 0
			}
			return true
		}
	}
	return false
}

// timesToMicros converts TIMESTAMP values of src's unit, rows [row,
// row+len(dst)) of col (which has n rows), to microseconds in place.
func timesToMicros(dst []int64, src source, col *Column, row, n int) {
	switch {
	case src.unit > 1:
		for k, x := range dst {
			dst[k] = floorDiv(x, src.unit)
		}
	case src.unit < 0:
		for k, x := range dst {
			us, ok := mulMicros(x, -src.unit)
			dst[k] = us
			if !ok {
				col.setBad(row+k, n, strconv.FormatInt(x, 10))
			}
		}
	}
}

// epochToMicros writes the epoch numbers vs of src's mapped unit as
// microseconds to dst, rows [row, row+len(dst)) of col (which has n rows);
// vs may be dst.
func epochToMicros(dst, vs []int64, src source, col *Column, row, n int) {
	for k, v := range vs {
		if src.unsigned && src.phys == parquet.Int64 && v < 0 {
			dst[k] = 0
			col.setBad(row+k, n, src.formatInt64(v))
			continue
		}
		us, ok := src.epoch.micros(v)
		dst[k] = us
		if !ok {
			col.setBad(row+k, n, strconv.FormatInt(v, 10))
		}
	}
}

// decodeBoxed reads a page through parquet.Value, the slow general path.
func decodeBoxed(page parquet.Page, src source, col *Column, row, np, n int) error {
	var buf [256]parquet.Value
	vr := page.Values()
	i := row
	for {
		k, err := vr.ReadValues(buf[:])
		for _, v := range buf[:k] {
			if i >= row+np {
				return fmt.Errorf("page has more values than its header says (%d)", np)
			}
			convert(v, src, col, i, n)
			i++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if k == 0 {
			break
		}
	}
	if col.Codes != nil {
		for j := row; j < row+np; j++ {
			col.Codes[j] = -1
		}
	}
	return nil
}

// spread moves the nn dense values at rows [row, row+nn) to the rows of
// [row, row+np) whose definition level is maxDef, marking the others null.
// It works backwards, so no value is overwritten before it is moved.
func spread(col *Column, def []byte, maxDef, row, np, nn, n int) {
	col.nulls(n)
	k := row + nn - 1
	for j := np - 1; j >= 0; j-- {
		i := row + j
		if int(def[j]) != maxDef {
			col.Null[i] = true
			if col.Bad != nil {
				col.Bad[i], col.BadRaw[i] = false, ""
			}
			switch col.Kind {
			case String:
				col.Str[i] = ""
				if col.Codes != nil {
					col.Codes[i] = -1
				}
			case Float:
				col.F[i] = 0
			case Int, Time:
				col.I[i] = 0
			case Bool:
				col.B[i] = false
			}
			continue
		}
		if k != i {
			switch col.Kind {
			case String:
				col.Str[i] = col.Str[k]
				if col.Codes != nil {
					col.Codes[i] = col.Codes[k]
				}
			case Float:
				col.F[i] = col.F[k]
			case Int, Time:
				col.I[i] = col.I[k]
			case Bool:
				col.B[i] = col.B[k]
			}
			col.Null[i] = col.Null[k]
			if col.Bad != nil {
				col.Bad[i], col.BadRaw[i] = col.Bad[k], col.BadRaw[k]
			}
		}
		k--
	}
}

// readRepeated decodes a list column through parquet.Value: lists are rare
// and small (a customer's interests), so the general path is fine.
func readRepeated(chunk parquet.ColumnChunk, src source, col *Column, n int) error {
	pages := chunk.Pages()
	defer pages.Close()
	vals := make([]parquet.Value, 1024)
	row := -1
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		vr := page.Values()
		for {
			k, err := vr.ReadValues(vals)
			for _, v := range vals[:k] {
				if v.RepetitionLevel() == 0 {
					row++
					if row >= n {
						parquet.Release(page)
						return fmt.Errorf("more rows than the row group declares (%d)", n)
					}
					col.grow(row+1, n)
					col.L[row] = nil
					if v.DefinitionLevel() == 0 {
						col.setNull(row, row+1)
					}
				}
				if v.DefinitionLevel() == src.maxDef && col.Kind == StringList {
					col.L[row] = append(col.L[row], string(v.ByteArray()))
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(page)
				return err
			}
			if k == 0 {
				break
			}
		}
		parquet.Release(page)
	}
	if row+1 != n {
		return fmt.Errorf("read %d values for %d rows", row+1, n)
	}
	return nil
}

// convert stores value v, read from a column described by src, as row i of
// col.
func convert(v parquet.Value, src source, col *Column, i, n int) {
	if v.IsNull() {
		col.setNull(i, n)
		return
	}
	switch col.Kind {
	case String:
		switch src.phys {
		case parquet.ByteArray, parquet.FixedLenByteArray:
			col.Str[i] = string(v.ByteArray())
		case parquet.Int32:
			col.Str[i] = strconv.FormatInt(src.int32(v.Int32()), 10)
		case parquet.Int64:
			col.Str[i] = src.formatInt64(v.Int64())
		case parquet.Float:
			col.Str[i] = strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
		case parquet.Double:
			col.Str[i] = strconv.FormatFloat(v.Double(), 'g', -1, 64)
		case parquet.Int96:
			us, _ := int96Micros(v.Int96())
			col.Str[i] = formatMicros(us)
		}
	case Float, Int:
		var f float64
		ok := true
		switch src.phys {
		case parquet.Int32:
			f = float64(src.int32(v.Int32()))
		case parquet.Int64:
			f = float64(v.Int64())
			if src.unsigned {
				f = float64(uint64(v.Int64()))
			}
		case parquet.Float:
			f = float64(v.Float())
		case parquet.Double:
			f = v.Double()
		case parquet.ByteArray:
			f, ok = parseNumber(strings.TrimSpace(string(v.ByteArray())))
		}
		if !ok {
			col.setBad(i, n, string(v.ByteArray()))
			return
		}
		if src.scale > 0 {
			f /= math.Pow10(int(src.scale))
		}
		if col.Kind == Float {
			col.F[i] = f
		} else {
			if src.phys == parquet.Int64 && src.scale <= 0 {
				if src.unsigned && v.Int64() < 0 {
					col.setBad(i, n, src.formatInt64(v.Int64()))
					return
				}
				col.I[i] = v.Int64()
			} else if f != math.Trunc(f) || math.IsNaN(f) || math.Abs(f) > 1<<62 {
				col.setBad(i, n, fmt.Sprint(f))
				return
			} else {
				col.I[i] = int64(f)
			}
		}
	case Time:
		switch {
		case src.phys == parquet.Int96:
			us, ok := int96Micros(v.Int96())
			if !ok {
				col.setBad(i, n, fmt.Sprint(v.Int96()))
				return
			}
			col.I[i] = us
		case src.isDate:
			us, ok := dateMicros(int64(v.Int32()))
			if !ok {
				col.setBad(i, n, fmt.Sprint(v.Int32()))
				return
			}
			col.I[i] = us
		case src.isTime:
			x, ok := v.Int64(), true
			switch {
			case src.unit > 1:
				x = floorDiv(x, src.unit)
			case src.unit < 0:
				x, ok = mulMicros(x, -src.unit)
			}
			if !ok {
				col.setBad(i, n, fmt.Sprint(v.Int64()))
				return
			}
			col.I[i] = x
		case src.epochNumber():
			switch src.phys {
			case parquet.Int32, parquet.Int64:
				x := v.Int64()
				if src.phys == parquet.Int32 {
					x = src.int32(v.Int32())
				}
				us, ok := src.epoch.micros(x)
				if !ok || (src.unsigned && x < 0) {
					col.setBad(i, n, src.formatInt64(x))
					return
				}
				col.I[i] = us
			default:
				f := v.Double()
				if src.phys == parquet.Float {
					f = float64(v.Float())
				}
				us, ok := src.epoch.microsFloat(f)
				if !ok {
					col.setBad(i, n, fmt.Sprint(f))
					return
				}
				col.I[i] = us
			}
		default:
			raw := string(v.ByteArray())
			us, ok := parseTimeUnit(raw, src.epoch, nil)
			if !ok {
				col.setBad(i, n, raw)
				return
			}
			col.I[i] = us
		}
	case Bool:
		switch src.phys {
		case parquet.Boolean:
			col.B[i] = v.Boolean()
		case parquet.Int32:
			col.B[i] = v.Int32() != 0
		case parquet.Int64:
			col.B[i] = v.Int64() != 0
		default:
			raw := string(v.ByteArray())
			b, ok := parseBool(raw)
			if !ok {
				col.setBad(i, n, raw)
				return
			}
			col.B[i] = b
		}
	case StringList:
		col.L[i] = splitList(string(v.ByteArray()))
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// int96Micros decodes the legacy Impala/Spark INT96 timestamp: nanoseconds
// of the day in the low 8 bytes, the Julian day in the high 4. It reports
// false when the instant overflows int64 microseconds.
func int96Micros(x deprecated.Int96) (int64, bool) {
	nanos := int64(uint64(x[1])<<32 | uint64(x[0]))
	day := int64(x[2]) - 2_440_588
	us, ok := dateMicros(day)
	if !ok || (nanos > 0 && us > math.MaxInt64-nanos/1000) || (nanos < 0 && us < math.MinInt64-nanos/1000) {
		return 0, false
	}
	return us + nanos/1000, true
}

// convertAll converts src into dst, element by element.
func convertAll[D, S int32 | int64 | float32 | float64](dst []D, src []S) {
	for k, v := range src {
		dst[k] = D(v)
	}
}

// int32 is an INT32 value of src as the integer it stands for.
func (src source) int32(v int32) int64 {
	if src.unsigned {
		return int64(uint32(v))
	}
	return int64(v)
}

// formatInt64 formats an INT64 value of src, unsigned when src is.
func (src source) formatInt64(v int64) string {
	if src.unsigned {
		return strconv.FormatUint(uint64(v), 10)
	}
	return strconv.FormatInt(v, 10)
}

// uint32sTo converts UINT32 values, stored in INT32's bits, into dst.
func uint32sTo[D int64 | float64](dst []D, src []int32) {
	for k, v := range src {
		dst[k] = D(uint32(v))
	}
}

// uint64sTo converts UINT64 values, stored in INT64's bits, into dst.
func uint64sTo(dst []float64, src []int64) {
	for k, v := range src {
		dst[k] = float64(uint64(v))
	}
}

// unsignedInts marks as bad the nn values of col from row on, an
// unsigned INT64 column read as int64, that do not fit: above
// math.MaxInt64, their bits read as a negative number.
func unsignedInts(col *Column, row, nn, n int) {
	for k, v := range col.I[row : row+nn] {
		if v < 0 {
			col.I[row+k] = 0
			col.setBad(row+k, n, strconv.FormatUint(uint64(v), 10))
		}
	}
}
