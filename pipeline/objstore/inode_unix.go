//go:build unix

package objstore

import (
	"os"
	"syscall"
)

// inode returns the file's inode number, part of Local's ETag.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
