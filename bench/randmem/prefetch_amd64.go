package main

// prefetch asks for the line at p in L2, as the feature engine does
// (PREFETCHT1), without waiting for it.
//
//go:noescape
func prefetch(p *uint64)
