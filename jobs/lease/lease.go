// Package lease is a mutual-exclusion lock kept in an object store, so that
// several Strata processes (two daemons, a daemon and a backfill) sharing
// an output location never process the same date at once.
//
// # Protocol
//
// Object stores offer one compare-and-swap: create an object only if its
// key is free (If-None-Match: *). A lock is therefore a numbered sequence
// of immutable lease objects, <prefix>/<name>/lease-<seq>, each holding
// {holder, token, expires, released}. The highest sequence number is the
// lock's current state.
//
//   - Acquire lists the leases and reads the highest. If it is unexpired,
//     unreleased and someone else's, the lock is taken (ErrLocked).
//     Otherwise the contender creates seq+1: of several contenders exactly
//     one creates it, the others re-read and find it taken.
//   - Renew creates seq+1 before the lease expires. It fails (ErrLost) if
//     someone created seq+1 first, which they could only do after seeing
//     the lease expired: so a holder paused past its expiry learns it lost
//     the lock at its next renewal instead of running on.
//   - Release creates seq+1 marked released.
//
// Old lease objects are pruned, keeping the last two. A contender acting
// on a listing older than a pruning could re-create a pruned number, so
// every create is checked against a fresh listing: a lease that is not
// the highest is not held.
//
// Expiry is wall-clock time written by the holder and read by contenders:
// the processes' clocks must agree to well within the TTL (NTP does).
// Holders must call Renew (or use Keep) more often than the TTL; a run
// also checks its lease right before it commits (see pipeline.Options'
// BeforeCommit), which leaves a window of one request between the check
// and the commit.
package lease

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-oss/strata/internal/ctxsleep"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// Store is what a lock needs of an object store: listing, reading,
// deleting and the conditional create.
type Store interface {
	Iter(ctx context.Context, prefix string, fn func(key string) error) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error)
}

// DefaultPrefix is where locks live in an output location.
const DefaultPrefix = "_strata/locks"

// DefaultTTL is how long a lease lasts without renewal. A crashed holder
// blocks its date for at most this long.
const DefaultTTL = time.Minute

// ErrLocked says another holder has the lock; errors.Is finds it in a
// *LockedError.
var ErrLocked = errors.New("locked by another process")

// ErrLost says a lease was taken over by another holder after it expired
// unrenewed; whatever it protected must stop without publishing.
var ErrLost = errors.New("lease lost to another process")

// ErrExpired says a lease lapsed because its holder could not reach the
// store to renew it (an outage, a partition) — not because another holder
// took it. Whatever it protected must stop without publishing, as for
// ErrLost, but nobody else need be running: trying again later is right.
var ErrExpired = errors.New("lease expired: the lock store could not be reached to renew it")

// LockedError describes who holds a lock.
type LockedError struct {
	Name    string
	Holder  string
	Expires time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is locked by %s until %s", e.Name, e.Holder, e.Expires.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Options configure a Locker.
type Options struct {
	// Prefix under which locks live; default DefaultPrefix.
	Prefix string
	// TTL of a lease; default DefaultTTL.
	TTL time.Duration
	// Now is the clock; default time.Now. Tests inject a fake one.
	Now func() time.Time
}

// Locker takes and keeps locks in one store.
type Locker struct {
	s      Store
	prefix string
	ttl    time.Duration
	now    func() time.Time
}

// New returns a Locker over s.
func New(s Store, opt Options) *Locker {
	l := &Locker{s: s, prefix: strings.Trim(opt.Prefix, "/"), ttl: opt.TTL, now: opt.Now}
	if l.prefix == "" {
		l.prefix = DefaultPrefix
	}
	if l.ttl <= 0 {
		l.ttl = DefaultTTL
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// TTL is how long a lease lasts unrenewed.
func (l *Locker) TTL() time.Duration { return l.ttl }

// record is one lease object.
type record struct {
	Holder   string    `json:"holder"`
	Token    string    `json:"token"` // random per acquisition: tells our own object from another's
	Seq      uint64    `json:"seq"`
	Written  time.Time `json:"written"`
	Expires  time.Time `json:"expires"`
	Released bool      `json:"released,omitempty"`
}

// free reports whether a lease no longer excludes anyone at now.
func (r *record) free(now time.Time) bool { return r.Released || !now.Before(r.Expires) }

// Lease is a held lock.
type Lease struct {
	l      *Locker
	name   string
	holder string
	token  string

	// writes serialises Renew and Release: Keep's renewals and the
	// renewal right before a commit may overlap when the store is slow,
	// and two writes of one lease would each find the other's lease
	// above their own and take it for a rival's.
	writes sync.Mutex

	mu      sync.Mutex
	seq     uint64
	expires time.Time
	lost    error // set once the lease is known lost or released
}

// maxRounds bounds how often Acquire re-reads under contention; each round
// some contender makes progress, so this is only hit by a store that keeps
// failing.
const maxRounds = 10

// Acquire takes the lock name for holder (a description for humans: host,
// process, run). It returns an error for which errors.Is(err, ErrLocked)
// is true when another holder has it.
func (l *Locker) Acquire(ctx context.Context, name, holder string) (*Lease, error) {
	if strings.Contains(name, "/") || name == "" || name == "." || name == ".." {
		return nil, fmt.Errorf("lock name %q: must be a non-empty path segment", name)
	}
	ls := &Lease{l: l, name: name, holder: holder, token: newToken()}
	var lastErr error
	for round := range maxRounds {
		if round > 0 {
			if err := ctxsleep.Sleep(ctx, time.Duration(round)*20*time.Millisecond); err != nil {
				return nil, err
			}
		}
		seqs, err := l.list(ctx, name)
		if err != nil {
			return nil, err
		}
		var top uint64
		if len(seqs) > 0 {
			top = seqs[len(seqs)-1]
			cur, err := l.read(ctx, name, top)
			if objstore.IsNotExist(err) {
				continue // pruned under us; list again
			}
			if err != nil {
				return nil, err
			}
			if !cur.free(l.now()) {
				return nil, &LockedError{Name: name, Holder: cur.Holder, Expires: cur.Expires}
			}
		}
		ok, err := ls.create(ctx, top+1, false)
		if err != nil {
			lastErr = err
			continue
		}
		if ok {
			return ls, nil
		}
	}
	if lastErr == nil {
		lastErr = errors.New("contention did not settle")
	}
	return nil, fmt.Errorf("acquire lock %s after %d rounds: %w", name, maxRounds, lastErr)
}

// create writes lease seq and reports whether this lease now holds the
// lock with it. A create whose outcome is unknown (a network error, or S3's
// 409 for concurrent conditional writes) is settled by reading back the
// object: ours if it carries our token.
func (ls *Lease) create(ctx context.Context, seq uint64, released bool) (bool, error) {
	l := ls.l
	now := l.now()
	rec := record{Holder: ls.holder, Token: ls.token, Seq: seq, Written: now, Expires: now.Add(l.ttl), Released: released}
	data, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("encode lease: %w", err)
	}
	key := l.key(ls.name, seq)
	created, err := l.s.UploadIfAbsent(ctx, key, bytes.NewReader(data))
	if err != nil {
		if created, err = ls.settle(ctx, seq, err); err != nil {
			return false, err
		}
	} else if !created {
		// "Already exists" can be our own create: the storage client
		// retries a request whose first attempt landed but whose answer
		// was lost or late (a 503, a timeout), and the retry meets the
		// object that attempt wrote. The token tells.
		if got, rerr := l.read(ctx, ls.name, seq); rerr == nil && got.Token == ls.token {
			created = true
		}
	}
	if !created {
		return false, nil
	}
	// A create can only succeed on a number someone pruned if a higher
	// one exists; then this lease never held the lock.
	seqs, err := l.list(ctx, ls.name)
	if err != nil {
		return false, err
	}
	if len(seqs) == 0 || seqs[len(seqs)-1] != seq {
		return false, nil
	}
	ls.mu.Lock()
	ls.seq, ls.expires = seq, rec.Expires
	ls.mu.Unlock()
	l.prune(ctx, ls.name, seqs)
	return true, nil
}

// settle decides a create of seq that returned err by reading the object
// back, a few times, since a concurrent writer's request may still be in
// flight (S3 answers 409 ConditionalRequestConflict meanwhile).
func (ls *Lease) settle(ctx context.Context, seq uint64, err error) (bool, error) {
	key := ls.l.key(ls.name, seq)
	for i := range 4 {
		got, rerr := ls.l.read(ctx, ls.name, seq)
		if rerr == nil {
			return got.Token == ls.token, nil
		}
		if !objstore.IsNotExist(rerr) {
			return false, fmt.Errorf("create %s: %w (and reading it back: %v)", key, err, rerr)
		}
		if serr := ctxsleep.Sleep(ctx, time.Duration(25<<i)*time.Millisecond); serr != nil {
			return false, serr
		}
	}
	return false, fmt.Errorf("create %s: %w", key, err)
}

// Renew extends the lease by the TTL from now. It returns an error
// wrapping ErrLost when another holder took the lock, and a plain error
// when the store could not be reached (the lease may still be held; try
// again before it expires).
func (ls *Lease) Renew(ctx context.Context) error {
	ls.writes.Lock()
	defer ls.writes.Unlock()
	ls.mu.Lock()
	lost, seq := ls.lost, ls.seq
	ls.mu.Unlock()
	if lost != nil {
		return lost
	}
	ok, err := ls.create(ctx, seq+1, false)
	if err != nil {
		return fmt.Errorf("renew lock %s: %w", ls.name, err)
	}
	if !ok {
		return ls.markLost(ctx, seq+1)
	}
	return nil
}

func (ls *Lease) markLost(ctx context.Context, seq uint64) error {
	err := fmt.Errorf("lock %s: %w", ls.name, ErrLost)
	if rec, rerr := ls.l.read(ctx, ls.name, seq); rerr == nil {
		err = fmt.Errorf("lock %s: %w (now held by %s)", ls.name, ErrLost, rec.Holder)
	}
	ls.mu.Lock()
	ls.lost = err
	ls.mu.Unlock()
	return err
}

// Release gives the lock up. Releasing a lost lease does nothing.
func (ls *Lease) Release(ctx context.Context) error {
	ls.writes.Lock()
	defer ls.writes.Unlock()
	ls.mu.Lock()
	lost, seq := ls.lost, ls.seq
	ls.mu.Unlock()
	if lost != nil {
		return nil
	}
	ok, err := ls.create(ctx, seq+1, true)
	ls.mu.Lock()
	ls.lost = fmt.Errorf("lock %s: released", ls.name)
	ls.mu.Unlock()
	if err != nil {
		return fmt.Errorf("release lock %s: %w", ls.name, err)
	}
	_ = ok // not ours any more either way
	return nil
}

// Expires is when the lease lapses unless renewed.
func (ls *Lease) Expires() time.Time {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.expires
}

// Holder is the holder description the lease was taken with.
func (ls *Lease) Holder() string { return ls.holder }

// Keep renews the lease every third of its TTL until stop is called or ctx
// ends. The returned context is cancelled when the lease is lost — with
// cause ErrLost when another holder took it, ErrExpired when the store
// could not be reached to renew it before it expired: whatever runs under
// it must stop.
func (ls *Lease) Keep(ctx context.Context) (kept context.Context, stop func()) {
	kctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(ls.l.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-kctx.Done():
				return
			case <-t.C:
			}
			err := ls.Renew(kctx)
			if err == nil {
				continue
			}
			if errors.Is(err, ErrLost) {
				cancel(err)
				return
			}
			if !ls.l.now().Before(ls.Expires()) {
				cancel(fmt.Errorf("lock %s: %w: %v", ls.name, ErrExpired, err))
				return
			}
		}
	}()
	return kctx, sync.OnceFunc(func() {
		close(done)
		<-finished
		cancel(nil)
	})
}

func (l *Locker) key(name string, seq uint64) string {
	return fmt.Sprintf("%s/%s/lease-%020d", l.prefix, name, seq)
}

// list returns the lease numbers of name, ascending.
func (l *Locker) list(ctx context.Context, name string) ([]uint64, error) {
	var seqs []uint64
	prefix := l.prefix + "/" + name + "/"
	err := l.s.Iter(ctx, prefix, func(key string) error {
		n, ok := strings.CutPrefix(path.Base(key), "lease-")
		if !ok {
			return nil
		}
		if seq, err := strconv.ParseUint(n, 10, 64); err == nil {
			seqs = append(seqs, seq)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list leases %s: %w", prefix, err)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

func (l *Locker) read(ctx context.Context, name string, seq uint64) (*record, error) {
	key := l.key(name, seq)
	rc, err := l.s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var rec record
	if err := json.NewDecoder(rc).Decode(&rec); err != nil {
		return nil, fmt.Errorf("decode lease %s: %w", key, err)
	}
	return &rec, nil
}

// prune deletes all but the two highest leases; best effort, since a
// leftover only costs a listing entry.
func (l *Locker) prune(ctx context.Context, name string, seqs []uint64) {
	for i := 0; i+2 < len(seqs); i++ {
		_ = l.s.Delete(ctx, l.key(name, seqs[i]))
	}
}

// State is a lock's current holder, for status displays.
type State struct {
	Holder   string    `json:"holder"`
	Expires  time.Time `json:"expires"`
	Released bool      `json:"released"`
	Held     bool      `json:"held"` // unexpired and not released
}

// Inspect returns the state of lock name, or nil if it was never taken.
func (l *Locker) Inspect(ctx context.Context, name string) (*State, error) {
	seqs, err := l.list(ctx, name)
	if err != nil || len(seqs) == 0 {
		return nil, err
	}
	rec, err := l.read(ctx, name, seqs[len(seqs)-1])
	if err != nil {
		return nil, err
	}
	return &State{Holder: rec.Holder, Expires: rec.Expires, Released: rec.Released, Held: !rec.free(l.now())}, nil
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}
