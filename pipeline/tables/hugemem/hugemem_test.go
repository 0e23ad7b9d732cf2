package hugemem

import (
	"testing"
	"time"
	"unsafe"
)

func TestMake(t *testing.T) {
	small := Make[int64](10)
	if len(small) != 10 || cap(small) != 10 {
		t.Errorf("small: len %d cap %d", len(small), cap(small))
	}
	big := Make[float64](3 << 20)
	if len(big) != 3<<20 || cap(big) != 3<<20 {
		t.Errorf("big: len %d cap %d", len(big), cap(big))
	}
	if uintptr(unsafe.Pointer(&big[0]))%Size != 0 {
		t.Error("big slice not aligned to a huge page")
	}
	for i, v := range big {
		if v != 0 {
			t.Fatalf("element %d is %v", i, v)
		}
	}
	big[len(big)-1] = 1 // writable to the end
}

// TestPopulateKeepsContents: faulting a slice in changes nothing it holds,
// written or not, and reports no negative time.
func TestPopulateKeepsContents(t *testing.T) {
	v := Make[int64](3 << 20)
	for i := 0; i < len(v); i += 1000 {
		v[i] = int64(i)
	}
	if d := Populate(v); d < 0 {
		t.Errorf("populate took %v", d)
	}
	for i := range v {
		want := int64(0)
		if i%1000 == 0 {
			want = int64(i)
		}
		if v[i] != want {
			t.Fatalf("element %d is %d after populate, want %d", i, v[i], want)
		}
	}
}

// TestPays: without hits, faulting slower than SlowHuge loses; memory hit
// often enough keeps huge pages at the same cost, but not at any cost.
func TestPays(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name  string
		cost  time.Duration // per MiB
		hits  float64       // per MiB
		wants bool
	}{
		{"ready huge pages, hits unknown", 200 * time.Microsecond, 0, true},
		{"slow huge pages, hits unknown", 2 * time.Millisecond, 0, false},
		{"slow huge pages, few hits", 2 * time.Millisecond, 10_000, false},
		{"slow huge pages, 20 hits a 192-byte record", 2 * time.Millisecond, 20 * mib / 192, true},
		{"very slow huge pages, 20 hits a 192-byte record", 8 * time.Millisecond, 20 * mib / 192, false},
	} {
		if got := Pays(tc.cost*64, 64*mib, tc.hits); got != tc.wants {
			t.Errorf("%s: Pays = %v, want %v", tc.name, got, tc.wants)
		}
	}
}
