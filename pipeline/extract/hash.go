package extract

import "math/bits"

// Hashes here are fixed functions (no per-process seed), so that anything
// derived from them — shard placement, hash-table layout — is the same on
// every run. Nothing observable depends on them except through collisions
// of the 128-bit order-id hash, which are negligible (2^-128 per pair).

const (
	k0 = 0xa0761d6478bd642f
	k1 = 0xe7037ed1a0b428db
	k2 = 0x8ebc6af09c88c6e3
	k3 = 0x589965cc75374cc3
)

func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// HashString is a 64-bit hash of s (wyhash-style: 64×64→128-bit multiply
// and fold per 16 bytes).
func HashString(s string, seed uint64) uint64 {
	seed ^= k0
	n := len(s)
	var a, b uint64
	switch {
	case n == 0:
	case n <= 3:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	case n <= 8:
		a = uint64(le32(s))<<32 | uint64(le32(s[n-4:]))
	case n <= 16:
		a, b = le64(s), le64(s[n-8:])
	default:
		i := n
		p := s
		for i > 16 {
			seed = mum(le64(p)^k1, le64(p[8:])^seed)
			p = p[16:]
			i -= 16
		}
		a, b = le64(s[n-16:]), le64(s[n-8:])
	}
	return mum(k1^uint64(n), mum(a^k1, b^seed))
}

// HashInt is a bijective 64-bit mix of x (the murmur3 finaliser): distinct
// ids always have distinct hashes.
func HashInt(x int64) uint64 {
	h := uint64(x)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// le64 and le32 read little-endian words; the compiler turns the shifts
// into single loads.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// hash128 identifies an order id for deduplication.
type hash128 struct{ lo, hi uint64 }

func orderHash(s string) hash128 {
	return hash128{HashString(s, k2), HashString(s, k3)}
}

// idSet is an open-addressing set of 128-bit hashes: no pointers for the GC
// to scan, 16 bytes a slot.
type idSet struct {
	slots []hash128 // zero is empty; a zero hash is stored as {1, 0}
	n     int
}

// add inserts h and reports whether it was new.
func (s *idSet) add(h hash128) bool {
	if h == (hash128{}) {
		h.lo = 1
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h.lo & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return false
		case hash128{}:
			s.slots[i] = h
			s.n++
			return true
		}
	}
}

func (s *idSet) grow() {
	old := s.slots
	size := max(1024, 2*len(old))
	s.slots = make([]hash128, size)
	mask := uint64(size - 1)
	for _, h := range old {
		if h == (hash128{}) {
			continue
		}
		i := h.lo & mask
		for s.slots[i] != (hash128{}) {
			i = (i + 1) & mask
		}
		s.slots[i] = h
	}
}
