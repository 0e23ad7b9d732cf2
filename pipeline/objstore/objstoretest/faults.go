package objstoretest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// Storage call kinds, as an S3 client would send them.
const (
	OpGet    = "GET"    // Get, ReaderAt
	OpHead   = "HEAD"   // Attributes
	OpList   = "LIST"   // Iter
	OpPut    = "PUT"    // Upload, UploadIfAbsent
	OpDelete = "DELETE" // Delete
)

// Call is one storage call a Faults bucket saw.
type Call struct{ Op, Key string }

// Mutates reports whether the call changes the store; for the others an
// interruption after the call is the same as one before it.
func (c Call) Mutates() bool { return c.Op == OpPut || c.Op == OpDelete }

func (c Call) String() string { return c.Op + " " + c.Key }

// Mode is how a Faults bucket interrupts a call.
type Mode int

// Modes. "Before" leaves the store as it was; "after" lets the call take
// effect and then loses its result, as a response lost on the way back.
const (
	// FailBefore fails the call; later calls succeed (a transient error).
	FailBefore Mode = iota + 1
	// FailAfter lets the call take effect, then fails it.
	FailAfter
	// Cancel cancels the caller's context (SIGTERM, a lost lease) just
	// before the call, which then sees a cancelled context if its context
	// derives from the cancelled one.
	Cancel
	// CrashBefore is SIGKILL before the call: it and every later call
	// fail without effect, whatever their context.
	CrashBefore
	// CrashAfter is SIGKILL once the call took effect.
	CrashAfter
)

// Modes lists every Mode.
var Modes = []Mode{FailBefore, FailAfter, Cancel, CrashBefore, CrashAfter}

func (m Mode) String() string {
	switch m {
	case FailBefore:
		return "fail-before"
	case FailAfter:
		return "fail-after"
	case Cancel:
		return "cancel"
	case CrashBefore:
		return "crash-before"
	case CrashAfter:
		return "crash-after"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// After reports whether the mode lets the call take effect: it differs
// from its "before" twin only for calls that mutate.
func (m Mode) After() bool { return m == FailAfter || m == CrashAfter }

// ErrInjected is the error of an injected failure.
var ErrInjected = errors.New("injected storage fault")

// ErrCrashed is the error of every call after an injected crash.
var ErrCrashed = errors.New("injected crash: the process is gone")

// Faults is a Bucket that records every call and interrupts the At-th
// (1-based; 0 never) as Mode says. Tests use it to interrupt a protocol
// at every storage call in turn: run once with At 0 to learn the calls,
// then once per call and mode. It is a ConditionalUploader when the
// wrapped bucket is.
type Faults struct {
	objstore.Bucket
	At   int
	Mode Mode
	// CancelFunc is called by the Cancel mode.
	CancelFunc context.CancelFunc

	mu      sync.Mutex
	calls   []Call
	crashed bool
}

// Calls returns the calls seen so far, in order.
func (f *Faults) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Hit reports whether the fault has fired.
func (f *Faults) Hit() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.At > 0 && len(f.calls) >= f.At
}

// do runs call as the next call of op on key, interrupting it if it is
// the At-th.
func (f *Faults) do(ctx context.Context, op, key string, call func() error) error {
	f.mu.Lock()
	if f.crashed {
		f.mu.Unlock()
		return fmt.Errorf("%s %s: %w", op, key, ErrCrashed)
	}
	f.calls = append(f.calls, Call{op, key})
	hit := f.At > 0 && len(f.calls) == f.At
	if hit && (f.Mode == CrashBefore || f.Mode == CrashAfter) {
		f.crashed = true // no later call gets through; this one may
	}
	f.mu.Unlock()
	if hit {
		switch f.Mode {
		case FailBefore, CrashBefore:
			return fmt.Errorf("%s %s: %w", op, key, ErrInjected)
		case Cancel:
			if f.CancelFunc != nil {
				f.CancelFunc()
			}
		}
	}
	// A real client does not send a request on a cancelled context.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	err := call()
	if hit && f.Mode.After() && err == nil {
		return fmt.Errorf("%s %s took effect, but: %w", op, key, ErrInjected)
	}
	return err
}

func (f *Faults) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	return f.do(ctx, OpList, prefix, func() error { return f.Bucket.Iter(ctx, prefix, fn) })
}

func (f *Faults) Get(ctx context.Context, key string) (rc io.ReadCloser, err error) {
	err = f.do(ctx, OpGet, key, func() error { rc, err = f.Bucket.Get(ctx, key); return err })
	if err != nil && rc != nil {
		rc.Close()
		rc = nil
	}
	return rc, err
}

func (f *Faults) ReaderAt(ctx context.Context, key string) (ra io.ReaderAt, size int64, err error) {
	err = f.do(ctx, OpGet, key, func() error { ra, size, err = f.Bucket.ReaderAt(ctx, key); return err })
	if err != nil {
		if c, ok := ra.(io.Closer); ok {
			c.Close()
		}
		return nil, 0, err
	}
	return ra, size, nil
}

func (f *Faults) Upload(ctx context.Context, key string, r io.Reader) error {
	return f.do(ctx, OpPut, key, func() error { return f.Bucket.Upload(ctx, key, r) })
}

func (f *Faults) Delete(ctx context.Context, key string) error {
	return f.do(ctx, OpDelete, key, func() error { return f.Bucket.Delete(ctx, key) })
}

func (f *Faults) Attributes(ctx context.Context, key string) (a objstore.Attrs, err error) {
	err = f.do(ctx, OpHead, key, func() error { a, err = f.Bucket.Attributes(ctx, key); return err })
	return a, err
}

// UploadIfAbsent is the wrapped bucket's, or an error if it has none.
func (f *Faults) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (created bool, err error) {
	c, ok := f.Bucket.(objstore.ConditionalUploader)
	if !ok {
		return false, errors.New("objstoretest: the wrapped bucket has no conditional uploads")
	}
	err = f.do(ctx, OpPut, key, func() error { created, err = c.UploadIfAbsent(ctx, key, r); return err })
	return created, err
}

var _ objstore.ConditionalUploader = (*Faults)(nil)
