//go:build !unix

package objstore

// processAlive can not tell elsewhere: every writer counts as alive, so
// no temp file is removed.
func processAlive(int) bool { return true }
