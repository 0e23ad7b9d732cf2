// Command install installs the pinned DuckDB npm package the tests use, so
// that the test script can do it before any test starts.
package main

import (
	"fmt"
	"os"

	"github.com/strata-oss/strata/internal/duckdbtest"
)

func main() {
	dir, err := duckdbtest.Install()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("duckdb (@duckdb/node-api %s) in %s\n", duckdbtest.Version, dir)
}
