//go:build !amd64

package main

// prefetch is a no-op where there is no prefetch instruction wired up.
func prefetch(p *uint64) {}
