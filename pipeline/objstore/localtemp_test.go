package objstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalRemovesDeadWritersTemp: listing a prefix removes the temp files
// of writers that no longer run (a SIGKILLed upload's), keeps those of
// live writers and those whose name carries no pid, and lists none.
func TestLocalRemovesDeadWritersTemp(t *testing.T) {
	root := t.TempDir()
	b, err := NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	const dead, live = 4_000_001, 4_000_002
	b.alive = func(pid int) bool { return pid != dead }
	ctx := context.Background()
	if err := b.Upload(ctx, "t/dt=1/part-0", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		kept bool
	}{
		{fmt.Sprintf("%s%d-123", tmpPrefix, dead), false},
		{fmt.Sprintf("%s%d-456", tmpPrefix, live), true},
		{fmt.Sprintf("%s%d-789", tmpPrefix, os.Getpid()), true},
		{tmpPrefix + "123", true},   // no pid: an older release's
		{tmpPrefix + "x-123", true}, // no pid
	}
	dir := filepath.Join(root, "t", "dt=1")
	for _, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, c.name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := List(ctx, b, "t/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "t/dt=1/part-0" {
		t.Fatalf("List = %q, want only the object", keys)
	}
	for _, c := range cases {
		_, err := os.Stat(filepath.Join(dir, c.name))
		if kept := err == nil; kept != c.kept {
			t.Errorf("%s: kept %v, want %v", c.name, kept, c.kept)
		}
	}
}

// TestTempNameCarriesPid: the temp files an upload writes are named with
// its process's pid, which is what the clean-up reads back.
func TestTempNameCarriesPid(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), tempPattern())
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if pid, ok := tempOwner(filepath.Base(f.Name())); !ok || pid != os.Getpid() {
		t.Fatalf("tempOwner(%s) = %d, %v; want %d", filepath.Base(f.Name()), pid, ok, os.Getpid())
	}
}
