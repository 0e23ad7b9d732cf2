//go:build unix

package objstore

import (
	"errors"
	"os"
	"syscall"
)

// processAlive reports whether a process pid exists. A pid reused by an
// unrelated process counts as alive: its writer's file then waits for a
// later listing, which is safe; removing a live writer's file is not.
func processAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
