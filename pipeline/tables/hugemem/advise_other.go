//go:build !linux

package hugemem

import (
	"time"
	"unsafe"
)

func advise(p unsafe.Pointer, n uintptr) {}

func populate(p unsafe.Pointer, n uintptr) time.Duration { return 0 }
