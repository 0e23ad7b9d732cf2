package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHelpReadsCorrectly: a flag's usage never has a backquoted phrase,
// which Go's flag package would print as the flag's argument name
// ("-shard strata fit").
func TestHelpReadsCorrectly(t *testing.T) {
	for _, verb := range []string{"run", "fit", "finish", "backfill", "serve", "runs", "validate", "show", "demo", "generate", "clv", "cluster"} {
		code, stdout, stderr := strata(t, verb, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d", verb, code)
		}
		help := stdout + stderr
		if m := regexp.MustCompile(`(?m)^\s+-[a-z-]+ strata\b`).FindString(help); m != "" {
			t.Errorf("%s --help: %q reads a phrase as the argument's name:\n%s", verb, m, help)
		}
	}
	_, _, stderr := strata(t, "run", "--help")
	if !strings.Contains(stderr, "-shard string") || !strings.Contains(stderr, "-wait duration") {
		t.Errorf("run --help:\n%s", stderr)
	}
}

// TestErrorPrintedOnce: a failing command says what is wrong once on
// stderr, whatever the log format.
func TestErrorPrintedOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, format := range []string{"json", "console"} {
		code, _, stderr := strata(t, "validate", "--config", missing, "--log-format", format)
		if code != 2 {
			t.Errorf("%s: exit %d", format, code)
		}
		if n := strings.Count(stderr, "missing.yaml"); n != 1 {
			t.Errorf("%s: the error appears %d times on stderr:\n%s", format, n, stderr)
		}
	}
}

// TestLogDurationsHaveUnits: no log field is a bare zerolog duration
// (unlabelled milliseconds); durations are logged as <name>_seconds.
func TestLogDurationsHaveUnits(t *testing.T) {
	root := filepath.Join("..", "..")
	bare := regexp.MustCompile(`\.Dur\(|\.Durs\(`)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bare.Match(data) {
			t.Errorf("%s logs a duration without a unit (zerolog Dur); log Float64(\"<name>_seconds\", d.Seconds())", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
