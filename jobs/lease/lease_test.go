package lease

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
)

// clock is a fake clock that moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 7, 1, 2, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func keys(t *testing.T, s objstore.Bucket, prefix string) []string {
	t.Helper()
	k, err := objstore.List(context.Background(), s, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestLeaseLifecycle walks one lock through its states with a fake clock:
// each step says who tries what and what must happen.
func TestLeaseLifecycle(t *testing.T) {
	ctx := context.Background()
	const ttl = time.Minute
	type step struct {
		name    string
		advance time.Duration
		do      func(a, b **Lease, la, lb *Locker) error
		want    error // nil, ErrLocked or ErrLost
	}
	acquire := func(who **Lease, l *Locker, holder string) error {
		ls, err := l.Acquire(ctx, "2025-06-30", holder)
		if err == nil {
			*who = ls
		}
		return err
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"held lock excludes, release frees", []step{
			{"a acquires", 0, func(a, b **Lease, la, lb *Locker) error { return acquire(a, la, "a") }, nil},
			{"b is locked out", 30 * time.Second, func(a, b **Lease, la, lb *Locker) error { return acquire(b, lb, "b") }, ErrLocked},
			{"a releases", 0, func(a, b **Lease, la, lb *Locker) error { return (*a).Release(ctx) }, nil},
			{"b acquires", 0, func(a, b **Lease, la, lb *Locker) error { return acquire(b, lb, "b") }, nil},
			{"a cannot renew a released lease", 0, func(a, b **Lease, la, lb *Locker) error { return (*a).Renew(ctx) }, errors.New("released")},
		}},
		{"renewal keeps the lock past the first expiry", []step{
			{"a acquires", 0, func(a, b **Lease, la, lb *Locker) error { return acquire(a, la, "a") }, nil},
			{"a renews before expiry", 50 * time.Second, func(a, b **Lease, la, lb *Locker) error { return (*a).Renew(ctx) }, nil},
			{"b is locked out after the first ttl", 50 * time.Second, func(a, b **Lease, la, lb *Locker) error { return acquire(b, lb, "b") }, ErrLocked},
			{"a renews again", 0, func(a, b **Lease, la, lb *Locker) error { return (*a).Renew(ctx) }, nil},
			{"b still locked out", 59 * time.Second, func(a, b **Lease, la, lb *Locker) error { return acquire(b, lb, "b") }, ErrLocked},
		}},
		{"a crashed holder blocks only until expiry", []step{
			{"a acquires, then crashes", 0, func(a, b **Lease, la, lb *Locker) error { return acquire(a, la, "a") }, nil},
			{"b is locked out just before expiry", ttl - time.Second, func(a, b **Lease, la, lb *Locker) error { return acquire(b, lb, "b") }, ErrLocked},
			{"b takes the expired lock", time.Second, func(a, b **Lease, la, lb *Locker) error { return acquire(b, lb, "b") }, nil},
		}},
		{"a paused holder learns it lost the lock", []step{
			{"a acquires", 0, func(a, b **Lease, la, lb *Locker) error { return acquire(a, la, "a") }, nil},
			{"b takes over after expiry", 2 * ttl, func(a, b **Lease, la, lb *Locker) error { return acquire(b, lb, "b") }, nil},
			{"a's renewal fails", 0, func(a, b **Lease, la, lb *Locker) error { return (*a).Renew(ctx) }, ErrLost},
			{"and keeps failing", 0, func(a, b **Lease, la, lb *Locker) error { return (*a).Renew(ctx) }, ErrLost},
			{"a's release does not free b's lock", 0, func(a, b **Lease, la, lb *Locker) error { return (*a).Release(ctx) }, nil},
			{"so a new contender is locked out", 0, func(a, b **Lease, la, lb *Locker) error { return acquire(a, la, "a") }, ErrLocked},
			{"b renews", 0, func(a, b **Lease, la, lb *Locker) error { return (*b).Renew(ctx) }, nil},
		}},
		{"an expired lease nobody took can be renewed", []step{
			{"a acquires", 0, func(a, b **Lease, la, lb *Locker) error { return acquire(a, la, "a") }, nil},
			{"a renews late", 3 * ttl, func(a, b **Lease, la, lb *Locker) error { return (*a).Renew(ctx) }, nil},
			{"b is locked out", 0, func(a, b **Lease, la, lb *Locker) error { return acquire(b, lb, "b") }, ErrLocked},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := objstore.NewMem()
			clk := newClock()
			la := New(store, Options{TTL: ttl, Now: clk.Now})
			lb := New(store, Options{TTL: ttl, Now: clk.Now})
			var a, b *Lease
			for _, s := range tc.steps {
				clk.Advance(s.advance)
				err := s.do(&a, &b, la, lb)
				switch {
				case s.want == nil && err != nil:
					t.Fatalf("%s: %v", s.name, err)
				case s.want == ErrLocked || s.want == ErrLost:
					if !errors.Is(err, s.want) {
						t.Fatalf("%s: got %v, want %v", s.name, err, s.want)
					}
				case s.want != nil && (err == nil || !strings.Contains(err.Error(), s.want.Error())):
					t.Fatalf("%s: got %v, want an error saying %q", s.name, err, s.want)
				}
			}
		})
	}
}

func TestLockedErrorNamesHolder(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	clk := newClock()
	l := New(store, Options{Now: clk.Now})
	if _, err := l.Acquire(ctx, "2025-06-30", "host-a/pid 12/run r1"); err != nil {
		t.Fatal(err)
	}
	_, err := l.Acquire(ctx, "2025-06-30", "host-b")
	var le *LockedError
	if !errors.As(err, &le) || le.Holder != "host-a/pid 12/run r1" || !le.Expires.Equal(clk.Now().Add(DefaultTTL)) {
		t.Fatalf("got %v, want a LockedError naming host-a until %v", err, clk.Now().Add(DefaultTTL))
	}
	if !strings.Contains(err.Error(), "locked by host-a/pid 12/run r1 until 2025-07-01T02:01:00Z") {
		t.Errorf("message: %v", err)
	}
	st, err := l.Inspect(ctx, "2025-06-30")
	if err != nil || st == nil || !st.Held || st.Holder != "host-a/pid 12/run r1" {
		t.Errorf("Inspect: %+v, %v", st, err)
	}
	if st, err := l.Inspect(ctx, "2025-07-01"); st != nil || err != nil {
		t.Errorf("Inspect of a never-taken lock: %+v, %v", st, err)
	}
	if _, err := l.Acquire(ctx, "a/b", "x"); err == nil {
		t.Error("a lock name with a slash was accepted")
	}
}

// TestPruneKeepsTwo: renewals do not grow the lock's directory.
func TestPruneKeepsTwo(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	clk := newClock()
	l := New(store, Options{Now: clk.Now})
	ls, err := l.Acquire(ctx, "d", "a")
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		clk.Advance(10 * time.Second)
		if err := ls.Renew(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := keys(t, store, DefaultPrefix+"/d/")
	want := []string{DefaultPrefix + "/d/lease-00000000000000000020", DefaultPrefix + "/d/lease-00000000000000000021"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lease objects after 20 renewals: %v, want %v", got, want)
	}
}

// TestStaleCreateOfPrunedNumberDoesNotHold: a contender acting on an old
// listing re-creates a number that was pruned; it must not think it holds
// the lock, since a higher lease exists.
func TestStaleCreateOfPrunedNumberDoesNotHold(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	clk := newClock()
	l := New(store, Options{Now: clk.Now})
	holder, err := l.Acquire(ctx, "d", "a")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := holder.Renew(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ks := keys(t, store, DefaultPrefix+"/d/lease-00000000000000000001"); len(ks) != 0 {
		t.Fatalf("lease 1 was not pruned: %v", ks)
	}
	stale := &Lease{l: l, name: "d", holder: "stale", token: newToken()}
	ok, err := stale.create(ctx, 1, false)
	if err != nil || ok {
		t.Fatalf("stale create of pruned lease 1: held=%v err=%v, want not held", ok, err)
	}
	if err := holder.Renew(ctx); err != nil {
		t.Errorf("the real holder lost its lease to a stale create: %v", err)
	}
}

// lostResponse stores the first conditional create of each key but
// reports an error, like a response lost on the way back.
type lostResponse struct {
	*objstore.Mem
	mu   sync.Mutex
	seen map[string]bool
}

func (s *lostResponse) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	ok, err := s.Mem.UploadIfAbsent(ctx, key, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && !s.seen[key] {
		s.seen[key] = true
		return false, errors.New("connection reset by peer")
	}
	return ok, err
}

// TestLostResponseSettledByReadBack: a create that landed but whose
// response was lost is recognised as ours by its token.
func TestLostResponseSettledByReadBack(t *testing.T) {
	ctx := context.Background()
	store := &lostResponse{Mem: objstore.NewMem(), seen: map[string]bool{}}
	clk := newClock()
	l := New(store, Options{Now: clk.Now})
	ls, err := l.Acquire(ctx, "d", "a")
	if err != nil {
		t.Fatalf("acquire through a lost response: %v", err)
	}
	if err := ls.Renew(ctx); err != nil {
		t.Fatalf("renew through a lost response: %v", err)
	}
	if _, err := New(store, Options{Now: clk.Now}).Acquire(ctx, "d", "b"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second holder: %v, want locked", err)
	}
}

// retriedCreate stores the first conditional create of each key but
// answers "already exists", as a client retry does after its first attempt
// landed with its answer lost: the retry meets the object it wrote.
type retriedCreate struct {
	*objstore.Mem
	mu   sync.Mutex
	seen map[string]bool
}

func (s *retriedCreate) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	ok, err := s.Mem.UploadIfAbsent(ctx, key, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && !s.seen[key] {
		s.seen[key] = true
		return false, nil
	}
	return ok, err
}

// TestRetriedCreateIsOurs: a create whose retry found its own object holds
// the lock (found against versitygw behind a proxy answering 503 to every
// third request: the run lost its lease to itself), and someone else's
// lease is still refused.
func TestRetriedCreateIsOurs(t *testing.T) {
	ctx := context.Background()
	store := &retriedCreate{Mem: objstore.NewMem(), seen: map[string]bool{}}
	clk := newClock()
	l := New(store, Options{Now: clk.Now})
	ls, err := l.Acquire(ctx, "d", "a")
	if err != nil {
		t.Fatalf("acquire through a retried create: %v", err)
	}
	for i := range 3 {
		if err := ls.Renew(ctx); err != nil {
			t.Fatalf("renew %d through a retried create: %v", i, err)
		}
	}
	if _, err := New(store, Options{Now: clk.Now}).Acquire(ctx, "d", "b"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second holder: %v, want locked", err)
	}
}

// TestConcurrentAcquireExactlyOneWinner races many contenders for the same
// lock, free and expired, on every backend with conditional writes.
func TestConcurrentAcquireExactlyOneWinner(t *testing.T) {
	backends := []struct {
		name  string
		store func(t *testing.T) Store
	}{
		{"mem", func(t *testing.T) Store { return objstore.NewMem() }},
		{"local", func(t *testing.T) Store {
			b, err := objstore.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"versitygw", func(t *testing.T) Store {
			if testing.Short() {
				t.Skip("versitygw in -short")
			}
			srv := s3test.Start(t)
			return srv.NewBucket(t, "locks", "out")
		}},
	}
	const contenders, rounds = 12, 8
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			store := be.store(t)
			clk := newClock()
			for round := range rounds {
				name := fmt.Sprintf("2025-06-%02d", round+1)
				if round%2 == 1 {
					// An expired lease from a crashed holder: the race is
					// for the takeover.
					if _, err := New(store, Options{Now: clk.Now}).Acquire(ctx, name, "crashed"); err != nil {
						t.Fatal(err)
					}
					clk.Advance(2 * DefaultTTL)
				}
				var winners atomic.Int32
				var wg sync.WaitGroup
				start := make(chan struct{})
				errs := make(chan error, contenders)
				for i := range contenders {
					wg.Add(1)
					go func() {
						defer wg.Done()
						l := New(store, Options{Now: clk.Now})
						<-start
						_, err := l.Acquire(ctx, name, fmt.Sprintf("contender-%d", i))
						switch {
						case err == nil:
							winners.Add(1)
						case !errors.Is(err, ErrLocked):
							errs <- err
						}
					}()
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Errorf("round %d: %v", round, err)
				}
				if n := winners.Load(); n != 1 {
					t.Fatalf("round %d: %d winners, want exactly 1", round, n)
				}
			}
		})
	}
}

// TestKeepCancelsWhenLost: a kept lease renews itself in the background;
// once another holder takes it over, the kept context is cancelled with
// ErrLost as its cause.
func TestKeepCancelsWhenLost(t *testing.T) {
	// In a synctest bubble time is fake: it moves only when every goroutine
	// of the test waits, so the renewals every TTL/3 are never late however
	// busy the machine (with the real clock a loaded machine let the
	// 150 ms lease lapse between two renewals).
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := objstore.NewMem()
		a := New(store, Options{TTL: 150 * time.Millisecond})
		ls, err := a.Acquire(ctx, "d", "a")
		if err != nil {
			t.Fatal(err)
		}
		kept, stop := ls.Keep(ctx)
		defer stop()
		time.Sleep(400 * time.Millisecond) // > 2 TTLs: only renewals keep it
		if _, err := New(store, Options{TTL: 150 * time.Millisecond}).Acquire(ctx, "d", "b"); !errors.Is(err, ErrLocked) {
			t.Fatalf("kept lease was not held after two TTLs: %v", err)
		}
		if kept.Err() != nil {
			t.Fatalf("kept context ended while the lease was held: %v", context.Cause(kept))
		}
		// b's clock runs an hour ahead, so it sees a's lease as expired.
		skewed := func() time.Time { return time.Now().Add(time.Hour) }
		if _, err := New(store, Options{TTL: time.Hour, Now: skewed}).Acquire(ctx, "d", "b"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-kept.Done():
			if !errors.Is(context.Cause(kept), ErrLost) {
				t.Errorf("cause: %v, want ErrLost", context.Cause(kept))
			}
		case <-time.After(2 * time.Second):
			t.Fatal("kept context not cancelled after the lease was taken over")
		}
	})
}

// TestOverlappingRenewalsKeepTheLease: renewals of one lease that overlap
// (Keep's ticker and the renewal before a commit, on a slow store) never
// mistake each other for a rival.
func TestOverlappingRenewalsKeepTheLease(t *testing.T) {
	ctx := context.Background()
	l := New(&slowStore{Mem: objstore.NewMem(), delay: 5 * time.Millisecond}, Options{})
	ls, err := l.Acquire(ctx, "d", "a")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- ls.Renew(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("overlapping renewal: %v", err)
		}
	}
	if _, err := New(objstore.NewMem(), Options{}).Acquire(ctx, "d", "b"); err != nil {
		t.Fatalf("an unrelated store: %v", err)
	}
}

// slowStore delays every listing and conditional create, so that
// concurrent writers interleave.
type slowStore struct {
	*objstore.Mem
	delay time.Duration
}

func (s *slowStore) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	time.Sleep(s.delay)
	return s.Mem.UploadIfAbsent(ctx, key, r)
}

func (s *slowStore) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	time.Sleep(s.delay)
	return s.Mem.Iter(ctx, prefix, fn)
}

// unreachable fails every conditional create once down is set, as a
// store in an outage does.
type unreachable struct {
	*objstore.Mem
	down atomic.Bool
}

func (u *unreachable) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	if u.down.Load() {
		return false, errors.New("put " + key + ": dial tcp: connection refused")
	}
	return u.Mem.UploadIfAbsent(ctx, key, r)
}

// TestKeepExpiresInOutage: a lease that could not be renewed because the
// store was unreachable ends its context with ErrExpired — not ErrLost:
// nobody took it over.
func TestKeepExpiresInOutage(t *testing.T) {
	ctx := context.Background()
	store := &unreachable{Mem: objstore.NewMem()}
	c := newClock()
	ls, err := New(store, Options{TTL: 30 * time.Millisecond, Now: c.Now}).Acquire(ctx, "d", "a")
	if err != nil {
		t.Fatal(err)
	}
	store.down.Store(true)
	c.Advance(time.Minute) // past the expiry, by the lease's clock
	kept, stop := ls.Keep(ctx)
	defer stop()
	<-kept.Done() // at the first renewal, a third of the TTL on
	cause := context.Cause(kept)
	if !errors.Is(cause, ErrExpired) || errors.Is(cause, ErrLost) || !strings.Contains(cause.Error(), "connection refused") {
		t.Errorf("cause %v: want ErrExpired (not ErrLost) with the store's error", cause)
	}
}
