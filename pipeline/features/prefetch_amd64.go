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
// set bits of lines (bit i: the line at p + 64·i).
//
//go:noescape
func prefetchLines(p unsafe.Pointer, lines uint64)

// prefetchLine starts loading the cache line at p.
//
//go:noescape
func prefetchLine(p unsafe.Pointer)
