package hugemem

import (
	"syscall"
	"unsafe"
)

// advise asks for huge pages; it is advice, and an error changes nothing.
func advise(p unsafe.Pointer, n uintptr) {
	_ = syscall.Madvise(unsafe.Slice((*byte)(p), n), syscall.MADV_HUGEPAGE)
}

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14); older kernels
// refuse it, which is fine.
const madvPopulateWrite = 23

func populate(p unsafe.Pointer, n uintptr) {
	_ = syscall.Madvise(unsafe.Slice((*byte)(p), n), madvPopulateWrite)
}
