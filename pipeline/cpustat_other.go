//go:build !unix

package pipeline

import "time"

// processCPU is -1: the system does not say.
func processCPU() time.Duration { return -1 }
