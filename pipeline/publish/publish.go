// Package publish writes a run's outputs so that readers never see half a
// run, and a failed run never damages the last good one.
//
// # Protocol
//
// Object stores make single objects atomic (a PUT or a completed multipart
// upload is all or nothing) but offer no rename and no multi-object
// transaction. A run for date D therefore publishes in three steps:
//
//  1. Data. Every table part is written under its partition with a name
//     that carries the run's attempt id:
//     <table>/dt=D/part-00000-<attempt>.parquet. Nothing existing is
//     touched. The attempt id is a hash of everything that determines the
//     outputs (inputs, config, date, version), so re-running the same
//     inputs writes the same bytes to the same keys.
//  2. Commit. The manifest — every key of the run, with row counts — is
//     written to segments/dt=D/_SUCCESS. This single PUT is the commit
//     point: before it, the previous manifest (if any) still names the
//     previous, complete set of objects; after it, the new one does.
//  3. Clean-up. Objects named by the previous manifest and not by the new
//     one are deleted, and convenience copies at fixed names
//     (models/dt=D/model.json) are written.
//
// A failure before step 2 leaves the previous partition exactly as it was;
// the orphaned new parts are deleted by Abort when possible, and in any case
// by the clean-up of the next successful run (it deletes every part of the
// partition not named by the manifest it commits). A failure during step 3
// leaves a committed run plus stale objects that the next run removes.
//
// Readers that must never see a mix of runs list the partition's files from
// the manifest; tools that glob the partition directory see exactly one
// run's files except for the seconds between step 1 and step 3 of a re-run
// of an already published date.
package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

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

// Commit writes the manifest, the commit point, then removes the objects
// the previous manifest named and this one does not, and writes the fixed
// name copies of extra objects (fixed maps an object name to its fixed key).
func (p *Publisher) Commit(ctx context.Context, m Manifest, fixed map[string]string) error {
	p.mu.Lock()
	m.Format = 1
	m.AsOf = p.date
	m.Attempt = p.attempt
	m.Tables = p.tables
	m.Objects = p.objects
	p.mu.Unlock()
	prev, err := ReadManifest(ctx, p.b, p.date)
	if err != nil && !objstore.IsNotExist(err) {
		// A manifest that can't be read is not a reason to lose today's run,
		// but we must not delete anything on its account.
		prev = nil
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := p.b.Upload(ctx, SuccessKey(p.date), bytes.NewReader(data)); err != nil {
		// Abort reads the manifest back, so an upload that failed on our
		// side but landed on the server keeps what it committed.
		err = fmt.Errorf("commit %s: %w", SuccessKey(p.date), err)
		if aerr := p.Abort(context.WithoutCancel(ctx)); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return err
	}
	// Committed. What follows is housekeeping: a failure is reported but the
	// run's data is published.
	var errs []error
	for name, fixedKey := range fixed {
		src, ok := m.Objects[name]
		if !ok {
			continue
		}
		body, err := objstore.ReadAll(ctx, p.b, src)
		if err == nil {
			err = p.b.Upload(ctx, fixedKey, bytes.NewReader(body))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("copy %s to %s: %w", src, fixedKey, err))
		}
	}
	if err := p.cleanup(ctx, &m, prev); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return &CleanupError{Err: errors.Join(errs...)}
	}
	return nil
}

// CleanupError reports a failure after the commit point: the run is
// published, only housekeeping failed.
type CleanupError struct{ Err error }

func (e *CleanupError) Error() string { return "published, but clean-up failed: " + e.Err.Error() }
func (e *CleanupError) Unwrap() error { return e.Err }

// cleanup deletes every attempt-named object in the run's partitions that
// the new manifest does not name: the previous run's and any orphan of a
// failed one.
func (p *Publisher) cleanup(ctx context.Context, m *Manifest, prev *Manifest) error {
	keep := map[string]bool{}
	for _, k := range m.Keys() {
		keep[k] = true
	}
	partitions := map[string]bool{}
	for table := range m.Tables {
		partitions[PartitionPrefix(table, p.date)] = true
	}
	for _, k := range m.Objects {
		partitions[path.Dir(k)+"/"] = true
	}
	var stale []string
	if prev != nil {
		for _, k := range prev.Keys() {
			if !keep[k] {
				stale = append(stale, k)
			}
		}
	}
	for prefix := range partitions {
		err := p.b.Iter(ctx, prefix, func(k string) error {
			base := path.Base(k)
			if !keep[k] && isAttemptObject(base) {
				stale = append(stale, k)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
	}
	sort.Strings(stale)
	stale = slices.Compact(stale)
	var errs []error
	for _, k := range stale {
		if err := p.b.Delete(ctx, k); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
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
// names it (a re-run with the same attempt id writes the same keys). It is
// best effort: what it can't delete, the next successful run will.
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
