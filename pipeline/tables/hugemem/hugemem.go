// Package hugemem allocates large, randomly accessed slices — the feature
// engine's per-customer records — so that the kernel can back them with
// transparent huge pages, and faults them in ahead of use.
//
// Go's heap uses 4 KiB pages on Linux unless the system enables huge pages
// for everything, and a slice of hundreds of megabytes hit at random then
// costs a page fault per 4 KiB when first written and a TLB miss on nearly
// every access. Slices from Make start on a 2 MiB boundary and are advised
// MADV_HUGEPAGE, which the common "madvise" setting honours. It is not
// used for buffers written front to back: there huge pages save little,
// and right after another process freed a lot of memory the kernel may
// compact memory to find them, which costs more than it saves.
package hugemem

import (
	"time"
	"unsafe"
)

// Size is the huge page size assumed (x86-64 and most arm64 kernels).
const Size = 2 << 20

// threshold is the smallest slice worth aligning: below a few huge pages
// the padding costs more than the faults saved.
const threshold = 4 << 20

// Make returns a zeroed slice of n elements, huge-page backed when large.
// The memory is never touched here, so the first write of each 2 MiB is
// the fault that brings in a huge page.
func Make[T any](n int) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if size == 0 || n*size < threshold {
		return make([]T, n)
	}
	pad := Size / size
	v := make([]T, n+pad)
	off := 0
	if a := uintptr(unsafe.Pointer(&v[0])) % Size; a != 0 {
		off = int(Size-a) / size
	}
	v = v[off : off+n : off+n]
	advise(unsafe.Pointer(&v[0]), uintptr(n*size))
	return v
}

// Populate faults in the memory of v (zeroed pages where it has none yet)
// without changing what it holds, so that a goroutine can take the page
// faults of a slice another one is about to fill. Advice only. It returns
// the processor time the kernel spent, 0 where it cannot tell.
func Populate[T any](v []T) time.Duration {
	if len(v) == 0 {
		return 0
	}
	var zero T
	return populate(unsafe.Pointer(&v[0]), uintptr(len(v))*unsafe.Sizeof(zero))
}

// Fresh faults in the whole capacity of s, a slice just made, when it is
// a mebibyte or more, and returns s. A large allocation is memory the
// process has not touched, and faulting it in a page at a time as it is
// first written costs about twice the kernel time of one Populate on the
// VMs Strata runs on; below a mebibyte the call costs more than it saves.
func Fresh[T any](s []T) []T {
	var zero T
	if uintptr(cap(s))*unsafe.Sizeof(zero) >= 1<<20 {
		Populate(s[:cap(s)])
	}
	return s
}

// SlowHuge is the cost of faulting memory in, per MiB, above which huge
// pages lose more than they save when how often the memory will be hit
// is unknown (see Pays). Where the kernel has them ready a huge
// page costs 0.1–0.2 ms/MiB and spares a TLB miss on most random
// accesses; on a VM whose host backs guest memory 4 KiB at a time it costs
// 1.7–3.9 ms/MiB, against 0.33–0.40 for small pages (128 MiB populated
// after an idle second, 2 vCPU Firecracker VM), so that a 200 MB arena of
// records spends half a second in the kernel for a TLB saving of a
// fraction of that when each record is hit a few times.
const SlowHuge = time.Millisecond

// TLBMiss is what a huge page saves on each random access to a slice far
// larger than the TLB covers: the page walk of a 4 KiB page, whose own
// entries miss the caches. On the 2 vCPU Firecracker VM, 5M customers'
// records (0.9 GiB) updated by 100M order rows, the extract stage took a
// median 19.9 CPU-s on mostly small pages and 16.1 on huge ones, with
// about 1.5 s more of faulting in (15 alternated pairs, busy machine;
// 12.3–14.4 against 17.5–22.4 in quieter runs): 50–80 ns an order row.
const TLBMiss = 50 * time.Nanosecond

// Pays reports whether huge pages that took cost to fault in bytes of
// memory are worth it when each MiB of it will then be hit hits times at
// random (0: unknown). Their faulting is paid once and their saving on
// every hit, so memory hit often keeps huge pages however slow the kernel
// is to find them: on that VM 1.7–3.9 ms/MiB, above SlowHuge, while 20 hits
// a 192-byte record save 5.5 ms/MiB.
func Pays(cost time.Duration, bytes int64, hits float64) bool {
	budget := max(float64(SlowHuge), hits*float64(TLBMiss)) // per MiB
	return float64(cost) <= budget*float64(bytes)/(1<<20)
}
