// Command polars installs the pinned Polars npm packages (nodejs-polars
// and its linux-x64-gnu binary) that bench/e2e/run.sh's second peer runs
// on, into a cache directory as internal/duckdbtest/install does DuckDB's,
// and prints where: $STRATA_POLARS_DIR, else strata-test/polars under the
// user's cache directory. Only the benchmark uses Polars.
//
//	go run ./bench/e2e/polars
package main

import (
	"fmt"
	"os"

	"github.com/strata-oss/strata/internal/npmcache"
)

// Version is the pinned nodejs-polars release (Polars 0.25.2's Node
// bindings; the binary package's version is the same).
const Version = "0.25.2"

func main() {
	dir, err := npmcache.InstallAll("polars", "STRATA_POLARS_DIR",
		npmcache.Package{Name: "nodejs-polars", Version: Version},
		npmcache.Package{Name: "nodejs-polars-linux-x64-gnu", Version: Version})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("polars (nodejs-polars %s) in %s\n", Version, dir)
}
