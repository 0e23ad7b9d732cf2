package tables

import (
	"math/bits"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// The types below wrap parquet-go's column types to take two costs out of
// its writer without changing a byte of what it writes:
//
//   - it asks each data page for its min and max twice (once for the page
//     header's statistics, once for the column index), and a page finds
//     them by walking its values each time: boundsPage keeps the first
//     answer;
//   - a dictionary of strings hashes every value it is given, and then,
//     for each page's bounds, looks every index up again and compares the
//     strings: dict remembers where each string it has seen lives in
//     memory (the columns we write share one string per level: a segment
//     name, an RFM score), so a value it has seen costs a pointer compare,
//     and a page's bounds compare each level it uses once.
//
// Everything else is the wrapped type's: the dictionary itself (its order
// of first appearance, its page), the encodings, the pages' bytes. The
// wrappers embed parquet-go's interfaces, whose unexported methods serve
// its row-by-row write path, which WriteParquet does not take (it writes
// whole batches through ColumnWriter.WriteRowValues).

// typedNode is a leaf node whose type is wrapped.
type typedNode struct {
	parquet.Node
	typ parquet.Type
}

func (n typedNode) Type() parquet.Type { return n.typ }

// onceType is a column type whose pages compute their bounds once and,
// dictionary-encoded, use a dictionary that finds seen strings by address.
type onceType struct{ parquet.Type }

// withOnceBounds wraps leaf node n's type in onceType.
func withOnceBounds(n parquet.Node) parquet.Node {
	return typedNode{Node: n, typ: onceType{n.Type()}}
}

func (t onceType) NewColumnBuffer(columnIndex, numValues int) parquet.ColumnBuffer {
	return &onceBuffer{ColumnBuffer: t.Type.NewColumnBuffer(columnIndex, numValues)}
}

func (t onceType) NewDictionary(columnIndex, numValues int, data encoding.Values) parquet.Dictionary {
	d := &dict{Dictionary: t.Type.NewDictionary(columnIndex, numValues, data), column: columnIndex}
	d.strings = t.Kind() == parquet.ByteArray
	return d
}

// onceBuffer is a column buffer whose pages compute their bounds once.
type onceBuffer struct{ parquet.ColumnBuffer }

func (b *onceBuffer) Page() parquet.Page { return &boundsPage{Page: b.ColumnBuffer.Page()} }

// boundsPage is a page that remembers its bounds.
type boundsPage struct {
	parquet.Page
	known    bool
	min, max parquet.Value
	ok       bool
}

func (p *boundsPage) Bounds() (min, max parquet.Value, ok bool) {
	if !p.known {
		p.min, p.max, p.ok = p.Page.Bounds()
		p.known = true
	}
	return p.min, p.max, p.ok
}

// dict is a dictionary whose column buffers are indexBuffers; for strings
// it keeps the address cache.
type dict struct {
	parquet.Dictionary
	column  int
	strings bool
	seen    addrCache
}

func (d *dict) Type() parquet.Type { return dictType{Type: d.Dictionary.Type(), dict: d} }

func (d *dict) Reset() {
	d.Dictionary.Reset()
	d.seen.reset() // the indexes it held are gone with the values
}

// insert sets idx to the dictionary indexes of values, inserting the new
// ones in order, as the wrapped dictionary would.
func (d *dict) insert(idx []int32, values []parquet.Value) {
	if !d.strings {
		d.Dictionary.Insert(idx, values)
		return
	}
	for i := range values {
		b := values[i].ByteArray()
		p := unsafe.SliceData(b)
		if x, ok := d.seen.get(p, len(b)); ok {
			idx[i] = x
			continue
		}
		d.Dictionary.Insert(idx[i:i+1], values[i:i+1])
		d.seen.put(p, len(b), idx[i])
	}
}

// addrCache maps the address and length of a string to its dictionary
// index: a direct-mapped table, so a column of more distinct strings than
// slots only loses hits (the wrapped dictionary answers those), never
// gives a wrong index. A string's bytes do not change while it is written.
type addrCache struct {
	slots []addrSlot
}

type addrSlot struct {
	p   *byte
	n   int
	idx int32
}

const addrCacheBits = 8

func (c *addrCache) slot(p *byte) *addrSlot {
	if c.slots == nil {
		c.slots = make([]addrSlot, 1<<addrCacheBits)
	}
	h := (uint64(uintptr(unsafe.Pointer(p))) * 0x9e3779b97f4a7c15) >> (64 - addrCacheBits)
	return &c.slots[h]
}

func (c *addrCache) get(p *byte, n int) (int32, bool) {
	s := c.slot(p)
	return s.idx, s.p == p && s.n == n && p != nil
}

func (c *addrCache) put(p *byte, n int, idx int32) {
	if p != nil {
		*c.slot(p) = addrSlot{p: p, n: n, idx: idx}
	}
}

func (c *addrCache) reset() { clear(c.slots) }

// dictType is the type of a dict's column buffers (the wrapped
// dictionary's indexed type otherwise).
type dictType struct {
	parquet.Type
	dict *dict
}

func (t dictType) NewColumnBuffer(columnIndex, numValues int) parquet.ColumnBuffer {
	return &indexBuffer{
		ColumnBuffer: t.Type.NewColumnBuffer(columnIndex, 0),
		typ:          t.Type,
		dict:         t.dict,
		column:       columnIndex,
		idx:          make([]int32, 0, numValues),
	}
}

// indexBuffer holds a page's dictionary indexes, as parquet-go's indexed
// column buffer does, and makes its page with the indexed type.
type indexBuffer struct {
	parquet.ColumnBuffer // the wrapped type's, for the methods not used
	typ                  parquet.Type
	dict                 *dict
	column               int
	idx                  []int32
}

func (b *indexBuffer) WriteValues(values []parquet.Value) (int, error) {
	i := len(b.idx)
	b.idx = append(b.idx, make([]int32, len(values))...)
	b.dict.insert(b.idx[i:], values)
	return len(values), nil
}

func (b *indexBuffer) Len() int         { return len(b.idx) }
func (b *indexBuffer) Cap() int         { return cap(b.idx) }
func (b *indexBuffer) Size() int64      { return 4 * int64(len(b.idx)) }
func (b *indexBuffer) Reset()           { b.idx = b.idx[:0] }
func (b *indexBuffer) NumValues() int64 { return int64(len(b.idx)) }

func (b *indexBuffer) Page() parquet.Page {
	p := &boundsPage{Page: b.typ.NewPage(b.column, len(b.idx), encoding.Int32Values(b.idx))}
	if b.dict.strings && len(b.idx) > 0 {
		p.min, p.max = b.dict.stringBounds(b.idx, b.column)
		p.known, p.ok = true, true
	}
	return p
}

// stringBounds are the least and greatest strings idx refers to: each
// level used is compared once, however many rows use it.
func (d *dict) stringBounds(idx []int32, column int) (min, max parquet.Value) {
	used := make([]uint64, (d.Len()+63)/64)
	for _, x := range idx {
		used[x>>6] |= 1 << (x & 63)
	}
	lo, hi := -1, -1
	var los, his string
	for w, word := range used {
		for word != 0 {
			k := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			b := d.Index(int32(k)).ByteArray()
			s := unsafe.String(unsafe.SliceData(b), len(b))
			if lo < 0 || s < los {
				lo, los = k, s
			}
			if hi < 0 || s > his {
				hi, his = k, s
			}
		}
	}
	return d.Index(int32(lo)).Level(0, 0, column), d.Index(int32(hi)).Level(0, 0, column)
}
