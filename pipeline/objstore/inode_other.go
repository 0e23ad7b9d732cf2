//go:build !unix

package objstore

import "os"

// inode is 0 where the platform exposes none; Local's ETag then rests on
// size and the nanosecond mtime that Upload stamps.
func inode(os.FileInfo) uint64 { return 0 }
