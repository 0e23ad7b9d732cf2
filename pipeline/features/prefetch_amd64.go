package features

import "unsafe"

// Go has no prefetch intrinsic. Customer records are hit at random, so
// without one every order row waits for main memory in turn; with it, the
// loads of the rows a few ahead overlap the work on this one.

// prefetchRecord starts loading the first three cache lines at p.
//
//go:noescape
func prefetchRecord(p unsafe.Pointer)

// prefetchLines starts loading the cache lines at p whose numbers are the
// set bits of lines (bit i: the line at p + 64·i), into the L2 cache
// (PREFETCHT1), not L1: the shard keeps some thirty lines in flight, more
// than L1 can track misses for, and a prefetch that finds L1's miss
// buffers full waits for one; L2 tracks more. On 10M orders, six
// alternated pairs each: 0.72 → 0.68 s for the hint, then 0.81 → 0.78 s
// for 16 rows ahead instead of 12 (a loop of the shard's accesses alone:
// 31 → 21 ns a row). The other prefetches stay T0: their lines are used
// a few rows later, and moving them to L2 measured slower.
//
//go:noescape
func prefetchLines(p unsafe.Pointer, lines uint64)

// prefetchLine starts loading the cache line at p.
//
//go:noescape
func prefetchLine(p unsafe.Pointer)
