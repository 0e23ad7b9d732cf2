// Package publish writes a run's outputs so that readers never see half a
// run, and a failed run never damages the last good one.
//
// # Protocol
//
// Object stores make single objects atomic (a PUT or a completed multipart
// upload is all or nothing) but offer no rename and no multi-object
// transaction. A run N of date D that replaces the published run P
// therefore publishes in four steps:
//
//  1. Data. Every table part is written under its partition with a name
//     that carries the run's attempt id:
//     <table>/dt=D/part-00000-<attempt>.parquet, and the extra objects
//     likewise (models/dt=D/model-<attempt>.json). Nothing existing is
//     touched. The attempt id is a hash of everything that determines the
//     outputs (inputs, config, date, version), so re-running the same
//     inputs writes the same bytes to the same keys.
//  2. Record. P's manifest is copied to _strata/replaced/dt=D/<P's
//     attempt>.json: after the commit it is the only trace of P's objects,
//     some of which may be in partitions of tables N does not have.
//  3. Commit. N's manifest — every key of the run, with row counts — is
//     written to segments/dt=D/_SUCCESS. This single PUT is the commit
//     point.
//  4. Finish. The fixed-name copies (models/dt=D/model.json,
//     reports/dt=D/report.html: each extra object's key without the
//     attempt, see FixedKey) are rewritten from N's objects, then every
//     leftover is deleted — the objects of the recorded manifests and the
//     attempt-named objects in N's partitions that N does not name — and
//     last the records.
//
// A commit write that fails is settled by reading the manifest back, on a
// context of its own (context.WithoutCancel with SettleTimeout: the run's
// context may be the cancelled one that interrupted it). N's manifest
// means the write landed and only its answer was lost. Anything else does
// not prove that the write will not land later (a request the client gave
// up on can still reach the server), so nothing is deleted: the error
// wraps ErrCommitUncertain and the next run of D settles it.
//
// Finishing is idempotent and runs again, as Complete, at the start of
// every run of D under the date's lease (jobs.Runner), before the run
// decides that D is up to date. So every interruption — an error, a
// cancellation, a kill, at any storage call — leaves one of these states:
//
//	state                           manifest reader  glob of D's partitions  next run of D
//	------------------------------  ---------------  ----------------------  -------------------------------------------
//	1 writing N's data               P                P + part of N           finishes P: deletes N's parts unless it is
//	  (or failed before commit)                                               about to publish N itself, then runs
//	2 P recorded, commit not sent    P                P + N                   as 1; the record waits for a commit
//	3 commit sent, outcome unknown   P or N, whole    P + N                   reads _SUCCESS: as 2 if P, as 4 if N
//	4 committed, not finished        N                P + N, fixed copies P   finishes N, marks N succeeded in the
//	                                                                          ledger, then finds D up to date
//	5 partly finished                N                N + part of P           as 4
//	6 finished                       N                N                       up to date: skipped
//
// A reader that follows the manifest sees exactly P or exactly N in every
// state; a reader that globs a partition sees exactly the committed run
// once a run of D (or the committing run itself) has finished it. Aborted
// or orphaned objects of the attempt a run is about to publish are left
// to that run's commit (a sharded run's shards may be writing them).
//
// Two assumptions remain: one process at a time runs a date (the lease),
// and a commit request that a process gave up on reaches the store before
// the next process holds the date's lease, or never.
package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// CommitTable is the table whose partition holds the commit record.
const CommitTable = "segments"

// SuccessName is the name of the commit record in a partition.
const SuccessName = "_SUCCESS"

// Manifest is the commit record of one run of one date.
type Manifest struct {
	Format     int                   `json:"format"`
	AsOf       string                `json:"as_of"`
	Attempt    string                `json:"attempt"`
	RunID      string                `json:"run_id,omitempty"`
	ConfigHash string                `json:"config_hash"`
	Tables     map[string]TableFiles `json:"tables"`
	// Extra objects of the run (model.json, report.html) by name.
	Objects map[string]string `json:"objects,omitempty"`
}

// Object is the key of the run's extra object name (written by
// WriteObject under table as file), also in manifests written before
// Objects recorded it: there, the fixed-name copy of its partition.
func (m *Manifest) Object(name, table, file string) string {
	if key, ok := m.Objects[name]; ok {
		return key
	}
	return PartitionPrefix(table, m.AsOf) + file
}

// TableFiles lists one table's part objects.
type TableFiles struct {
	Keys []string `json:"keys"`
	Rows int64    `json:"rows"`
}

// Keys returns every object the manifest names, sorted.
func (m *Manifest) Keys() []string {
	var keys []string
	for _, t := range m.Tables {
		keys = append(keys, t.Keys...)
	}
	for _, k := range m.Objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// PartitionPrefix is the prefix of table's partition for date.
func PartitionPrefix(table, date string) string {
	return fmt.Sprintf("%s/dt=%s/", table, date)
}

// SuccessKey is the key of the commit record for date.
func SuccessKey(date string) string {
	return PartitionPrefix(CommitTable, date) + SuccessName
}

// ReadManifest returns the committed manifest of date, or an error for
// which objstore.IsNotExist is true when the date was never published.
func ReadManifest(ctx context.Context, b objstore.Bucket, date string) (*Manifest, error) {
	data, err := objstore.ReadAll(ctx, b, SuccessKey(date))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", SuccessKey(date), err)
	}
	return &m, nil
}

// Publisher publishes one run of one date.
type Publisher struct {
	b       objstore.Bucket
	date    string
	attempt string

	shards int // parts of a sharded run: named part-i-of-N

	mu      sync.Mutex
	tables  map[string]TableFiles
	objects map[string]string
	written []string
}

// New starts publishing attempt for date. The attempt id must be a
// file-name-safe string; see the package doc for how runs choose it.
func New(b objstore.Bucket, date, attempt string) *Publisher {
	return &Publisher{b: b, date: date, attempt: attempt, tables: map[string]TableFiles{}, objects: map[string]string{}}
}

// Sharded makes p write the parts of shards of a sharded run of p's
// attempt: part i is named part-0000i-of-0000N-<attempt>. The shard count
// in the name keeps a shard from ever overwriting a part of the same
// attempt published unsharded (or with another count), which readers of
// the committed manifest may be reading.
func (p *Publisher) Sharded(shards int) *Publisher {
	p.shards = shards
	return p
}

// PartKey is the key of part i of table.
func (p *Publisher) PartKey(table string, i int, ext string) string {
	if p.shards > 0 {
		return fmt.Sprintf("%spart-%05d-of-%05d-%s.%s", PartitionPrefix(table, p.date), i, p.shards, p.attempt, ext)
	}
	return fmt.Sprintf("%spart-%05d-%s.%s", PartitionPrefix(table, p.date), i, p.attempt, ext)
}

// WritePart writes part i of table with write, which streams the object's
// bytes, and records it with its row count.
func (p *Publisher) WritePart(ctx context.Context, table string, i int, ext string, rows int64, write func(io.Writer) error) error {
	key := p.PartKey(table, i, ext)
	if err := p.upload(ctx, key, write); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tf := p.tables[table]
	tf.Keys = append(tf.Keys, key)
	sort.Strings(tf.Keys)
	tf.Rows += rows
	p.tables[table] = tf
	return nil
}

// Tables returns the parts written so far, by table.
func (p *Publisher) Tables() map[string]TableFiles {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]TableFiles, len(p.tables))
	for t, f := range p.tables {
		out[t] = TableFiles{Keys: append([]string(nil), f.Keys...), Rows: f.Rows}
	}
	return out
}

// Adopt records parts that another process wrote for this attempt (the
// shards of a sharded run), to be committed with this publisher's own.
// The caller has checked that they exist. Abort does not delete them: they
// are not this publisher's to remove.
func (p *Publisher) Adopt(table string, files TableFiles) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tf := p.tables[table]
	tf.Keys = append(tf.Keys, files.Keys...)
	sort.Strings(tf.Keys)
	tf.Rows += files.Rows
	p.tables[table] = tf
}

// WriteObject writes a named extra object of the run (such as model.json)
// under an attempt-specific key in table's partition; after commit it is
// also copied to the fixed name fixedName in that partition.
func (p *Publisher) WriteObject(ctx context.Context, name, table, fixedName string, data []byte) error {
	ext := path.Ext(fixedName)
	key := fmt.Sprintf("%s%s-%s%s", PartitionPrefix(table, p.date), strings.TrimSuffix(fixedName, ext), p.attempt, ext)
	if err := p.upload(ctx, key, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return err
	}
	p.mu.Lock()
	p.objects[name] = key
	p.mu.Unlock()
	return nil
}

func (p *Publisher) upload(ctx context.Context, key string, write func(io.Writer) error) error {
	p.mu.Lock()
	p.written = append(p.written, key)
	p.mu.Unlock()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	upErr := p.b.Upload(ctx, key, pr)
	// Unblock the writer if the upload stopped early. The writer then
	// fails on the pipe with this error, so it must carry the upload's
	// cause (a full disk, a refused request): the writer's own message
	// ("writing buffered pages of row group column 10") says only where
	// it was.
	stopped := errors.New("upload ended before its input")
	if upErr != nil {
		stopped = fmt.Errorf("upload failed: %w", upErr)
	}
	pr.CloseWithError(stopped)
	wErr := <-done
	return uploadError(key, wErr, upErr)
}

// uploadError is the error of an upload of key whose writer returned wErr
// and whose bucket returned upErr: the storage's error when the writer
// failed because the upload did (or did not fail itself), the writer's
// when the upload failed because the writer did (its read of the pipe
// returns the writer's error) — the cause either way.
func uploadError(key string, wErr, upErr error) error {
	switch {
	case wErr != nil && (upErr == nil || errors.Is(upErr, wErr)):
		return fmt.Errorf("write %s: %w", key, wErr)
	case upErr != nil:
		return fmt.Errorf("upload %s: %w", key, upErr)
	}
	return nil
}

// SettleTimeout bounds the storage calls that settle an interrupted
// commit (reading the manifest back) and that a cancelled run still makes
// to say what happened: they run on context.WithoutCancel of the run's
// context, so a cancellation cannot stop them half way, and this deadline
// keeps a dead store from holding a stopping process.
const SettleTimeout = 20 * time.Second

// ErrCommitUncertain says a commit's manifest write failed and reading the
// manifest back did not find it: the write may still land (a request the
// client gave up on can reach the server later), so the run kept every
// object it wrote. The next run of the date settles it.
var ErrCommitUncertain = errors.New("commit outcome unknown")

// Commit publishes the run: it records the manifest being replaced,
// writes the new manifest (the commit point) and finishes the
// publication (see the package doc). m supplies RunID and ConfigHash; the
// rest is the publisher's. It returns the committed manifest, also with a
// *CleanupError when the run is published but its finishing step failed
// (the next run of the date finishes it).
//
// A failure before the commit point is returned as it is: nothing is
// committed, and the caller removes what the run wrote (Abort) if it still
// holds the date. A failed manifest write is settled by reading the
// manifest back: if it is this run's, the run is published; if not, the
// error wraps ErrCommitUncertain, and neither Commit nor the caller may
// delete anything, because the write may yet land and name every object
// of the run.
func (p *Publisher) Commit(ctx context.Context, m Manifest) (*Manifest, error) {
	p.fill(&m)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if err := p.recordReplaced(ctx, &m); err != nil {
		return nil, err
	}
	if err := p.b.Upload(ctx, SuccessKey(p.date), bytes.NewReader(data)); err != nil {
		return p.settle(ctx, &m, fmt.Errorf("commit %s: %w", SuccessKey(p.date), err))
	}
	return &m, p.finishCommitted(ctx, &m)
}

// fill completes m with what the publisher knows.
func (p *Publisher) fill(m *Manifest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.Format = 1
	m.AsOf = p.date
	m.Attempt = p.attempt
	m.Tables = p.tables
	m.Objects = p.objects
}

// recordReplaced writes the manifest that m replaces, if any, under
// _strata/replaced/: after the commit point it is the only record of the
// previous run's objects, which a finishing step interrupted before it
// deleted them (or a later run finishing for it) must still find, also
// in partitions of tables that m no longer has.
func (p *Publisher) recordReplaced(ctx context.Context, m *Manifest) error {
	data, err := objstore.ReadAll(ctx, p.b, SuccessKey(p.date))
	if objstore.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the manifest this run replaces: %w", err)
	}
	var prev Manifest
	if err := json.Unmarshal(data, &prev); err != nil || prev.Attempt == "" {
		// A manifest that can't be decoded names nothing we could delete;
		// it is not a reason to lose today's run. The partitions m shares
		// with it are still cleaned by listing.
		return nil
	}
	if prev.Attempt == m.Attempt {
		return nil // the same attempt: the same tables, cleaned by listing
	}
	key := replacedKey(p.date, prev.Attempt)
	if err := p.b.Upload(ctx, key, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("record the manifest this run replaces in %s: %w", key, err)
	}
	return nil
}

// replacedPrefix is where the manifests replaced by commits of date wait
// until a finishing step has deleted their objects.
func replacedPrefix(date string) string { return "_strata/replaced/dt=" + date + "/" }

func replacedKey(date, attempt string) string { return replacedPrefix(date) + attempt + ".json" }

// settle decides an interrupted commit by reading the manifest back, on
// a context of its own: the run's may be the cancelled one that
// interrupted it. This run's manifest means the write landed and only its
// answer was lost. Anything else (the previous manifest, none, a read
// error) does not prove the write will not land later, so nothing is
// deleted.
func (p *Publisher) settle(ctx context.Context, m *Manifest, commitErr error) (*Manifest, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SettleTimeout)
	defer cancel()
	got, err := ReadManifest(sctx, p.b, p.date)
	if err == nil && got.Attempt == m.Attempt && got.RunID == m.RunID {
		return got, p.finishCommitted(ctx, got)
	}
	return nil, fmt.Errorf("%w: %w: the manifest read back is not this run's, but the write may still land, "+
		"so this run kept everything it wrote; the next run of %s settles it", commitErr, ErrCommitUncertain, p.date)
}

// finishCommitted runs the finishing step after this run's commit point.
// A cancelled run leaves it to the next run of the date: the
// cancellation may be a lost lease, and then another process may be
// writing parts that the finishing step would take for leftovers.
func (p *Publisher) finishCommitted(ctx context.Context, m *Manifest) error {
	if err := ctx.Err(); err != nil {
		return &CleanupError{Err: fmt.Errorf("not finished, the run was stopped: %w", err)}
	}
	if _, err := finish(ctx, p.b, m, ""); err != nil {
		return &CleanupError{Err: err}
	}
	return nil
}

// CleanupError reports a failure after the commit point: the run is
// published, only its finishing step failed; the next run of the date
// finishes it.
type CleanupError struct{ Err error }

func (e *CleanupError) Error() string { return "published, but clean-up failed: " + e.Err.Error() }
func (e *CleanupError) Unwrap() error { return e.Err }

// Finished is what a finishing step did.
type Finished struct {
	// Copied are the fixed-name copies it (re)wrote.
	Copied []string
	// Deleted are the leftovers it deleted: objects of replaced runs and
	// of runs that never committed.
	Deleted []string
}

// Done reports whether the publication was already complete.
func (f Finished) Done() bool { return len(f.Copied) == 0 && len(f.Deleted) == 0 }

// Complete finishes the publication m, the date's committed manifest, if
// a run stopped before finishing it: fixed-name copies that are missing
// or not m's are rewritten from m's own objects, and leftovers (objects of
// other attempts in m's partitions and in those of the manifests m
// replaced) are deleted, except those of attempt keep: the parts of the
// run about to start, which a sharded run's shards may have written. The
// caller holds the date's lease, so no other run of the date is writing.
// It is idempotent; on a complete publication it only lists and reads.
func Complete(ctx context.Context, b objstore.Bucket, m *Manifest, keep string) (Finished, error) {
	return finish(ctx, b, m, keep)
}

// finish brings the date's partitions to exactly m: the fixed-name copies
// first (readers of model.json see the committed run as soon as
// possible), then the leftovers, and last the records of the replaced
// manifests, which are the only trace of leftovers in partitions m does
// not have.
func finish(ctx context.Context, b objstore.Bucket, m *Manifest, keep string) (Finished, error) {
	var f Finished
	copied, err := syncFixedCopies(ctx, b, m)
	f.Copied = copied
	if err != nil {
		return f, err
	}
	stale, records, err := leftovers(ctx, b, m, keep)
	if err != nil {
		return f, err
	}
	var errs []error
	for _, k := range stale {
		if err := b.Delete(ctx, k); err != nil {
			errs = append(errs, fmt.Errorf("delete leftover %s: %w", k, err))
			continue
		}
		f.Deleted = append(f.Deleted, k)
	}
	if len(errs) > 0 {
		return f, errors.Join(errs...) // keep the records: they still name leftovers
	}
	for _, k := range records {
		if err := b.Delete(ctx, k); err != nil {
			return f, fmt.Errorf("delete replaced manifest record %s: %w", k, err)
		}
	}
	return f, nil
}

// FixedKey is the fixed name of an extra object written under key by
// WriteObject for attempt: the key without the attempt
// (models/dt=D/model-<attempt>.json is copied to models/dt=D/model.json).
func FixedKey(key, attempt string) string {
	ext := path.Ext(key)
	stem, ok := strings.CutSuffix(strings.TrimSuffix(key, ext), "-"+attempt)
	if !ok {
		return ""
	}
	return stem + ext
}

// syncFixedCopies makes every fixed-name copy of m's extra objects hold
// the bytes of m's object, rewriting those that differ. It compares
// content, not ETags, which differ between single and multipart uploads.
func syncFixedCopies(ctx context.Context, b objstore.Bucket, m *Manifest) ([]string, error) {
	names := make([]string, 0, len(m.Objects))
	for name := range m.Objects {
		names = append(names, name)
	}
	sort.Strings(names)
	var copied []string
	for _, name := range names {
		src := m.Objects[name]
		fixed := FixedKey(src, m.Attempt)
		if fixed == "" {
			continue
		}
		body, err := objstore.ReadAll(ctx, b, src)
		if err != nil {
			return copied, fmt.Errorf("read %s to copy it to %s: %w", src, fixed, err)
		}
		cur, err := objstore.ReadAll(ctx, b, fixed)
		if err == nil && bytes.Equal(cur, body) {
			continue
		}
		if err != nil && !objstore.IsNotExist(err) {
			return copied, fmt.Errorf("read %s: %w", fixed, err)
		}
		if err := b.Upload(ctx, fixed, bytes.NewReader(body)); err != nil {
			return copied, fmt.Errorf("copy %s to %s: %w", src, fixed, err)
		}
		copied = append(copied, fixed)
	}
	return copied, nil
}

// leftovers returns the objects to delete for the date's partitions to
// hold exactly m (the objects of replaced manifests and attempt objects
// m does not name, those of attempt keep aside), and the records of the
// replaced manifests that this covers.
func leftovers(ctx context.Context, b objstore.Bucket, m *Manifest, keep string) (stale, records []string, err error) {
	named := map[string]bool{SuccessKey(m.AsOf): true}
	partitions := map[string]bool{}
	for _, k := range m.Keys() {
		named[k] = true
		partitions[path.Dir(k)+"/"] = true
	}
	for table := range m.Tables {
		partitions[PartitionPrefix(table, m.AsOf)] = true
	}
	add := func(k string) {
		if !named[k] && (keep == "" || attemptOf(path.Base(k)) != keep) {
			stale = append(stale, k)
		}
	}
	replaced, records, err := readReplaced(ctx, b, m)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range replaced {
		for _, k := range r.Keys() {
			add(k)
			partitions[path.Dir(k)+"/"] = true
		}
	}
	for _, prefix := range slices.Sorted(maps.Keys(partitions)) {
		err := b.Iter(ctx, prefix, func(k string) error {
			// Only this package's attempt-named objects: never a user's
			// file, a fixed-name copy, or a deeper partition's object.
			if path.Dir(k)+"/" == prefix && isAttemptObject(path.Base(k)) {
				add(k)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("list %s: %w", prefix, err)
		}
	}
	sort.Strings(stale)
	return slices.Compact(stale), records, nil
}

// readReplaced returns the manifests that commits of m's date replaced
// and that m has replaced in turn, with their record keys. A record of
// m's own attempt is one whose replacement has not landed (or may yet):
// it stays for the commit that replaces m.
func readReplaced(ctx context.Context, b objstore.Bucket, m *Manifest) ([]*Manifest, []string, error) {
	keys, err := objstore.List(ctx, b, replacedPrefix(m.AsOf))
	if err != nil {
		return nil, nil, fmt.Errorf("list replaced manifests of %s: %w", m.AsOf, err)
	}
	var out []*Manifest
	var records []string
	for _, k := range keys {
		data, err := objstore.ReadAll(ctx, b, k)
		if objstore.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read replaced manifest %s: %w", k, err)
		}
		var r Manifest
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, nil, fmt.Errorf("decode replaced manifest %s: %w", k, err)
		}
		if r.Attempt == m.Attempt {
			continue
		}
		out = append(out, &r)
		records = append(records, k)
	}
	return out, records, nil
}

// attemptOf is the attempt id in an attempt-named object's base name: the
// last dash-separated field of its stem.
func attemptOf(base string) string {
	stem := strings.TrimSuffix(base, path.Ext(base))
	return stem[strings.LastIndexByte(stem, '-')+1:]
}

// isAttemptObject reports whether a base name is one this package writes
// with an attempt id (part files and attempt-named extras), as opposed to a
// user's file or a fixed-name copy.
func isAttemptObject(base string) bool {
	if strings.HasPrefix(base, "part-") {
		return true
	}
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	i := strings.LastIndexByte(stem, '-')
	return i > 0 && len(stem)-i-1 == attemptLen && isHex(stem[i+1:])
}

// attemptLen is the length of attempt ids made by AttemptID.
const attemptLen = 16

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Abort deletes what this attempt wrote, unless the committed manifest
// names it (a re-run with the same attempt id writes the same keys). Only
// for a run that did not reach its commit point (after a commit write
// that may still land, nothing it names may go: see Commit), and only
// while the caller still holds the date: a process that took the date
// over may be writing, and committing, the same keys. It is best effort:
// what it can't delete, the next run of the date will.
func (p *Publisher) Abort(ctx context.Context) error {
	committed := map[string]bool{}
	if m, err := ReadManifest(ctx, p.b, p.date); err == nil {
		for _, k := range m.Keys() {
			committed[k] = true
		}
	} else if !objstore.IsNotExist(err) {
		return fmt.Errorf("abort: read manifest: %w", err)
	}
	p.mu.Lock()
	written := append([]string(nil), p.written...)
	p.mu.Unlock()
	var errs []error
	for _, k := range written {
		if committed[k] {
			continue
		}
		if err := p.b.Delete(ctx, k); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// Attempt is the attempt id this publisher writes under.
func (p *Publisher) Attempt() string { return p.attempt }

// Dates returns the committed dates under b, sorted: those whose commit
// record exists. A partition with data but no record is not a run.
func Dates(ctx context.Context, b objstore.Bucket) ([]string, error) {
	var dates []string
	err := b.Iter(ctx, CommitTable+"/", func(key string) error {
		rest, ok := strings.CutPrefix(key, CommitTable+"/dt=")
		if !ok {
			return nil
		}
		date, name, ok := strings.Cut(rest, "/")
		if ok && name == SuccessName {
			dates = append(dates, date)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list published dates: %w", err)
	}
	sort.Strings(dates)
	return dates, nil
}

// Previous returns the manifest of the latest date committed before date,
// or nil when there is none. Runs chain through it: cluster ids and
// migrations are relative to the previous published run.
func Previous(ctx context.Context, b objstore.Bucket, date string) (*Manifest, error) {
	dates, err := Dates(ctx, b)
	if err != nil {
		return nil, err
	}
	i := sort.SearchStrings(dates, date)
	if i == 0 {
		return nil, nil
	}
	return ReadManifest(ctx, b, dates[i-1])
}
