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

// TestValidateOffline: --offline checks the configuration without
// reaching its storage (an S3 endpoint nobody listens on, no credentials);
// without it, validate reaches the inputs and lists what it found.
func TestValidateOffline(t *testing.T) {
	dir := t.TempDir()
	s3cfg := `version: 1
storage: {s3: {endpoint: "http://127.0.0.1:9", max_attempts: 1}}
input:
  location: s3://nowhere/in
  orders: {path: orders, columns: {order_ts: ordered_at, amount: net_amount}}
output:
  location: s3://nowhere/out
`
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	p := writeConfig(t, dir, s3cfg)
	code, stdout, stderr := strata(t, "validate", "--config", p, "--offline")
	if code != 0 || !strings.Contains(stdout, "configuration is valid") || !strings.Contains(stdout, "--offline") {
		t.Errorf("offline: exit %d\n%s%s", code, stdout, stderr)
	}
	bad := writeConfig(t, t.TempDir(), s3cfg+"audiences:\n  - {name: x, filter: 'clvv > 3'}\nschedule: {catch_up_days: 99}\n")
	if code, stdout, stderr := strata(t, "validate", "--config", bad, "--offline"); code != 2 ||
		!strings.Contains(stderr, "schedule.catch_up_days") {
		t.Errorf("offline, bad config: exit %d\n%s%s", code, stdout, stderr)
	}
	badAud := writeConfig(t, t.TempDir(), s3cfg+"audiences:\n  - {name: x, filter: 'clvv > 3'}\n")
	if code, stdout, stderr := strata(t, "validate", "--config", badAud, "--offline"); code != 2 || !strings.Contains(stderr, `unknown column "clvv"`) {
		t.Errorf("offline, bad audience: exit %d\n%s%s", code, stdout, stderr)
	}

	// Online, on a local shop: the inputs and their columns are listed.
	in := filepath.Join(dir, "in")
	if code, _, stderr := strata(t, "generate", "--dir", in, "--customers", "200", "--log-level", "error"); code != 0 {
		t.Fatal(stderr)
	}
	local := writeConfig(t, t.TempDir(), strings.ReplaceAll(strings.Replace(s3cfg, "s3://nowhere/in", in, 1), "s3://nowhere/out", filepath.Join(dir, "out")))
	code, stdout, stderr = strata(t, "validate", "--config", local)
	if code != 0 || !strings.Contains(stdout, "inputs under "+in) || !strings.Contains(stdout, "orders: ") ||
		!strings.Contains(stdout, "net_amount") || !strings.Contains(stdout, "input schemas are valid") {
		t.Errorf("online: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Log(stdout)
}
