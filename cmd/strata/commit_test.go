package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-oss/strata/jobs"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
	"github.com/strata-oss/strata/pipeline/publish"
)

// nextDay is the date after faultDay: its run chains to faultDay's
// published model, so a damaged faultDay blocks it.
const nextDay = "2025-07-01"

// commitCase is one way a process is interrupted at its commit point.
type commitCase struct {
	name string
	// sig is sent to the run's process.
	sig syscall.Signal
	// held: the proxy holds the _SUCCESS PUT before forwarding it; the
	// signal goes while it is held, and the PUT lands after the process
	// is gone. Otherwise the PUT is forwarded and its response held: the
	// signal goes the moment _SUCCESS has changed.
	held bool
}

// TestCommitInterruptedAgainstRealS3 interrupts a re-run of a published
// date at its commit point on versitygw, the two ways users met:
//
//   - SIGTERM (what a daemon's shutdown or a lost lease does) while the
//     _SUCCESS PUT is in flight, the PUT landing after the process gave up:
//     the manifest must not name deleted objects (issue 25, report 1);
//   - SIGKILL or SIGTERM right after _SUCCESS changed, before anything
//     else: the partition must not stay a mix of two runs, model.json and
//     report.html must not stay the previous run's, and the ledger must
//     not say the committed run published nothing (issue 25, report 2).
//
// After the interruption a reader following the manifest finds every
// object it names; the next `strata run` of the date leaves exactly the
// new run in the partitions (a glob equals the manifest), the fixed-name
// copies equal the manifest's, `strata show` works, the ledger records
// the run whose manifest landed as succeeded, and the following date runs.
func TestCommitInterruptedAgainstRealS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "lake")
	s3Env(t, srv, srv.SecretKey)
	raw := srv.NewBucket(t, "lake", "raw")
	uploadDir(t, hiveInputs(t), raw)
	// The not-Parquet partition after faultDay would fail nextDay's run;
	// this test needs nextDay to run.
	if err := raw.Delete(context.Background(), "orders/dt=2025-07-01/part-0.parquet"); err != nil {
		t.Fatal(err)
	}
	proxy := s3test.NewFaultProxy(t, srv.Endpoint)
	direct := srv.NewBucket(t, "lake", "")
	cfg := func(out string, seed int) string {
		r := strings.NewReplacer("SEED", fmt.Sprint(seed), "ENDPOINT", proxy.URL, "OUT", out)
		return writeConfig(t, t.TempDir(), r.Replace(faultConfig))
	}
	if code, out := runDate(t, direct, "ref", cfg("ref", 8), faultDay); code != 0 {
		t.Fatalf("reference run: exit %d: %s", code, out)
	}
	ref := partition(t, direct, "ref")

	cases := []commitCase{
		{name: "SIGTERM while the _SUCCESS PUT is held", sig: syscall.SIGTERM, held: true},
		{name: "SIGKILL once _SUCCESS changed", sig: syscall.SIGKILL},
		{name: "SIGTERM once _SUCCESS changed", sig: syscall.SIGTERM},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := fmt.Sprintf("commit%d", i)
			good, next := cfg(out, 7), cfg(out, 8)
			if code, msg := runDate(t, direct, out, good, faultDay); code != 0 {
				t.Fatalf("good run: exit %d: %s", code, msg)
			}
			before := partition(t, direct, out)
			interruptAtCommit(t, proxy, c, next, out)

			// A reader following the manifest sees one whole run.
			now := partition(t, direct, out) // fails if the manifest names a missing object
			if !now.sameRun(before) && !now.sameBytes(ref) {
				t.Fatalf("after the interruption the manifest is neither run: %s (before %s, new %s)", now, before, ref)
			}
			if code, msg := runDate(t, direct, out, next, faultDay); code != 0 {
				t.Fatalf("re-run: exit %d: %s", code, msg)
			}
			after := partition(t, direct, out)
			if !after.sameBytes(ref) {
				t.Errorf("after the re-run the partition differs from a run never interrupted: %s vs %s", after, ref)
			}
			if orphans := after.orphans(); len(orphans) > 0 {
				t.Errorf("a glob of the partitions finds objects the manifest does not name: %v", orphans)
			}
			checkFixedCopies(t, after)
			if code, stdout, stderr := strata(t, "show", "--config", next, "--as-of", faultDay, "--log-level", "error"); code != 0 {
				t.Errorf("show: exit %d: %s%s", code, stdout, stderr)
			}
			checkPublishedRunSucceeded(t, direct, out, after.manifest)
			if code, msg := runDate(t, direct, out, next, nextDay); code != 0 {
				t.Errorf("the following date: exit %d: %s", code, msg)
			}
		})
	}
}

// runDate runs `strata run` of date in-process. A killed run cannot
// release its lease: when the run is locked out by one, the lease is
// lapsed (expireLeases: the clock, not a wait) and the run tried once more.
func runDate(t *testing.T, b objstore.Bucket, out, cfgPath, date string) (int, string) {
	t.Helper()
	run := func() (int, string) {
		code, stdout, stderr := strata(t, "run", "--config", cfgPath, "--as-of", date, "--lease-ttl", faultTTL, "--log-level", "error")
		return code, stdout + stderr
	}
	code, msg := run()
	if code == jobs.ExitLocked && expireLeases(t, b, out) > 0 {
		code, msg = run()
	}
	return code, msg
}

// interruptAtCommit runs `strata run` of faultDay with cfgPath as a child
// process and sends it c.sig at its commit, as c says.
func interruptAtCommit(t *testing.T, proxy *s3test.FaultProxy, c commitCase, cfgPath, out string) {
	t.Helper()
	reached, release, landed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	wait := func() {
		select {
		case <-release:
		case <-time.After(time.Minute): // a safety net: the test has failed by then
		}
	}
	successKey := "/lake/" + out + "/" + publish.SuccessKey(faultDay)
	var once sync.Once
	proxy.SetRule(func(r *http.Request, _ int) s3test.Fault {
		if !s3test.IsPut(r, successKey) {
			return s3test.Fault{}
		}
		var f s3test.Fault
		once.Do(func() {
			if c.held {
				f = s3test.Fault{Before: func() { close(reached); wait() }, After: func() { close(landed) }}
			} else {
				f = s3test.Fault{After: func() { close(reached); close(landed); wait() }}
			}
		})
		return f
	})
	defer proxy.SetRule(nil)
	cmd := strataProcess("run", "--config", cfgPath, "--as-of", faultDay, "--lease-ttl", faultTTL, "--log-level", "error")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-reached:
	case err := <-exited:
		t.Fatalf("the run ended before its commit: %v: %s", err, output.String())
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the run never reached its commit: %s", output.String())
	}
	if err := cmd.Process.Signal(c.sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		t.Logf("interrupted run (%v): %v: %s", c.sig, err, output.String())
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the run did not exit after %v: %s", c.sig, output.String())
	}
	close(release)
	<-landed // the held PUT has reached the server: the commit landed late
}

// checkFixedCopies: model.json and report.html hold the bytes of the
// objects the manifest names for them.
func checkFixedCopies(t *testing.T, s snapshot) {
	t.Helper()
	for name, fixed := range map[string]string{
		"model":  publish.PartitionPrefix("models", faultDay) + "model.json",
		"report": publish.PartitionPrefix("reports", faultDay) + "report.html",
	} {
		src, ok := s.manifest.Objects[name]
		if !ok {
			t.Errorf("the manifest names no %s", name)
			continue
		}
		if !bytes.Equal(s.objects[fixed], s.objects[src]) {
			t.Errorf("%s (%d bytes) is not the manifest's %s (%d bytes)", fixed, len(s.objects[fixed]), src, len(s.objects[src]))
		}
	}
}

// checkPublishedRunSucceeded: every run of faultDay is finished, the run
// whose manifest is published is recorded as succeeded, and no record
// says that a run published nothing when its manifest is the one that
// landed.
func checkPublishedRunSucceeded(t *testing.T, b objstore.Bucket, out string, m *publish.Manifest) {
	t.Helper()
	recs, err := ledger.New(objstore.Prefixed(b, out+"/")).List(context.Background(), ledger.Query{AsOf: faultDay})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if !r.Finished() {
			t.Errorf("ledger: run %s still says running", r.ID)
		}
		if r.ID != m.RunID {
			continue
		}
		found = true
		if r.Status != ledger.Succeeded || r.Attempt != m.Attempt {
			t.Errorf("ledger: the published run %s is %s (attempt %s, error %q); its manifest (attempt %s) is published",
				r.ID, r.Status, r.Attempt, r.Error, m.Attempt)
		}
	}
	if !found {
		t.Errorf("ledger: no record of the published run %s", m.RunID)
	}
}
