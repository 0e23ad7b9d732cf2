//go:build linux

package objstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing bytes [off, off+n) of f
// to the disk, without waiting for it: see writebackFile.
func startWriteback(f *os.File, off, n int64) {
	// Advice only: the fsync that follows is what must succeed.
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
