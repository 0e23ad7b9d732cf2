package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func strata(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "strata.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := strata(t, "generate", "--dir", filepath.Join(dir, "in"), "--customers", "500", "--log-level", "error"); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	good := `version: 1
input:
  location: ` + filepath.Join(dir, "in") + `
  orders:
    path: orders
    columns: {order_ts: ordered_at, amount: net_amount}
output:
  location: ` + filepath.Join(dir, "out") + `
`
	cases := []struct {
		name string
		args []string
		cfg  string
		code int
		want string // in stdout+stderr
	}{
		{"no args", nil, "", 2, "Usage:"},
		{"unknown verb", []string{"frobnicate"}, "", 2, `unknown command "frobnicate"`},
		{"bad flag", []string{"run", "--nope"}, "", 2, "flag provided but not defined"},
		{"missing flags", []string{"run"}, "", 2, "--config and --as-of are required"},
		{"bad date", []string{"run", "--config", "CFG", "--as-of", "30/06/2025"}, good, 2, "want YYYY-MM-DD"},
		{"version", []string{"version"}, "", 0, "strata dev"},
		{"config problems", []string{"validate", "--config", "CFG"}, "version: 1\ninput:\n  locaton: x\n", 2, "input.locaton (line 3): unknown key; did you mean \"location\"?"},
		{"valid", []string{"validate", "--config", "CFG"}, good, 0, "configuration and input schemas are valid"},
		{"schema mismatch", []string{"validate", "--config", "CFG"}, strings.Replace(good, "net_amount", "no_such_column", 1), 2, `required column "no_such_column"`},
		{"run ok", []string{"run", "--config", "CFG", "--as-of", "2025-06-30"}, good, 0, "published to"},
		{"quality gate", []string{"run", "--config", "CFG", "--as-of", "2025-06-30"}, good + "quality:\n  max_bad_fraction: 0\n", 3, "data-quality gate"},
		{"missing input dir", []string{"validate", "--config", "CFG"}, strings.Replace(good, filepath.Join(dir, "in"), filepath.Join(dir, "nope"), 1), 1, "no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string(nil), tc.args...)
			if tc.cfg != "" {
				p := writeConfig(t, t.TempDir(), tc.cfg)
				for i, a := range args {
					if a == "CFG" {
						args[i] = p
					}
				}
			}
			args = append(args, "--log-level", "error")
			if len(tc.args) == 0 {
				args = nil
			}
			code, stdout, stderr := strata(t, args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tc.want, stdout, stderr)
			}
		})
	}
}

func TestQualityGateLeavesPreviousRunUntouched(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := strata(t, "generate", "--dir", filepath.Join(dir, "in"), "--customers", "300", "--log-level", "error"); code != 0 {
		t.Fatal(stderr)
	}
	cfg := `version: 1
input:
  location: ` + filepath.Join(dir, "in") + `
  orders: {path: orders, columns: {order_ts: ordered_at, amount: net_amount}}
output:
  location: ` + filepath.Join(dir, "out") + `
`
	p := writeConfig(t, dir, cfg)
	if code, _, stderr := strata(t, "run", "--config", p, "--as-of", "2025-06-30", "--log-level", "error"); code != 0 {
		t.Fatal(stderr)
	}
	success := filepath.Join(dir, "out", "segments", "dt=2025-06-30", "_SUCCESS")
	before, err := os.ReadFile(success)
	if err != nil {
		t.Fatal(err)
	}
	p = writeConfig(t, dir, cfg+"quality: {max_bad_fraction: 0}\n")
	if code, _, _ := strata(t, "run", "--config", p, "--as-of", "2025-06-30", "--log-level", "error"); code != 3 {
		t.Fatalf("exit %d, want 3", code)
	}
	after, err := os.ReadFile(success)
	if err != nil || !bytes.Equal(before, after) {
		t.Error("a run stopped by the quality gate changed the published partition")
	}
}
