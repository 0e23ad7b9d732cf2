//go:build unix

package pipeline

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used so far, user and
// system, all threads: a stage's share of it, beside its wall time, says
// what the stage cost when others' work on the machine stretches the wall
// time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
