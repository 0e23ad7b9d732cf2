package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
	"github.com/strata-oss/strata/pipeline/publish"
)

const faultConfig = `version: 1
seed: SEED
storage:
  # Three attempts, as a run against a flaky server has; waits of at most
  # 20 ms between them: what the tests check is that a retry gets
  # through, not how long the SDK waits.
  s3: {endpoint: "ENDPOINT", max_attempts: 3, max_backoff: 20ms}
input:
  location: s3://lake/raw
  orders:
    path: orders
    columns: {order_ts: ordered_at, amount: net_amount, order_id: order_id, is_refund: is_refund}
  customers:
    path: customers
    columns: {signup_ts: signup_at, updated_at: updated_at}
output:
  location: s3://lake/OUT
# The tests are about storage faults: the cheapest purchase model and no
# bounds keep each of their ~25 runs well under a second.
clv:
  model: bgnbd
  interval_draws: 0
cluster:
  k: 4
`

// faultTTL is the runs' lease TTL: longer than any test, so a lease a
// killed run could not release never lapses by itself while a test looks
// at it; expireLeases lapses it instead.
const faultTTL = "1h"

const faultDay = "2025-06-30"

// faultCase is one way the network or the server fails while a run of a
// new configuration replaces a published partition.
type faultCase struct {
	name string
	// rule makes the fault; srv is the server behind the proxy.
	rule func(t *testing.T, srv *s3test.Server, out string) s3test.Rule
	// fails: the faulty run must fail (a fault retries cannot hide);
	// otherwise it must succeed as if nothing happened.
	fails bool
	// kill: the faulty run is a separate process, SIGKILLed when the
	// rule's Before signals (see killAt).
	kill bool
	// stops: the fault stops the server, so the run cannot release its
	// lease either.
	stops bool
}

// TestFaultsAgainstRealS3 publishes a good run of a date on versitygw,
// then re-runs the date with another configuration through a fault proxy
// that fails the way real storage does: throttling, slowness, errors on
// every upload, the server stopping in the middle of the extract and of
// the publish, and the process killed with SIGKILL while it publishes.
// After each fault: the published partition is exactly the previous good
// run (manifest and bytes), the ledger says the run failed, and once the
// fault is gone a re-run publishes the new run completely, once, with the
// same bytes as a run that never saw a fault, and leaves no orphan.
func TestFaultsAgainstRealS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "lake")
	s3Env(t, srv, srv.SecretKey)
	uploadDir(t, hiveInputs(t), srv.NewBucket(t, "lake", "raw"))
	proxy := s3test.NewFaultProxy(t, srv.Endpoint)
	direct := srv.NewBucket(t, "lake", "")

	cfg := func(out string, seed int) string {
		r := strings.NewReplacer("SEED", fmt.Sprint(seed), "ENDPOINT", proxy.URL, "OUT", out)
		return writeConfig(t, t.TempDir(), r.Replace(faultConfig))
	}
	run := func(cfgPath string) (int, string) {
		code, stdout, stderr := strata(t, "run", "--config", cfgPath, "--as-of", faultDay, "--lease-ttl", faultTTL, "--log-level", "error")
		return code, stdout + stderr
	}
	// The run every faulty one must end up equal to.
	if code, out := run(cfg("ref", 8)); code != 0 {
		t.Fatalf("reference run: exit %d: %s", code, out)
	}
	ref := partition(t, direct, "ref")

	cases := []faultCase{
		// Every upload (data, leases, the manifest: conditional writes
		// whose retry meets the object its first try wrote) and every
		// fifth other request is throttled once; the retry gets through.
		{name: "503 SlowDown on the first try of requests", rule: func(*testing.T, *s3test.Server, string) s3test.Rule {
			var mu sync.Mutex
			seen := map[string]bool{}
			return func(r *http.Request, _ int) s3test.Fault {
				k := r.Method + " " + r.URL.String() + " " + r.Header.Get("Range")
				mu.Lock()
				defer mu.Unlock()
				if seen[k] {
					return s3test.Fault{}
				}
				seen[k] = true
				if r.Method == http.MethodPut || len(seen)%5 == 0 {
					return s3test.Fault{Status: 503}
				}
				return s3test.Fault{}
			}
		}},
		{name: "every response 50 ms late", rule: func(*testing.T, *s3test.Server, string) s3test.Rule {
			return func(*http.Request, int) s3test.Fault { return s3test.Fault{Delay: 50 * time.Millisecond} }
		}},
		{name: "500 on every upload", fails: true, rule: func(_ *testing.T, _ *s3test.Server, out string) s3test.Rule {
			return func(r *http.Request, _ int) s3test.Fault {
				if s3test.IsPut(r, "/lake/"+out+"/") && !strings.Contains(r.URL.Path, "/_strata/") {
					return s3test.Fault{Status: 500}
				}
				return s3test.Fault{}
			}
		}},
		{name: "server stops mid-extract", fails: true, stops: true, rule: func(t *testing.T, srv *s3test.Server, _ string) s3test.Rule {
			return once(func(r *http.Request) bool { return s3test.IsGet(r, "/lake/raw/orders/") }, func() { stopServer(t, srv) })
		}},
		{name: "server stops mid-publish", fails: true, stops: true, rule: func(t *testing.T, srv *s3test.Server, out string) s3test.Rule {
			return once(func(r *http.Request) bool { return s3test.IsPut(r, "/lake/"+out+"/segments/dt=") }, func() { stopServer(t, srv) })
		}},
		{name: "SIGKILL mid-publish", fails: true, kill: true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := fmt.Sprintf("case%d", i)
			good, next := cfg(out, 7), cfg(out, 8)
			if code, msg := run(good); code != 0 {
				t.Fatalf("good run: exit %d: %s", code, msg)
			}
			before := partition(t, direct, out)

			var code int
			var msg string
			if c.kill {
				code, msg = killMidPublish(t, proxy, next, out)
			} else {

				proxy.SetRule(c.rule(t, srv, out))
				code, msg = run(next)
				proxy.SetRule(nil)
			}
			if err := srv.Restart(); err != nil { // a no-op outage for the cases that did not stop it
				t.Fatal(err)
			}
			if !c.fails {
				if code != 0 {
					t.Fatalf("a transient fault failed the run: exit %d: %s", code, msg)
				}
			} else {
				if code == 0 {
					t.Fatalf("the run succeeded through the fault:\n%s", strings.Join(proxy.Log()[len(proxy.Log())-5:], "\n"))
				}
				// The last good run, untouched.
				if after := partition(t, direct, out); !after.sameRun(before) {
					t.Fatalf("the previous run changed: before %s, after %s", before, after)
				}
				// A process that died, or lost the server, could not
				// release the date's lock: while the lease holds, the date
				// is not run again; once it lapses (its expiry is moved
				// into the past: the clock, not a sleep), it is.
				if c.kill || c.stops {
					if code, msg := run(next); code != jobs.ExitLocked {
						t.Fatalf("re-run while the dead run's lease holds: exit %d, want %d (locked): %s", code, jobs.ExitLocked, msg)
					}
					if expireLeases(t, direct, out) == 0 {
						t.Fatal("no lease to expire, yet the re-run was locked out")
					}
				}
				if code, msg := run(next); code != 0 {
					t.Fatalf("re-run after the fault: exit %d: %s", code, msg)
				}
			}
			after := partition(t, direct, out)
			if !after.sameBytes(ref) {
				t.Errorf("after the fault the partition differs from a fault-free run: %s vs %s", after, ref)
			}
			if orphans := after.orphans(); len(orphans) > 0 {
				t.Errorf("objects not named by the manifest: %v", orphans)
			}
			checkLedger(t, direct, out, after.manifest.Attempt, c)
		})
	}
}

// once makes a rule that runs do before the first request match accepts,
// and forwards everything.
func once(match func(*http.Request) bool, do func()) s3test.Rule {
	var done sync.Once
	return func(r *http.Request, _ int) s3test.Fault {
		if match(r) {
			fired := false
			done.Do(func() { fired = true })
			if fired {
				return s3test.Fault{Before: do}
			}
		}
		return s3test.Fault{}
	}
}

func stopServer(t *testing.T, srv *s3test.Server) {
	if err := srv.Stop(); err != nil {
		t.Logf("stopping versitygw: %v", err)
	}
}

// killMidPublish runs the strata command as a child process and SIGKILLs
// it while the proxy holds its first upload of a table part: the process
// dies with some parts written and no commit.
func killMidPublish(t *testing.T, proxy *s3test.FaultProxy, cfgPath, out string) (int, string) {
	held, release := make(chan struct{}), make(chan struct{})
	proxy.SetRule(once(func(r *http.Request) bool {
		return s3test.IsPut(r, "/lake/"+out+"/segment_summary/dt=")
	}, func() {
		close(held)
		select {
		case <-release:
		case <-time.After(time.Minute):
		}
	}))
	defer proxy.SetRule(nil)
	cmd := strataProcess("run", "--config", cfgPath, "--as-of", faultDay, "--lease-ttl", faultTTL, "--log-level", "error")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the run never reached the publish: %s", output.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	close(release)
	if err == nil {
		return 0, output.String()
	}
	return -1, "killed: " + err.Error() + "\n" + output.String()
}

// snapshot is a published output location: the date's manifest and the
// bytes of every object under the location (the ledger and locks aside).
type snapshot struct {
	manifest *publish.Manifest
	objects  map[string][]byte // key relative to the location
}

func partition(t *testing.T, b objstore.Bucket, out string) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{objects: map[string][]byte{}}
	err := b.Iter(ctx, out+"/", func(key string) error {
		rel := strings.TrimPrefix(key, out+"/")
		if strings.HasPrefix(rel, "_strata/") {
			return nil
		}
		data, err := objstore.ReadAll(ctx, b, key)
		s.objects[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rel := objstore.Prefixed(b, out+"/")
	var err2 error
	if s.manifest, err2 = publish.ReadManifest(ctx, rel, faultDay); err2 != nil || s.manifest == nil {
		t.Fatalf("no manifest for %s under %s: %v", faultDay, out, err2)
	}
	for _, k := range s.manifest.Keys() {
		if _, ok := s.objects[k]; !ok {
			t.Fatalf("the manifest names %s, which does not exist", k)
		}
	}
	return s
}

func (s snapshot) String() string {
	return fmt.Sprintf("attempt %s (%d objects)", s.manifest.Attempt, len(s.objects))
}

// sameRun: the same manifest, and every object it names has the same bytes.
func (s snapshot) sameRun(o snapshot) bool {
	if s.manifest.Attempt != o.manifest.Attempt || !bytes.Equal(s.objects[publish.SuccessKey(faultDay)], o.objects[publish.SuccessKey(faultDay)]) {
		return false
	}
	for _, k := range o.manifest.Keys() {
		if !bytes.Equal(s.objects[k], o.objects[k]) {
			return false
		}
	}
	return true
}

// sameBytes: the same tables with the same bytes, as runs of the same
// inputs and configuration in two locations are.
func (s snapshot) sameBytes(o snapshot) bool {
	if s.manifest.Attempt != o.manifest.Attempt || len(s.manifest.Tables) != len(o.manifest.Tables) {
		return false
	}
	for name, tf := range s.manifest.Tables {
		of, ok := o.manifest.Tables[name]
		if !ok || len(of.Keys) != len(tf.Keys) || of.Rows != tf.Rows {
			return false
		}
		for i := range tf.Keys {
			if !bytes.Equal(s.objects[tf.Keys[i]], o.objects[of.Keys[i]]) {
				return false
			}
		}
	}
	return true
}

// orphans are the objects in the date's partitions that the manifest does
// not name (the commit record and the fixed-name copies aside).
func (s snapshot) orphans() []string {
	named := map[string]bool{publish.SuccessKey(faultDay): true}
	for _, k := range s.manifest.Keys() {
		named[k] = true
	}
	for _, k := range s.manifest.Objects {
		named[k] = true
	}
	var out []string
	for k := range s.objects {
		base := filepath.Base(k)
		if strings.Contains(k, "dt="+faultDay+"/") && !named[k] && strings.Contains(base, "-") { // attempt objects: part-00000-<attempt>, model-<attempt>.json
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// checkLedger: every run of the date is finished (a killed one is marked
// abandoned by the next), the last succeeded with the published attempt,
// and a case that had to fail has a failed record before it.
func checkLedger(t *testing.T, b objstore.Bucket, out, attempt string, c faultCase) {
	t.Helper()
	rel := objstore.Prefixed(b, out+"/")
	recs, err := ledger.New(rel).List(context.Background(), ledger.Query{AsOf: faultDay})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 2 {
		t.Fatalf("ledger: %d records of %s", len(recs), faultDay)
	}
	var failed int
	for _, r := range recs {
		if !r.Finished() {
			t.Errorf("ledger: run %s still says running", r.ID)
		}
		if r.Status == ledger.Failed {
			failed++
			if r.Error == "" {
				t.Errorf("ledger: failed run %s gives no error", r.ID)
			}
			if c.kill && !strings.Contains(r.Error, "abandoned") {
				t.Errorf("ledger: the killed run %s: %q, want it marked abandoned", r.ID, r.Error)
			}
		}
	}
	if last := recs[0]; last.Status != ledger.Succeeded || last.Attempt != attempt {
		t.Errorf("ledger: the last run %s is %s with attempt %s; published attempt %s", last.ID, last.Status, last.Attempt, attempt)
	}
	if c.fails && failed == 0 {
		t.Error("ledger: no failed run recorded for the fault")
	}
	if !c.fails && failed > 0 {
		t.Errorf("ledger: %d failed runs for a fault retries absorb", failed)
	}
}

// expireLeases moves every unreleased lease under out past its expiry, as
// if --lease-ttl had elapsed, and returns how many it moved. Lease objects
// carry the expiry their holder wrote; the next contender compares it with
// its own clock (package lease), so rewriting it is the fake clock a test
// of separate processes can use.
func expireLeases(t *testing.T, b objstore.Bucket, out string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	err := b.Iter(ctx, out+"/", func(key string) error {
		if !strings.HasPrefix(path.Base(key), "lease-") {
			return nil
		}
		data, err := objstore.ReadAll(ctx, b, key)
		if err != nil {
			return err
		}
		var rec map[string]any
		if err := json.Unmarshal(data, &rec); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if rec["released"] == true {
			return nil
		}
		rec["expires"] = rec["written"]
		data, err = json.Marshal(rec)
		if err != nil {
			return err
		}
		n++
		return b.Upload(ctx, key, bytes.NewReader(data))
	})
	if err != nil {
		t.Fatalf("expiring the leases under %s: %v", out, err)
	}
	return n
}
