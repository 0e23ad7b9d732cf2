//go:build !amd64

package features

import "unsafe"

func prefetchRecord(p unsafe.Pointer)              {}
func prefetchLines(p unsafe.Pointer, lines uint64) {}
func prefetchLine(p unsafe.Pointer)                {}
