package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/jobs/lease"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
)

// TestMain lets a test run this binary as the strata command, to send it
// real signals: STRATA_TEST_MAIN=1 makes the test binary strata itself.
func TestMain(m *testing.M) {
	if os.Getenv("STRATA_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// strataProcess is the strata command as a process of its own (this test
// binary, made strata by TestMain): for tests that send it signals, kill
// it, or run it as a pod would.
func strataProcess(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "STRATA_TEST_MAIN=1")
	return cmd
}

// opsShop generates a small shop under dir/input and returns the demo
// configuration pointed at it (through STRATA_DEMO_DIR) plus extra YAML.
func opsShop(t *testing.T, customers int, extra string) (cfgPath, dir string) {
	t.Helper()
	dir = t.TempDir()
	if code, _, stderr := strata(t, "generate", "--dir", filepath.Join(dir, "input"), "--customers", fmt.Sprint(customers),
		"--seed", "1", "--log-level", "error"); code != 0 {
		t.Fatalf("generate: %s", stderr)
	}
	demo, err := os.ReadFile(filepath.Join("..", "..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(string(demo), "${STRATA_DEMO_DIR:-./strata-demo}", dir)
	return writeConfig(t, dir, body+extra), dir
}

// TestOperatorVerbs drives run, backfill and runs as an operator would.
func TestOperatorVerbs(t *testing.T) {
	cfg, dir := opsShop(t, 300, "")
	steps := []struct {
		name string
		args []string
		code int
		want []string // in stdout
	}{
		{"run publishes", []string{"run", "--config", cfg, "--as-of", "2025-06-30"}, 0, []string{"published to", "run 20"}},
		{"run again: nothing to do", []string{"run", "--config", cfg, "--as-of", "2025-06-30"}, 0,
			[]string{"2025-06-30: already published with the same configuration and inputs", "nothing to do (--force runs it again)"}},
		{"forced run", []string{"run", "--config", cfg, "--as-of", "2025-06-30", "--force"}, 0, []string{"published to"}},
		{"backfill", []string{"backfill", "--config", cfg, "--from", "2025-07-01", "--to", "2025-07-04", "--parallel", "2"}, 0,
			[]string{"backfill 2025-07-01 … 2025-07-04: 4 published, 0 skipped (already published), 0 locked by another process, 0 failed, of 4 dates"}},
		{"backfill again resumes: all skipped", []string{"backfill", "--config", cfg, "--from", "2025-07-01", "--to", "2025-07-04"}, 0,
			[]string{"0 published, 4 skipped"}},
		{"runs", []string{"runs", "--config", cfg}, 0, []string{"RUN", "AS OF", "TRIGGER", "STATUS", "2025-07-04  backfill  skipped", "already published"}},
		{"runs of a date", []string{"runs", "--config", cfg, "--as-of", "2025-06-30"}, 0, []string{"cli"}},
		{"runs of an unrun date", []string{"runs", "--config", cfg, "--as-of", "2020-01-01"}, 0, []string{"no runs in the ledger"}},
		{"runs: bad format", []string{"runs", "--config", cfg, "--format", "xml"}, 2, nil},
		{"runs: bad date", []string{"runs", "--config", cfg, "--as-of", "yesterday"}, 2, nil},
		{"backfill: missing --to", []string{"backfill", "--config", cfg, "--from", "2025-07-01"}, 2, nil},
		{"backfill: reversed", []string{"backfill", "--config", cfg, "--from", "2025-07-02", "--to", "2025-07-01"}, 2, nil},
		{"backfill: bad parallel", []string{"backfill", "--config", cfg, "--from", "2025-07-01", "--to", "2025-07-02", "--parallel", "0"}, 2, nil},
		{"serve without a schedule", []string{"serve", "--config", cfg}, 2, nil},
	}
	for _, s := range steps {
		code, stdout, stderr := strata(t, append(s.args, "--log-level", "info", "--log-format", "json")...)
		if code != s.code {
			t.Fatalf("%s: exit %d, want %d\n%s%s", s.name, code, s.code, stdout, stderr)
		}
		for _, w := range s.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", s.name, w, stdout)
			}
		}
		if s.name == "backfill" {
			// Not a terminal: one progress line per date, not a bar.
			if n := strings.Count(stderr, `"message":"backfill progress"`); n != 4 {
				t.Errorf("backfill: %d progress lines, want 4:\n%s", n, stderr)
			}
			if strings.Contains(stderr, "\r") {
				t.Error("backfill drew a progress bar on a non-terminal")
			}
		}
	}

	code, stdout, _ := strata(t, "runs", "--config", cfg, "--as-of", "2025-06-30", "--format", "json", "--log-level", "error")
	var recs []ledger.Record
	if err := json.Unmarshal([]byte(stdout), &recs); code != 0 || err != nil {
		t.Fatalf("runs --format json: exit %d, %v\n%s", code, err, stdout)
	}
	var statuses []string
	for _, r := range recs {
		statuses = append(statuses, string(r.Status))
		if r.Trigger != ledger.CLI || r.ConfigHash == "" || len(r.Inputs) == 0 {
			t.Errorf("record %+v", r)
		}
	}
	if got := strings.Join(statuses, ","); got != "succeeded,skipped,succeeded" {
		t.Errorf("runs of 2025-06-30, newest first: %s", got)
	}
	m, err := publish.ReadManifest(context.Background(), mustLocal(t, filepath.Join(dir, "output")), "2025-06-30")
	if err != nil || m.RunID != recs[0].ID {
		t.Errorf("the manifest names run %v (%v), the ledger's latest success is %s", m, err, recs[0].ID)
	}

	// A date another process holds: exit 4, and the ledger says so.
	ls, err := lease.New(mustLocal(t, filepath.Join(dir, "output")), lease.Options{}).Acquire(context.Background(), "2025-07-10", "other-host pid 7")
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Release(context.Background())
	code, _, stderr := strata(t, "run", "--config", cfg, "--as-of", "2025-07-10", "--log-level", "error")
	if code != 4 || !strings.Contains(stderr, "2025-07-10 is locked by other-host pid 7 until") {
		t.Errorf("run of a locked date: exit %d, %s", code, stderr)
	}
	_, stdout, _ = strata(t, "runs", "--config", cfg, "--as-of", "2025-07-10", "--log-level", "error")
	if !strings.Contains(stdout, "skipped") || !strings.Contains(stdout, "locked by other-host pid 7") {
		t.Errorf("ledger of the locked date:\n%s", stdout)
	}
}

// TestNightlyExampleConfig: the scheduled example configuration is valid
// and says what its comments say.
func TestNightlyExampleConfig(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "configs", "examples", "s3-nightly.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Schedule.Cron != "0 3 * * *" || cfg.ScheduleLocation().String() != "Europe/Berlin" || cfg.Schedule.Lag() != 1 ||
		cfg.API.TokenVar() != "STRATA_API_TOKEN" || cfg.Output.Location != "s3://shop-lake/marts/strata" {
		t.Errorf("s3-nightly.yaml: %+v %+v %s", cfg.Schedule, cfg.API, cfg.Output.Location)
	}
}

func mustLocal(t *testing.T, dir string) *objstore.Local {
	t.Helper()
	b, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRenderBar(t *testing.T) {
	p := jobs.BackfillProgress{Total: 10, Done: 4, Succeeded: 3, Skipped: 1,
		Last: &ledger.Record{AsOf: "2025-06-04", Status: ledger.Succeeded}}
	got := renderBar(p, 8*time.Second, 10)
	want := "[████░░░░░░] 4/10 dates · 3 published · 1 skipped · 2025-06-04 succeeded · ~12s left"
	if got != want {
		t.Errorf("bar:\n got %q\nwant %q", got, want)
	}
}

// TestServeSIGTERM runs `strata serve` as a process and stops it with
// SIGTERM while a run is going, as Kubernetes or systemd would: it exits 0,
// and whatever the run had reached, the ledger and the published data
// agree (a cancelled run published nothing).
func TestServeSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess")
	}
	cfg, dir := opsShop(t, 3000, "schedule:\n  cron: \"0 3 * * *\"\n  grace_period: 0s\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := strataProcess("serve", "--config", cfg, "--listen", addr, "--log-format", "json")
	cmd.Env = append(cmd.Env, "STRATA_API_TOKEN=tok")
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never became ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", url+"/api/v1/runs", strings.NewReader(`{"as_of": "2025-06-30"}`))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var accepted struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&accepted)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("POST run: %d", resp.StatusCode)
	}
	// SIGTERM as soon as the run is under way.
	out := mustLocal(t, filepath.Join(dir, "output"))
	led := ledger.New(out)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if r, err := led.Get(context.Background(), accepted.ID); err == nil && r.Status == ledger.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never started:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit after SIGTERM:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "strata serve stopped") {
		t.Errorf("no clean stop in the logs:\n%s", logs.String())
	}
	rec, err := led.Get(context.Background(), accepted.ID)
	if err != nil {
		t.Fatal(err)
	}
	m, merr := publish.ReadManifest(context.Background(), out, "2025-06-30")
	switch rec.Status {
	case ledger.Failed:
		if !strings.Contains(rec.Error, "cancelled before publishing") || !objstore.IsNotExist(merr) {
			t.Errorf("cancelled run: ledger %q, manifest %v (%v)", rec.Error, m, merr)
		}
		parts, _ := objstore.List(context.Background(), out, "segments/")
		if len(parts) != 0 {
			t.Errorf("a cancelled first run left objects: %v", parts)
		}
	case ledger.Succeeded:
		t.Log("the run finished before the signal arrived")
		if merr != nil || m.RunID != rec.ID {
			t.Errorf("ledger says published, manifest %v (%v)", m, merr)
		}
	default:
		t.Errorf("after shutdown the run is %s", rec.Status)
	}
	t.Logf("run %s: %s", rec.ID, rec.Status)
}
