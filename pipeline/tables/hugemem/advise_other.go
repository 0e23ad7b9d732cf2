//go:build !linux

package hugemem

import "unsafe"

func advise(p unsafe.Pointer, n uintptr) {}

func populate(p unsafe.Pointer, n uintptr) {}
