package jobs

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strata-oss/strata/internal/racetest"
	"github.com/strata-oss/strata/jobs/internal/shoptest"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/objstoretest"
	"github.com/strata-oss/strata/pipeline/objstore/s3"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
)

// s3Out is an output location under a prefix of the test's bucket, read
// and written directly (not through the fault proxy).
type s3Out struct {
	objstore.Bucket
	prefix string
}

// TestPublishInterruptedAtEveryRequestOnS3 is TestPublishInterruptedAtEveryStorageCall
// on versitygw through the fault proxy: the re-run is interrupted at each
// of its HTTP requests in turn, every way (a 500 before the request takes
// effect; the request forwarded and its response dropped; the run's
// context cancelled while the proxy holds the request, which it then
// forwards anyway; the process killed before or after the request takes
// effect: every later request dropped). The client makes one attempt per
// request, so an injected failure is not retried away.
//
// Each interruption point costs about a second of versitygw's time, and
// TestPublishInterruptedAtEveryStorageCall already tries every storage
// call of the same run on the in-memory backend. Here the suite tries a
// fixed subset: every 3rd request from the first write of the commit
// protocol (the replaced manifest's record) on — the commit, the settle,
// the finish, where the protocol's windows were —, every 8th before it
// (reads and data parts, each just an early failure), and the commit PUT
// itself, always. STRATA_COMMIT_S3_EVERY=n tries every n-th request of the
// whole run instead; 1 is every request (294 interruption points, about
// five minutes: run it before a change to the protocol lands).
func TestPublishInterruptedAtEveryRequestOnS3(t *testing.T) {
	racetest.Skip(t, "five runs against versitygw per request")
	// The two exhaustive interruption tests share nothing: they run side by
	// side, the one waiting on versitygw while the other computes.
	t.Parallel()
	every, inWindow, window := 8, 3, true
	if v := os.Getenv("STRATA_COMMIT_S3_EVERY"); v != "" {
		window = false
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STRATA_COMMIT_S3_EVERY=%q: want a positive integer", v)
		}
		every = n
	}
	srv := s3test.Start(t)
	srv.CreateBucket(t, "lake")
	proxy := s3test.NewFaultProxy(t, srv.Endpoint)
	var scenarioN atomic.Int64
	direct := func(t *testing.T, prefix string) *s3Out {
		return &s3Out{Bucket: srv.NewBucket(t, "lake", prefix), prefix: prefix}
	}
	proxied := func(t *testing.T, prefix string) objstore.Bucket {
		cfg := srv.Config("lake", prefix)
		cfg.Endpoint, cfg.MaxAttempts = proxy.URL, 1
		b, err := s3.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	clone := func(t *testing.T, b objstore.Bucket) objstore.Bucket {
		dst := direct(t, fmt.Sprintf("s%04d", scenarioN.Add(1)))
		copyAll(t, b, dst)
		return dst
	}
	w := newCommitWorld(t, direct(t, "base"), clone)

	// The requests of a run that nothing interrupts, in arrival order.
	var mu sync.Mutex
	var requests []objstoretest.Call
	proxy.SetRule(func(r *http.Request, _ int) s3test.Fault {
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, requestCall(r))
		return s3test.Fault{}
	})
	dry := w.clone(t, w.base).(*s3Out)
	c := &clock{t: w.start}
	if _, err := w.runner(t, w.next, proxied(t, dry.prefix), c.Now).Run(context.Background(), Request{AsOf: shoptest.Date(t, commitDay), Trigger: ledger.CLI}); err != nil {
		t.Fatal(err)
	}
	proxy.SetRule(nil)
	commitAt := len(requests)
	if window {
		for i, call := range requests {
			if call.Mutates() && strings.Contains(call.Key, "_strata/replaced/") {
				commitAt = i
				break
			}
		}
		if commitAt == len(requests) {
			t.Fatal("the run wrote no record of the manifest it replaces: the protocol changed, and this test's window with it")
		}
	}
	var scenarios []commitScenario
	for i, call := range requests {
		commit := call.Mutates() && strings.HasSuffix(call.Key, "/_SUCCESS")
		if i < commitAt && i%every != 0 && !commit || i >= commitAt && (i-commitAt)%inWindow != 0 && !commit {
			continue
		}
		for _, mode := range objstoretest.Modes {
			if mode.After() && !call.Mutates() {
				continue
			}
			scenarios = append(scenarios, commitScenario{at: i + 1, call: call, mode: mode})
		}
	}
	t.Logf("interrupting a re-run on versitygw at every %d of its %d requests, every %d from request %d on, and at its commit: %d interruption points",
		every, len(requests), inWindow, commitAt+1, len(scenarios))
	for _, s := range scenarios {
		t.Run(s.String(), func(t *testing.T) {
			out := w.clone(t, w.base).(*s3Out)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var hit atomic.Bool
			proxy.SetRule(requestFault(s, cancel, &hit))
			c := &clock{t: w.start}
			o, _ := w.runner(t, w.next, proxied(t, out.prefix), c.Now).Run(ctx, Request{AsOf: shoptest.Date(t, commitDay), Trigger: ledger.CLI})
			proxy.SetRule(nil)
			if !hit.Load() {
				t.Fatal("the run made fewer requests than the run that was not interrupted")
			}
			w.afterInterruption(t, out, proxied(t, out.prefix), c, o)
		})
	}
}

// requestCall names an S3 request as the storage call it serves, with
// the key under the output location.
func requestCall(r *http.Request) objstoretest.Call {
	rel := func(k string) string { _, k, _ = strings.Cut(k, "/"); return k } // drop the scenario's prefix
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && q.Has("list-type"):
		return objstoretest.Call{Op: objstoretest.OpList, Key: rel(q.Get("prefix"))}
	case r.Method == http.MethodGet:
		return objstoretest.Call{Op: objstoretest.OpGet, Key: rel(strings.TrimPrefix(r.URL.Path, "/lake/"))}
	case r.Method == http.MethodPut || r.Method == http.MethodPost:
		return objstoretest.Call{Op: objstoretest.OpPut, Key: rel(strings.TrimPrefix(r.URL.Path, "/lake/"))}
	}
	return objstoretest.Call{Op: r.Method, Key: rel(strings.TrimPrefix(r.URL.Path, "/lake/"))}
}

// requestFault is the proxy rule of scenario s: it interrupts the s.at-th
// request as s.mode says, and records in hit that it did.
func requestFault(s commitScenario, cancel context.CancelFunc, hit *atomic.Bool) s3test.Rule {
	crash := s.mode == objstoretest.CrashBefore || s.mode == objstoretest.CrashAfter
	return func(_ *http.Request, n int) s3test.Fault {
		switch {
		case n > s.at && crash:
			return s3test.Fault{Drop: true} // the process is gone: nothing it sends arrives
		case n != s.at:
			return s3test.Fault{}
		}
		hit.Store(true)
		switch s.mode {
		case objstoretest.FailBefore:
			return s3test.Fault{Status: http.StatusInternalServerError}
		case objstoretest.CrashBefore:
			return s3test.Fault{Drop: true}
		case objstoretest.FailAfter, objstoretest.CrashAfter:
			return s3test.Fault{DropResponse: true}
		case objstoretest.Cancel:
			return s3test.Fault{Before: cancel}
		}
		return s3test.Fault{}
	}
}

// copyAll copies every object of src into dst.
func copyAll(t *testing.T, src, dst objstore.Bucket) {
	t.Helper()
	ctx := context.Background()
	keys, err := objstore.List(ctx, src, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		data, err := objstore.ReadAll(ctx, src, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := dst.Upload(ctx, k, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
}
