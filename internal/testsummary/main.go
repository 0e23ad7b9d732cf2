// Command testsummary reads `go test -json` on stdin and writes what
// `go test` without -json would — each package's ok / FAIL / skip line,
// and the whole output of every failing test — then the slowest tests.
// scripts/test.sh pipes the suite through it; CI reads the ok/FAIL lines
// as before.
//
//	go test -json ./... | tee test.json | go run ./internal/testsummary -slowest 10
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type result struct {
	name    string
	seconds float64
}

func main() {
	slowest := flag.Int("slowest", 10, "list this many of the slowest tests at the end")
	flag.Parse()
	failed, err := summarize(os.Stdin, os.Stdout, *slowest)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// summarize copies the package lines and failing tests' output of the
// event stream r to w, then lists the n slowest top-level tests; it
// reports whether anything failed.
func summarize(r io.Reader, w io.Writer, n int) (failed bool, err error) {
	out := map[string]*strings.Builder{} // test output, kept until it passes
	var results []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if json.Unmarshal(line, &ev) != nil {
			// Not an event: a build error printed as is.
			fmt.Fprintln(w, string(line))
			continue
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output":
			if ev.Test == "" {
				// Package level: "ok  pkg 1.2s", "FAIL pkg", panics.
				// (-json runs tests as -v does; these lines are its, not go test's.)
				if !strings.HasPrefix(ev.Output, "=== ") && ev.Output != "PASS\n" &&
					ev.Output != "testing: warning: no tests to run\n" {
					fmt.Fprint(w, ev.Output)
				}
				continue
			}
			b := out[key]
			if b == nil {
				b = &strings.Builder{}
				out[key] = b
			}
			b.WriteString(ev.Output)
		case "pass", "skip":
			delete(out, key)
			if ev.Test != "" && ev.Action == "pass" && !strings.Contains(ev.Test, "/") {
				results = append(results, result{ev.Package + "." + ev.Test, ev.Elapsed})
			}
		case "fail":
			failed = true
			if ev.Test != "" {
				if b := out[key]; b != nil {
					fmt.Fprint(w, b.String())
				}
				delete(out, key)
				if !strings.Contains(ev.Test, "/") {
					results = append(results, result{ev.Package + "." + ev.Test + " (FAIL)", ev.Elapsed})
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	sort.Slice(results, func(i, j int) bool { return results[i].seconds > results[j].seconds })
	if n > 0 && len(results) > 0 {
		fmt.Fprintf(w, "\nslowest %d tests:\n", min(n, len(results)))
		for _, r := range results[:min(n, len(results))] {
			fmt.Fprintf(w, "  %8.2fs  %s\n", r.seconds, r.name)
		}
	}
	return failed, nil
}
