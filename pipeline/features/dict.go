package features

import (
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"
)

// custDict maps the customer ids of one shard to dense local rows, in
// first-seen order.
//
// Integer ids whose range the Parquet statistics bound tightly enough go
// through a direct table: row+1 at id−lo, one array access. Other ids go
// through an open-addressing table of (hash, row) slots — no pointers,
// one cache line a probe — beside the keys by row. Integer ids are hashed
// bijectively (extract.HashInt), so an equal hash is an equal key and the
// keys are never compared. A directly addressed id is not stored: the
// table's index is the id, and ints builds the keys by row once, at the
// end, instead of a slice grown by appends on the hot path.
type custDict struct {
	intIDs bool
	lo     int64
	// direct holds row+1 by id−lo; 0 is absent, claiming while a
	// goroutine is adding the id (claim).
	direct []int32
	slots  []slot
	mask   uint64
	n      atomic.Int32 // rows handed out
	hashed []hashedInt  // integer ids reached through the hash table
	strs   []string     // text ids by row
}

// claiming marks a direct-table entry whose row is being handed out.
const claiming = -1

type hashedInt struct {
	row int32
	id  int64
}

type slot struct {
	hash uint64
	row  int32 // row+1; 0 is an empty slot
}

// newCustDict returns a dictionary; with span > 0, integer ids in
// [lo, lo+span) are addressed directly.
func newCustDict(intIDs bool, lo int64, span int) *custDict {
	d := &custDict{intIDs: intIDs, lo: lo}
	if span > 0 {
		d.direct = make([]int32, span)
	}
	d.resize(1 << 10)
	return d
}

// Len is the number of customers.
func (d *custDict) Len() int { return int(d.n.Load()) }

// ints returns the integer ids by row. It needs the direct table, so it
// must come before free.
func (d *custDict) ints() []int64 {
	ids := make([]int64, d.Len())
	for x, r := range d.direct {
		if r != 0 {
			ids[r-1] = d.lo + int64(x)
		}
	}
	for _, h := range d.hashed {
		ids[h.row] = h.id
	}
	return ids
}

func (d *custDict) resize(n int) {
	old := d.slots
	d.slots = make([]slot, n)
	d.mask = uint64(n - 1)
	for _, s := range old {
		if s.row == 0 {
			continue
		}
		i := s.hash & d.mask
		for d.slots[i].row != 0 {
			i = (i + 1) & d.mask
		}
		d.slots[i] = s
	}
}

// row returns the row of the id with hash h (iv for integer ids, sv for
// text), or -1.
func (d *custDict) row(h uint64, iv int64, sv string) int32 {
	if x := uint64(iv - d.lo); x < uint64(len(d.direct)) {
		return max(atomic.LoadInt32(&d.direct[x]), 0) - 1
	}
	for i := h & d.mask; ; i = (i + 1) & d.mask {
		s := d.slots[i]
		if s.row == 0 {
			return -1
		}
		if s.hash == h && (d.intIDs || d.strs[s.row-1] == sv) {
			return s.row - 1
		}
	}
}

// directRows appends the row of each id to rows: -1 for one outside the
// direct table and, unless add, for one it does not hold yet; with add,
// the ids it lacks are added (claim). The readers call it, several at
// once and while the shard adds ids too (engine.HintOrders), hence the
// atomic loads. They add only for blocks none of whose rows can be
// dropped: which goroutine adds a customer first decides only where its
// record is, not what it holds, since every block's rows still reach the
// shard in input order.
func (d *custDict) directRows(ids []int64, rows []int32, add bool) []int32 {
	direct, lo := d.direct, d.lo
	for i, id := range ids {
		if i+16 < len(ids) {
			// The table is a few MiB: its entries miss the cache too.
			if x := uint64(ids[i+16] - lo); x < uint64(len(direct)) {
				prefetchLine(unsafe.Pointer(&direct[x]))
			}
		}
		row := int32(-1)
		if x := uint64(id - lo); x < uint64(len(direct)) {
			if row = atomic.LoadInt32(&direct[x]) - 1; row < 0 && add {
				row, _ = d.claim(x)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// claim returns the row of direct-table entry x, adding it if it has none.
func (d *custDict) claim(x uint64) (row int32, added bool) {
	p := &d.direct[x]
	for {
		switch r := atomic.LoadInt32(p); {
		case r > 0:
			return r - 1, false
		case r == 0:
			if atomic.CompareAndSwapInt32(p, 0, claiming) {
				n := d.n.Add(1) - 1
				atomic.StoreInt32(p, n+1)
				return n, true
			}
		default: // another goroutine is between its CAS and its store
			runtime.Gosched()
		}
	}
}

// insert returns the row of the id, adding it if new; added says so.
func (d *custDict) insert(h uint64, iv int64, sv string) (row int32, added bool) {
	if x := uint64(iv - d.lo); x < uint64(len(d.direct)) {
		if r := atomic.LoadInt32(&d.direct[x]); r > 0 {
			return r - 1, false
		}
		return d.claim(x)
	}
	i := h & d.mask
	for ; ; i = (i + 1) & d.mask {
		s := d.slots[i]
		if s.row == 0 {
			break
		}
		if s.hash == h && (d.intIDs || d.strs[s.row-1] == sv) {
			return s.row - 1, false
		}
	}
	n := d.n.Add(1) - 1
	if d.intIDs {
		d.hashed = append(d.hashed, hashedInt{int32(n), iv})
	} else {
		// The block's string may share a page-sized allocation.
		d.strs = append(d.strs, strings.Clone(sv))
	}
	d.slots[i] = slot{hash: h, row: int32(n + 1)}
	if 2*int(n+1) > len(d.slots) {
		d.resize(2 * len(d.slots))
	}
	return int32(n), true
}

// free drops the lookup tables once no more lookups will come; the keys
// stay.
func (d *custDict) free() { d.slots, d.direct = nil, nil }
