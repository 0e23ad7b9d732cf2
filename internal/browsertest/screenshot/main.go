// Command screenshot saves a full-page PNG of an HTML file as headless
// Chromium renders it (the README's picture of the report):
//
//	go run ./internal/browsertest/screenshot REPORT.html OUT.png
package main

import (
	"fmt"
	"os"

	"github.com/strata-oss/strata/internal/browsertest"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: screenshot REPORT.html OUT.png")
		os.Exit(2)
	}
	p, err := browsertest.Load(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d charts, %dx%d px, %d console errors, %d requests\n", os.Args[2], len(p.Charts), p.Width, p.Height,
		len(p.ConsoleErrors), len(p.Requests))
}
