package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mem is an in-memory Bucket for tests. Stored bytes are never modified
// after Upload (a replace swaps in a new slice), so readers handed out
// earlier keep seeing the version they opened, as with the other backends.
// Its ETag is the hex SHA-256 of the content.
type Mem struct {
	mu   sync.RWMutex
	objs map[string]memObject
}

type memObject struct {
	data    []byte
	etag    string
	modTime time.Time
}

var _ ConditionalUploader = (*Mem)(nil)

// NewMem returns an empty in-memory bucket.
func NewMem() *Mem {
	return &Mem{objs: make(map[string]memObject)}
}

func (m *Mem) lookup(ctx context.Context, op, key string) (memObject, error) {
	if err := ctx.Err(); err != nil {
		return memObject{}, fmt.Errorf("%s %s: %w", op, key, err)
	}
	if err := ValidateKey(key); err != nil {
		return memObject{}, fmt.Errorf("%s: %w", op, err)
	}
	m.mu.RLock()
	o, ok := m.objs[key]
	m.mu.RUnlock()
	if !ok {
		return memObject{}, fmt.Errorf("%s %s: %w", op, key, ErrNotExist)
	}
	return o, nil
}

// Get returns a reader over the object's current content.
func (m *Mem) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := m.lookup(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// ReaderAt returns a *bytes.Reader over the object's current content.
func (m *Mem) ReaderAt(ctx context.Context, key string) (io.ReaderAt, int64, error) {
	o, err := m.lookup(ctx, "reader at", key)
	if err != nil {
		return nil, 0, err
	}
	return bytes.NewReader(o.data), int64(len(o.data)), nil
}

// Attributes returns the object's size, content hash and upload time.
func (m *Mem) Attributes(ctx context.Context, key string) (Attrs, error) {
	o, err := m.lookup(ctx, "attributes", key)
	if err != nil {
		return Attrs{}, err
	}
	return Attrs{Size: int64(len(o.data)), ETag: o.etag, ModTime: o.modTime}, nil
}

// read drains r before the lock is taken, so a slow reader never blocks
// other callers.
func (m *Mem) read(ctx context.Context, key string, r io.Reader) (memObject, error) {
	if err := ctx.Err(); err != nil {
		return memObject{}, err
	}
	if err := ValidateKey(key); err != nil {
		return memObject{}, err
	}
	data, err := io.ReadAll(ctxReader{ctx, r})
	if err != nil {
		return memObject{}, err
	}
	if err := ctx.Err(); err != nil {
		return memObject{}, err
	}
	sum := sha256.Sum256(data)
	return memObject{data: data, etag: hex.EncodeToString(sum[:]), modTime: time.Now()}, nil
}

// Upload stores a private copy of r's content under key.
func (m *Mem) Upload(ctx context.Context, key string, r io.Reader) error {
	o, err := m.read(ctx, key, r)
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	m.mu.Lock()
	m.objs[key] = o
	m.mu.Unlock()
	return nil
}

// UploadIfAbsent stores r's content under key unless the key is taken.
func (m *Mem) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	o, err := m.read(ctx, key, r)
	if err != nil {
		return false, fmt.Errorf("upload if absent %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok {
		return false, nil
	}
	m.objs[key] = o
	return true, nil
}

// Delete removes key if present.
func (m *Mem) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	m.mu.Lock()
	delete(m.objs, key)
	m.mu.Unlock()
	return nil
}

// Iter calls fn on a sorted snapshot of the matching keys, taken before the
// first call, so fn may itself use the bucket.
func (m *Mem) Iter(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("iter %q: %w", prefix, err)
	}
	m.mu.RLock()
	var keys []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.RUnlock()
	slices.Sort(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("iter %q: %w", prefix, err)
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// Clone returns a bucket holding the same objects as m now: tests set up a
// state once and run many scenarios from copies of it. Stored bytes are
// immutable, so the copy shares them.
func (m *Mem) Clone() *Mem {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := &Mem{objs: make(map[string]memObject, len(m.objs))}
	for k, o := range m.objs {
		c.objs[k] = o
	}
	return c
}
