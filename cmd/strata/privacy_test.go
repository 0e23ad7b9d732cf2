package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-oss/strata/internal/leaktest"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
)

// syncBuffer is a bytes.Buffer safe to write from a command's goroutines
// and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

const privacyConfig = `privacy:
  pseudonymize: true
  suppression: {path: LIST}
audiences:
  - {name: regulars, filter: 'frequency >= 2', columns: [customer_id, rfm_segment, clv]}
schedule:
  cron: "0 3 * * *"
  grace_period: 0s
`

// TestSecretsAppearNowhere runs every verb that touches data — validate,
// run (twice), backfill, runs, show, serve with API calls, and failing
// runs — against a real S3 server with pseudonymised ids, debug logs and
// the S3 secret key, an API bearer token and the pseudonym key in the
// environment. None of the three is in any object the runs left (tables,
// audiences, report, model.json, manifests, the ledger and locks under
// _strata/), nor in any log line, printed output, error or API answer.
func TestSecretsAppearNowhere(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "lake")
	s3Env(t, srv, srv.SecretKey)
	token, key := "tok-"+randomHex(t, 24), randomHex(t, 32)
	t.Setenv("STRATA_API_TOKEN", token)
	t.Setenv("STRATA_PSEUDONYM_KEY", key)

	in := hiveInputs(t)
	// The runs here go past the date of the unreadable partition that
	// hiveInputs plants to test pruning.
	if err := os.RemoveAll(filepath.Join(in, "orders", "dt=2025-07-01")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(in, "privacy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "privacy", "erasure.csv"), []byte("customer_id\nC00000001\nC00000002\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	uploadDir(t, in, srv.NewBucket(t, "lake", "raw"))
	base := strings.NewReplacer("ENDPOINT", srv.Endpoint, "IN", "s3://lake/raw", "OUT", "s3://lake/out").Replace(runConfig)
	cfgFor := func(list string) string {
		return writeConfig(t, t.TempDir(), base+strings.ReplaceAll(privacyConfig, "LIST", list))
	}
	cfg := cfgFor("privacy")

	// Everything a user or a log collector would see.
	var seen strings.Builder
	cmd := func(wantCode int, args ...string) string {
		t.Helper()
		code, stdout, stderr := strata(t, append(args, "--log-level", "debug", "--log-format", "json")...)
		seen.WriteString(stdout + stderr)
		if code != wantCode {
			t.Fatalf("%s: exit %d, want %d\n%s%s", args[0], code, wantCode, stdout, stderr)
		}
		return stdout + stderr
	}
	cmd(0, "validate", "--config", cfg)
	if out := cmd(0, "run", "--config", cfg, "--as-of", "2025-06-30"); !strings.Contains(out, `"stage":"publish"`) {
		t.Fatalf("no debug log of the run:\n%s", out)
	}
	cmd(0, "run", "--config", cfg, "--as-of", "2025-06-30")
	cmd(0, "backfill", "--config", cfg, "--from", "2025-07-01", "--to", "2025-07-01")
	cmd(0, "runs", "--config", cfg, "--format", "json")
	cmd(0, "show", "--config", cfg)

	// Failures: their errors are logged, printed and kept in the ledger.
	if out := cmd(1, "run", "--config", cfgFor("no-such-list"), "--as-of", "2025-07-03"); !strings.Contains(out, "suppression") {
		t.Errorf("a missing list: %s", out)
	}
	t.Setenv("STRATA_PSEUDONYM_KEY", "")
	if out := cmd(2, "run", "--config", cfg, "--as-of", "2025-07-03"); !strings.Contains(out, "STRATA_PSEUDONYM_KEY is unset or empty") {
		t.Errorf("no key: %s", out)
	}
	t.Setenv("STRATA_PSEUDONYM_KEY", key[:10])
	if out := cmd(2, "validate", "--config", cfg); !strings.Contains(out, "has 10 bytes; use at least 16") {
		t.Errorf("a short key: %s", out)
	}
	t.Setenv("STRATA_PSEUDONYM_KEY", key)

	seen.WriteString(serveAndCall(t, cfg, token))

	found, err := leaktest.Find(map[string][]byte{"logs and output": []byte(seen.String())}, srv.SecretKey, token, key, key[:10])
	if err != nil {
		t.Fatal(err)
	}
	objs := lakeObjects(t, srv.NewBucket(t, "lake", "out"))
	inObjects, err := leaktest.Find(objs, srv.SecretKey, token, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(found, inObjects...) {
		t.Errorf("secret found: %s", f)
	}

	// What was scanned is what was meant: ledger records of every run,
	// the failures' errors among them, and pseudonymised tables.
	var records, failed int
	for k, v := range objs {
		if strings.HasPrefix(k, "_strata/runs/") {
			records++
			var r ledger.Record
			if err := json.Unmarshal(v, &r); err != nil {
				t.Fatal(err)
			}
			if r.Status == ledger.Failed && r.Error != "" {
				failed++
			}
		}
	}
	if records < 5 || failed < 1 {
		t.Errorf("%d ledger records, %d failed with an error: the scan missed runs", records, failed)
	}
	hexID := regexp.MustCompile(`^[0-9a-f]{64}$`)
	csv := ""
	for k, v := range objs {
		if strings.HasPrefix(k, "audiences/name=regulars/dt=2025-06-30/") && strings.HasSuffix(k, ".csv") {
			csv = string(v)
		}
	}
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) < 10 {
		t.Fatalf("audience CSV:\n%s", csv)
	}
	for _, l := range lines[1:] {
		if id, _, _ := strings.Cut(l, ","); !hexID.MatchString(id) {
			t.Fatalf("audience row %q: the customer id is not a pseudonym", l)
		}
	}
	if suppressed, err := leaktest.Find(objs, "C00000001", "C00000002"); err != nil || len(suppressed) > 0 {
		t.Errorf("suppressed ids published: %v %v", suppressed, err)
	}
}

// serveAndCall runs `strata serve` in-process, starts a run through the
// API with the token, waits for it, tries a wrong token, and stops the
// daemon; it returns the daemon's output and the API's answers.
func serveAndCall(t *testing.T, cfg, token string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--listen", addr, "--log-level", "debug", "--log-format", "json"}, &logs, &logs)
	}()
	// stop cancels the daemon, as SIGTERM would, and checks it exits 0;
	// deferred too, so a failing test does not leave it running.
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d:\n%s", code, logs.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop:\n%s", logs.String())
		}
	}
	defer stop()
	url := "http://" + addr
	var answers strings.Builder
	call := func(method, path, auth, body string) (int, string) {
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(&answers, "%s %s: %d %s\n", method, path, resp.StatusCode, b)
		for k, v := range resp.Header {
			fmt.Fprintf(&answers, "%s: %s\n", k, v)
		}
		return resp.StatusCode, string(b)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := call("GET", "/readyz", "", ""); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never became ready:\n%s", logs.String())
		}
	}
	if code, _ := call("POST", "/api/v1/runs", "wrong-"+token[:8], `{"as_of": "2025-07-02"}`); code != 401 {
		t.Errorf("a wrong token: %d", code)
	}
	code, body := call("POST", "/api/v1/runs", token, `{"as_of": "2025-07-02"}`)
	var accepted struct{ ID string }
	if err := json.Unmarshal([]byte(body), &accepted); code != 202 || err != nil {
		t.Fatalf("POST run: %d %s", code, body)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, body := call("GET", "/api/v1/runs/"+accepted.ID, "", "")
		var r ledger.Record
		if json.Unmarshal([]byte(body), &r) == nil && r.Status != ledger.Running && r.Status != "" {
			if r.Status != ledger.Succeeded {
				t.Fatalf("API run %s: %s", r.Status, r.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API run never finished:\n%s", logs.String())
		}
	}
	call("GET", "/metrics", "", "")
	call("GET", "/api/v1/runs?limit=50", "", "")
	stop()
	if !strings.Contains(logs.String(), "strata serve stopped") {
		t.Errorf("no clean stop in the daemon's logs:\n%s", logs.String())
	}
	return answers.String() + logs.String()
}

// lakeObjects reads every object under b.
func lakeObjects(t *testing.T, b objstore.Bucket) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	keys, err := objstore.List(ctx, b, "")
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string][]byte{}
	for _, k := range keys {
		if objs[k], err = objstore.ReadAll(ctx, b, k); err != nil {
			t.Fatal(err)
		}
	}
	return objs
}
