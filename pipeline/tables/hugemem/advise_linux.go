package hugemem

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// advise asks for huge pages; it is advice, and an error changes nothing.
func advise(p unsafe.Pointer, n uintptr) {
	_ = syscall.Madvise(unsafe.Slice((*byte)(p), n), syscall.MADV_HUGEPAGE)
}

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14); older kernels
// refuse it, which is fine.
const madvPopulateWrite = 23

// populate faults the memory in and returns the processor time the
// kernel spent on it: the thread's, so that other goroutines' work and
// waiting for a processor do not count.
func populate(p unsafe.Pointer, n uintptr) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after syscall.Rusage
	errBefore := syscall.Getrusage(rusageThread, &before)
	_ = syscall.Madvise(unsafe.Slice((*byte)(p), n), madvPopulateWrite)
	if errBefore != nil || syscall.Getrusage(rusageThread, &after) != nil {
		return 0
	}
	return time.Duration(after.Stime.Nano() - before.Stime.Nano() + after.Utime.Nano() - before.Utime.Nano())
}

// rusageThread is RUSAGE_THREAD.
const rusageThread = 1
