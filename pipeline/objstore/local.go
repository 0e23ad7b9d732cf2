package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tmpPrefix marks files that an Upload is still writing. Iter skips them and
// keys whose last segment starts with it are rejected, so a half-written
// object can never be listed or read.
const tmpPrefix = ".objstore-tmp-"

// Local is a Bucket backed by a directory on a local filesystem: the key
// "a/b/c" is the file ROOT/a/b/c. It is meant for tests, single-machine runs
// and the CLI, and it keeps the Bucket contract (atomic replace, lexical
// listing) rather than mirroring whatever is on disk.
//
// Because keys become paths, a key cannot also be a "directory" of another
// key: with "a" stored, uploading "a/b" fails (S3 allows both).
//
// ETags are derived from the file's metadata, not its content, so that
// Attributes on a multi-gigabyte Parquet file stays a single stat: they are
// the hex of size, modification time in nanoseconds and, on Unix, the inode
// number. Every Upload writes a new inode (temp file + rename) and stamps the
// file's mtime with the Go clock's full nanosecond precision rather than the
// kernel's coarser tick, so a replaced object always gets a new ETag; equal
// content uploaded twice gets different ETags, which the contract allows.
type Local struct {
	root string
	// alive reports whether process pid is running; a temp file whose
	// writer is not is removed when its directory is listed. A field, so
	// a test can say which writers are dead.
	alive func(pid int) bool
}

var _ ConditionalUploader = (*Local)(nil)

// NewLocal returns a Local bucket rooted at root, creating the directory if
// needed.
func NewLocal(root string) (*Local, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local bucket %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("local bucket %s: %w", root, err)
	}
	return &Local{root: abs, alive: processAlive}, nil
}

// tempPattern is the os.CreateTemp pattern of this process's temp files:
// the writer's pid is in the name, so that a later listing can tell the
// files of a writer that died (SIGKILL, OOM, power loss) from those of
// one still writing, here or in another process, without a clock.
func tempPattern() string { return fmt.Sprintf("%s%d-*", tmpPrefix, os.Getpid()) }

// tempOwner is the pid in a temp file's name, or false for a name
// without one (an older release's, which is left alone: its writer can
// not be told).
func tempOwner(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, tmpPrefix)
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// removeDeadTemp removes the temp file dir/name when the process that
// was writing it no longer runs. Failure is no error: the file stays
// unlisted either way.
func (l *Local) removeDeadTemp(dir, name string) {
	pid, ok := tempOwner(name)
	if !ok || l.alive == nil || l.alive(pid) {
		return
	}
	os.Remove(filepath.Join(dir, name))
}

// Root returns the absolute directory the bucket stores its objects in.
func (l *Local) Root() string { return l.root }

func (l *Local) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if strings.HasPrefix(lastSegment(key), tmpPrefix) {
		return "", fmt.Errorf("object key %q uses the reserved prefix %q", key, tmpPrefix)
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// lastSegment is path.Base for keys that ValidateKey accepted.
func lastSegment(key string) string {
	return key[strings.LastIndexByte(key, '/')+1:]
}

// notExist turns the errors a filesystem gives for a missing file into ones
// that wrap ErrNotExist. ENOTDIR shows up when a parent "directory" of the key
// is really a file, which for an object store is just another missing key.
func notExist(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s %s: %w", op, key, ErrNotExist)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// openFile opens key's file for reading; a directory counts as missing.
func (l *Local) openFile(ctx context.Context, op, key string) (*os.File, os.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", op, key, err)
	}
	p, err := l.path(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, notExist(op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s %s: %w", op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s %s: %w", op, key, ErrNotExist)
	}
	return f, fi, nil
}

// Get opens the object's file. An Upload replacing it meanwhile does not
// disturb the reader: the open file is the old inode.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := l.openFile(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ReaderAt returns the object's *os.File, which the caller closes.
func (l *Local) ReaderAt(ctx context.Context, key string) (io.ReaderAt, int64, error) {
	f, fi, err := l.openFile(ctx, "reader at", key)
	if err != nil {
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// Attributes stats the object's file; see Local for how the ETag is made.
func (l *Local) Attributes(ctx context.Context, key string) (Attrs, error) {
	if err := ctx.Err(); err != nil {
		return Attrs{}, fmt.Errorf("attributes %s: %w", key, err)
	}
	p, err := l.path(key)
	if err != nil {
		return Attrs{}, fmt.Errorf("attributes: %w", err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Attrs{}, notExist("attributes", key, err)
	}
	if !fi.Mode().IsRegular() {
		return Attrs{}, fmt.Errorf("attributes %s: %w", key, ErrNotExist)
	}
	return Attrs{
		Size:    fi.Size(),
		ETag:    fmt.Sprintf("%x-%x-%x", fi.Size(), fi.ModTime().UnixNano(), inode(fi)),
		ModTime: fi.ModTime(),
	}, nil
}

// Upload writes r to a temp file beside the target, fsyncs it and renames it
// into place, so readers see the old object or the new one, never a prefix,
// and a crash leaves at most an unlisted temp file behind.
func (l *Local) Upload(ctx context.Context, key string, r io.Reader) error {
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	tmp, err := l.writeTemp(ctx, p, r)
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("upload %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

// UploadIfAbsent writes r to a temp file and hard-links it to the key's path;
// link(2) fails with EEXIST instead of replacing, which makes the create
// atomic and exclusive without any lock. Filesystems without hard links are
// not supported.
func (l *Local) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	p, err := l.path(key)
	if err != nil {
		return false, fmt.Errorf("upload if absent: %w", err)
	}
	// A cheap early answer for the common contended case; the link below is
	// what actually decides.
	if _, err := os.Lstat(p); err == nil {
		return false, nil
	}
	tmp, err := l.writeTemp(ctx, p, r)
	if err != nil {
		return false, fmt.Errorf("upload if absent %s: %w", key, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("upload if absent %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return true, fmt.Errorf("upload if absent %s: %w", key, err)
	}
	return true, nil
}

// writeTemp copies r into a synced temp file in p's directory and returns its
// path. The caller renames or links it into place.
func (l *Local) writeTemp(ctx context.Context, p string, r io.Reader) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dir := filepath.Dir(p)
	var f *os.File
	// A concurrent Delete may prune dir between MkdirAll and CreateTemp;
	// trying again recreates it.
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		var err error
		f, err = os.CreateTemp(dir, tempPattern())
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			return "", err
		}
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	wb := &writebackFile{f: f}
	if _, err := io.CopyBuffer(wb, ctxReader{ctx, r}, make([]byte, 256<<10)); err != nil {
		return fail(err)
	}
	// CreateTemp uses 0600; objects should be as readable as any other file.
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	// Stamp mtime with the Go clock: the kernel's file timestamps can be a
	// scheduler tick coarse, and the ETag depends on them changing.
	now := time.Now()
	if err := os.Chtimes(name, now, now); err != nil {
		os.Remove(name)
		return "", err
	}
	if err := ctx.Err(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// Delete removes the object's file and then every parent directory that is
// left empty, up to but not including the root, so that deleted prefixes do
// not linger as empty directories.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a "directory" of other keys, not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	// rmdir fails on a non-empty directory, which is exactly where pruning
	// must stop; failures here are therefore not errors.
	for dir := filepath.Dir(p); dir != l.root && strings.HasPrefix(dir, l.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// Iter walks the directories under prefix. Sibling entries are visited in the
// order of their key text, a directory "a" sorting as "a/", which yields
// exact lexical key order ("a-c" before "a/b") without collecting all keys
// first.
func (l *Local) Iter(ctx context.Context, prefix string, fn func(key string) error) error {
	// Start at the deepest directory the prefix names in full; the rest of
	// the prefix ("dt=2024" in "x/dt=2024") filters names inside it.
	dirKey := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey = prefix[:i+1]
		// No valid key lies under an invalid directory part ("../",
		// "a//"), and walking it could leave the root.
		if ValidateKey(dirKey[:i]) != nil {
			return ctx.Err()
		}
	}
	// The root's real path stops a link back up to it or above.
	var links []string
	if real, err := filepath.EvalSymlinks(l.root); err == nil {
		links = []string{real}
	}
	err := l.walk(ctx, dirKey, prefix, fn, links)
	var stop errStop
	if errors.As(err, &stop) {
		return stop.err
	}
	if err != nil {
		return fmt.Errorf("iter %q: %w", prefix, err)
	}
	return nil
}

// errStop carries fn's error up through walk so that Iter can return it
// exactly as fn did.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// walk lists dirKey's directory. A symbolic link is followed: a shop's
// export linked into the input directory is an object like any other, not
// a file skipped without a word. links are the real paths of the linked
// directories walk is inside, so that a link leading back into one of
// them is an error rather than an endless walk; a dangling link is an
// error too.
func (l *Local) walk(ctx context.Context, dirKey, prefix string, fn func(string) error, links []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(l.root, filepath.FromSlash(dirKey))
	entries, err := os.ReadDir(dir)
	if err != nil {
		// A prefix naming no directory, or one pruned by a concurrent
		// Delete, simply has no objects.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return err
	}
	type entry struct {
		sortKey string
		dir     bool
		real    string // a linked directory's real path
	}
	list := make([]entry, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			list = append(list, entry{dirKey + name + "/", true, ""})
		case e.Type().IsRegular() && strings.HasPrefix(name, tmpPrefix):
			// A killed writer's temp file would stay forever: no
			// later upload reuses its name.
			l.removeDeadTemp(dir, name)
		case e.Type().IsRegular():
			list = append(list, entry{dirKey + name, false, ""})
		case e.Type()&fs.ModeSymlink != 0:
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				return fmt.Errorf("follow the symbolic link %s: %w", dirKey+name, err)
			}
			switch {
			case fi.IsDir():
				real, err := filepath.EvalSymlinks(filepath.Join(dir, name))
				if err != nil {
					return fmt.Errorf("follow the symbolic link %s: %w", dirKey+name, err)
				}
				list = append(list, entry{dirKey + name + "/", true, real})
			case fi.Mode().IsRegular():
				list = append(list, entry{dirKey + name, false, ""})
			}
		}
	}
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.sortKey, b.sortKey) })
	for _, e := range list {
		if e.dir {
			// Descend only if some key under it can still match.
			if strings.HasPrefix(e.sortKey, prefix) || strings.HasPrefix(prefix, e.sortKey) {
				inner := links
				if e.real != "" {
					if err := linkCycle(links, e.real, e.sortKey); err != nil {
						return err
					}
					inner = append(slices.Clip(links), e.real)
				}
				if err := l.walk(ctx, e.sortKey, prefix, fn, inner); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(e.sortKey, prefix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e.sortKey); err != nil {
			return errStop{err}
		}
	}
	return nil
}

// linkCycle reports a linked directory (real path) that walk is already
// inside, through an earlier link or the root itself.
func linkCycle(links []string, real, key string) error {
	for _, r := range links {
		if real == r || strings.HasPrefix(r, real+string(filepath.Separator)) {
			return fmt.Errorf("follow the symbolic link %s: it leads back to %s, a directory being listed", key, real)
		}
	}
	return nil
}

// syncDir fsyncs a directory so a rename or link in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		// Some filesystems (and Windows) refuse to sync directories; the
		// rename itself has still happened.
		return err
	}
	return nil
}

// ContextReader returns a reader that fails once ctx is done, so a long
// copy from a slow or endless reader stops when the caller gives up, even
// between the requests of a multipart upload.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

// writebackFile writes to f and starts the kernel writing each
// writebackChunk of it to the disk as soon as it is written, so that the
// fsync that ends an upload waits for the last chunk rather than for the
// whole file: the segments table at 1M customers is 77 MB, and its
// fsync, after the table was written, took 41–59 ms alone; 2–8 ms when
// the kernel has been writing it all along.
type writebackFile struct {
	f       *os.File
	written int64 // bytes written
	started int64 // bytes whose writeback was started
}

const writebackChunk = 8 << 20

func (w *writebackFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writebackChunk {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}

// ctxReader is ContextReader's reader.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
