// Command install installs the pinned playwright-core the browser tests
// use, so that the test script can do it before any test starts.
package main

import (
	"fmt"
	"os"

	"github.com/strata-oss/strata/internal/browsertest"
)

func main() {
	dir, err := browsertest.Install()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exe, err := browsertest.Chromium()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("playwright-core %s in %s, browser %s\n", browsertest.Version, dir, exe)
}
