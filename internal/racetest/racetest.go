// Package racetest lets a test step aside under the race detector.
//
// The race phase of the suite exists to find data races in code that
// starts goroutines. Cross-checks of a whole run's numbers against DuckDB
// or a browser repeat, ten times slower, what the plain phase has already
// checked on the same code; they skip themselves under -race with
// Skip, so the race phase stays within the suite's time budget while every
// worker pool still runs under it (each package keeps its own concurrency
// tests and at least one whole run).
package racetest

import "testing"

// Skip skips t when the binary is built with -race, saying why.
func Skip(t testing.TB, why string) {
	t.Helper()
	if Enabled {
		t.Skip("under the race detector: " + why)
	}
}
