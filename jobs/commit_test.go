package jobs

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/internal/racetest"
	"github.com/strata-oss/strata/jobs/internal/shoptest"
	"github.com/strata-oss/strata/jobs/lease"
	"github.com/strata-oss/strata/jobs/ledger"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/objstoretest"
	"github.com/strata-oss/strata/pipeline/publish"
)

const (
	commitDay = "2025-06-30"
	// commitNextDay chains to commitDay's published model.
	commitNextDay = "2025-07-01"
)

// clock is a fake clock the test moves forward: past a dead process's
// lease, and between runs so that run ids sort by start.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// published is a reference publication of commitDay: its manifest and
// the sizes of every object under the output location.
type published struct {
	manifest *publish.Manifest
	sizes    map[string]int64
}

func snapshotOf(t *testing.T, b objstore.Bucket) published {
	t.Helper()
	ctx := context.Background()
	m, err := publish.ReadManifest(ctx, b, commitDay)
	if err != nil {
		t.Fatalf("reference manifest: %v", err)
	}
	p := published{manifest: m, sizes: map[string]int64{}}
	keys, err := objstore.List(ctx, b, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		a, err := b.Attributes(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		p.sizes[k] = a.Size
	}
	return p
}

// commitScenario is one interruption: the at-th storage call of a re-run
// of a published date, interrupted as mode says.
type commitScenario struct {
	at   int
	call objstoretest.Call
	mode objstoretest.Mode
}

func (s commitScenario) String() string { return fmt.Sprintf("%03d %s %s", s.at, s.mode, s.call) }

// commitWorld is what every scenario starts from: the inputs, the two
// configurations, the output with the previous run published, and the
// reference publications of both runs.
type commitWorld struct {
	in         objstore.Bucket
	prev, next *config.Config
	// base holds the previous run; clone copies it for a scenario.
	base    objstore.Bucket
	clone   func(t *testing.T, b objstore.Bucket) objstore.Bucket
	refPrev published
	refNext published
	start   time.Time
}

func (w *commitWorld) runner(t *testing.T, cfg *config.Config, out objstore.Bucket, now func() time.Time) *Runner {
	t.Helper()
	r, err := NewRunner(context.Background(), cfg, RunnerOptions{Version: "test", Logger: zerolog.Nop(),
		Input: w.in, Output: out, Now: now, Holder: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPublishInterruptedAtEveryStorageCall re-runs a published date with
// a new configuration (another seed, one audience fewer: a table the new
// run no longer has) and interrupts it at every storage call it makes, in
// every way: failing the call before or after it takes effect (its result
// lost), cancelling the run's context there (SIGTERM, a lost lease), and
// killing the process there, before or after the call takes effect. After
// each, a reader following the manifest finds exactly one whole run; the
// next run of the date leaves exactly the new run (a glob of every
// partition equals the manifest), model.json and report.html are the
// manifest's, the ledger agrees with the manifest, and the following date
// runs.
func TestPublishInterruptedAtEveryStorageCall(t *testing.T) {
	racetest.Skip(t, "five whole runs per storage call; the runs' worker pools are race-checked elsewhere")
	// The two exhaustive interruption tests share nothing: they run side by
	// side, the one waiting on versitygw while the other computes.
	t.Parallel()
	w := newCommitWorld(t, objstore.NewMem(), func(_ *testing.T, b objstore.Bucket) objstore.Bucket { return b.(*objstore.Mem).Clone() })
	// The calls of a run that nothing interrupts, to interrupt each.
	dry := &objstoretest.Faults{Bucket: w.clone(t, w.base)}
	c := &clock{t: w.start}
	if _, err := w.runner(t, w.next, dry, c.Now).Run(context.Background(), Request{AsOf: shoptest.Date(t, commitDay), Trigger: ledger.CLI}); err != nil {
		t.Fatal(err)
	}
	var scenarios []commitScenario
	for i, call := range dry.Calls() {
		for _, mode := range objstoretest.Modes {
			if mode.After() && !call.Mutates() {
				continue // the same as its "before" twin
			}
			scenarios = append(scenarios, commitScenario{at: i + 1, call: call, mode: mode})
		}
	}
	t.Logf("interrupting a re-run at each of its %d storage calls: %d interruption points", len(dry.Calls()), len(scenarios))
	for _, s := range scenarios {
		t.Run(s.String(), func(t *testing.T) {
			out := w.clone(t, w.base)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			faults := &objstoretest.Faults{Bucket: out, At: s.at, Mode: s.mode, CancelFunc: cancel}
			c := &clock{t: w.start}
			o, _ := w.runner(t, w.next, faults, c.Now).Run(ctx, Request{AsOf: shoptest.Date(t, commitDay), Trigger: ledger.CLI})
			if !faults.Hit() {
				t.Fatal("the run made fewer storage calls than the run that was not interrupted")
			}
			w.afterInterruption(t, out, out, c, o)
		})
	}
}

// newCommitWorld publishes the previous run into base and the new run
// into a clone of it, for reference.
func newCommitWorld(t *testing.T, base objstore.Bucket, clone func(*testing.T, objstore.Bucket) objstore.Bucket) *commitWorld {
	t.Helper()
	in := objstore.NewMem()
	shoptest.Generate(t, in, 100)
	w := &commitWorld{in: in, base: base, clone: clone, start: time.Date(2025, 7, 1, 2, 0, 0, 0, time.UTC)}
	w.prev = shoptest.Config(t, "mem://in", "mem://out")
	w.next = shoptest.Config(t, "mem://in", "mem://out")
	for _, cfg := range []*config.Config{w.prev, w.next} {
		// The test is about publishing, and runs ~900 times: one k, one
		// start, no compression, one worker (per-worker buffers dominate
		// a run this small).
		cfg.Cluster.KRange, cfg.Cluster.NInit = []int{3}, 1
		cfg.Output.Compression, cfg.Workers = "uncompressed", 1
	}
	w.next.Seed++
	if len(w.next.Audiences) < 2 {
		t.Fatal("the demo configuration needs two audiences for the next run to drop one")
	}
	w.next.Audiences = w.next.Audiences[:len(w.next.Audiences)-1]
	c := &clock{t: w.start.Add(-time.Hour)}
	if _, err := w.runner(t, w.prev, w.base, c.Now).Run(context.Background(), Request{AsOf: shoptest.Date(t, commitDay), Trigger: ledger.CLI}); err != nil {
		t.Fatal(err)
	}
	w.refPrev = snapshotOf(t, w.base)
	ref := w.clone(t, w.base)
	if _, err := w.runner(t, w.next, ref, c.Now).Run(context.Background(), Request{AsOf: shoptest.Date(t, commitDay), Trigger: ledger.CLI}); err != nil {
		t.Fatal(err)
	}
	w.refNext = snapshotOf(t, ref)
	if w.refNext.manifest.Attempt == w.refPrev.manifest.Attempt || len(w.refNext.manifest.Tables) >= len(w.refPrev.manifest.Tables) {
		t.Fatal("the next configuration must publish another attempt with fewer tables")
	}
	return w
}

// afterInterruption checks what an interrupted run (whose outcome is o)
// left in out, then runs the date again and the following date through
// via, a bucket on the same store as out, and checks what they leave.
// c is the interrupted run's clock.
func (w *commitWorld) afterInterruption(t *testing.T, out, via objstore.Bucket, c *clock, o *Outcome) {
	t.Helper()
	m := w.checkOneRun(t, out)
	if o != nil && o.Record != nil {
		checkRecordTruthful(t, out, o.Record.ID, m)
	}

	// The next run of the date: a killed process's lease has expired.
	c.Advance(2 * lease.DefaultTTL)
	next := w.runner(t, w.next, via, c.Now)
	if _, err := next.Run(context.Background(), Request{AsOf: shoptest.Date(t, commitDay), Trigger: ledger.CLI}); err != nil {
		t.Fatalf("the next run of %s: %v", commitDay, err)
	}
	m = w.checkOneRun(t, out)
	if m.Attempt != w.refNext.manifest.Attempt {
		t.Fatalf("after the next run the manifest is attempt %s, want %s", m.Attempt, w.refNext.manifest.Attempt)
	}
	w.checkGlobIsManifest(t, out, m)
	checkFixedCopies(t, out, m)
	checkLedgerAgrees(t, out, m)

	c.Advance(time.Minute)
	if _, err := next.Run(context.Background(), Request{AsOf: shoptest.Date(t, commitNextDay), Trigger: ledger.CLI}); err != nil {
		t.Fatalf("the following date %s: %v", commitNextDay, err)
	}
	if _, err := publish.ReadManifest(context.Background(), out, commitNextDay); err != nil {
		t.Fatalf("the following date's manifest: %v", err)
	}
}

// checkOneRun: the committed manifest is the previous run's or the new
// one's, and every object it names exists with the reference's size.
func (w *commitWorld) checkOneRun(t *testing.T, out objstore.Bucket) *publish.Manifest {
	t.Helper()
	ctx := context.Background()
	m, err := publish.ReadManifest(ctx, out, commitDay)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	var ref published
	switch m.Attempt {
	case w.refPrev.manifest.Attempt:
		ref = w.refPrev
	case w.refNext.manifest.Attempt:
		ref = w.refNext
	default:
		t.Fatalf("the manifest is attempt %s, neither run's", m.Attempt)
	}
	if !slices.Equal(m.Keys(), ref.manifest.Keys()) {
		t.Fatalf("the manifest names %v, the reference run %v", m.Keys(), ref.manifest.Keys())
	}
	for _, k := range m.Keys() {
		a, err := out.Attributes(ctx, k)
		if err != nil {
			t.Fatalf("the manifest names %s: %v", k, err)
		}
		if a.Size != ref.sizes[k] {
			t.Fatalf("%s is %d bytes, the reference run's %d", k, a.Size, ref.sizes[k])
		}
	}
	return m
}

// checkGlobIsManifest: every partition either run published holds
// exactly the objects m names (plus the commit record and the fixed-name
// copies), and no replaced manifest waits to be cleaned.
func (w *commitWorld) checkGlobIsManifest(t *testing.T, out objstore.Bucket, m *publish.Manifest) {
	t.Helper()
	ctx := context.Background()
	want := map[string]bool{publish.SuccessKey(commitDay): true}
	for _, k := range m.Keys() {
		want[k] = true
	}
	for _, k := range m.Objects {
		want[publish.FixedKey(k, m.Attempt)] = true
	}
	partitions := map[string]bool{}
	for _, ref := range []published{w.refPrev, w.refNext} {
		for _, k := range ref.manifest.Keys() {
			partitions[path.Dir(k)+"/"] = true
		}
	}
	for p := range partitions {
		keys, err := objstore.List(ctx, out, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if !want[k] {
				t.Errorf("a glob of %s finds %s, which the manifest does not name", p, k)
			}
		}
	}
	for k := range want {
		if _, err := out.Attributes(ctx, k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if left, _ := objstore.List(ctx, out, "_strata/replaced/"); len(left) > 0 {
		t.Errorf("replaced manifests not cleaned: %v", left)
	}
}

// checkFixedCopies: model.json and report.html are the manifest's.
func checkFixedCopies(t *testing.T, out objstore.Bucket, m *publish.Manifest) {
	t.Helper()
	ctx := context.Background()
	for name, src := range m.Objects {
		fixed := publish.FixedKey(src, m.Attempt)
		a, err1 := objstore.ReadAll(ctx, out, src)
		b, err2 := objstore.ReadAll(ctx, out, fixed)
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Errorf("%s: %s is not the manifest's %s (%v, %v)", name, fixed, src, err1, err2)
		}
	}
}

// checkRecordTruthful: right after the interrupted run, its record does
// not say it published nothing when its manifest is the committed one.
func checkRecordTruthful(t *testing.T, out objstore.Bucket, id string, m *publish.Manifest) {
	t.Helper()
	rec, err := ledger.New(out).Get(context.Background(), id)
	if err != nil || m.RunID != id {
		return // no record (killed before its first write), or not the published run
	}
	if rec.Status == ledger.Failed && strings.Contains(rec.Error, "nothing of this run was published") {
		t.Errorf("ledger: run %s says it published nothing; its manifest is committed", id)
	}
}

// checkLedgerAgrees: every run of the date is finished, and the run the
// manifest names is recorded as succeeded with its attempt.
func checkLedgerAgrees(t *testing.T, out objstore.Bucket, m *publish.Manifest) {
	t.Helper()
	recs, err := ledger.New(out).List(context.Background(), ledger.Query{AsOf: commitDay})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if !r.Finished() {
			t.Errorf("ledger: run %s still says running", r.ID)
		}
		if r.ID == m.RunID {
			found = true
			if r.Status != ledger.Succeeded || r.Attempt != m.Attempt {
				t.Errorf("ledger: the published run %s is %s, attempt %s (%q)", r.ID, r.Status, r.Attempt, r.Error)
			}
		}
	}
	if !found {
		t.Errorf("ledger: no record of the published run %s", m.RunID)
	}
}

// holdUpload holds the first upload whose key contains sub until release
// is closed, signalling held when it starts waiting.
type holdUpload struct {
	*objstore.Mem
	sub           string
	once          sync.Once
	held, release chan struct{}
}

func (h *holdUpload) Upload(ctx context.Context, key string, r io.Reader) error {
	if strings.Contains(key, h.sub) {
		h.once.Do(func() {
			close(h.held)
			<-h.release
		})
	}
	return h.Mem.Upload(ctx, key, r)
}

// TestRunnerThatLostItsLeaseDeletesNothing: a run whose lease another
// process took over while it was writing its parts fails before its
// commit and leaves its parts alone: the new holder may be publishing the
// same attempt under the same keys.
func TestRunnerThatLostItsLeaseDeletesNothing(t *testing.T) {
	ctx := context.Background()
	in := objstore.NewMem()
	shoptest.Generate(t, in, 100)
	cfg := shoptest.Config(t, "mem://in", "mem://out")
	out := &holdUpload{Mem: objstore.NewMem(), sub: "segment_summary/dt=", held: make(chan struct{}), release: make(chan struct{})}
	r, err := NewRunner(ctx, cfg, RunnerOptions{Version: "test", Logger: zerolog.Nop(), Input: in, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *Outcome)
	go func() {
		o, _ := r.Run(ctx, Request{AsOf: shoptest.Date(t, commitDay), Trigger: ledger.Schedule})
		done <- o
	}()
	select {
	case <-out.held:
	case o := <-done:
		t.Fatalf("the run ended before it wrote segment_summary: %+v", o.Record)
	}
	skewed := func() time.Time { return time.Now().Add(2 * lease.DefaultTTL) }
	if _, err := lease.New(out.Mem, lease.Options{Now: skewed}).Acquire(ctx, commitDay, "thief"); err != nil {
		t.Fatal(err)
	}
	close(out.release)
	o := <-done
	if o.Record.Status != ledger.Failed || !strings.Contains(o.Record.Error, "lease lost") {
		t.Fatalf("the run that lost its lease: %+v", o.Record)
	}
	parts, err := objstore.List(ctx, out.Mem, publish.PartitionPrefix("segments", commitDay))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) == 0 || !strings.Contains(parts[0], o.Record.Attempt) {
		t.Errorf("the run deleted its parts after losing its lease: segments partition %v", parts)
	}
}
