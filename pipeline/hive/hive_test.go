package hive

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
)

func TestDate(t *testing.T) {
	cases := []struct {
		key, want string
		ok        bool
	}{
		{"orders/dt=2025-06-30/part-0.parquet", "2025-06-30", true},
		{"orders/dt=20250630/part-0.parquet", "2025-06-30", true},
		{"orders/DATE=2025-06-30/x.csv", "2025-06-30", true},
		{"orders/region=eu/ds=2025-01-02/hour=3/x.csv", "2025-01-02", true},
		{"orders/part-0.parquet", "", false},
		{"orders/dt=yesterday/part-0.parquet", "", false},
		{"orders/dt=2025-02-30/part-0.parquet", "", false}, // not a calendar day
		{"dt=2025-06-30.parquet", "", false},               // a file name is not a partition
		{"orders/dt=2025-06-30", "", false},
	}
	for _, tc := range cases {
		got, ok := Date(tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Date(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestWindowPrunesListings(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMem()
	keys := []string{
		"orders/dt=2025-06-28/a.parquet",
		"orders/dt=2025-06-29/a.parquet",
		"orders/dt=2025-06-30/a.parquet",
		"orders/dt=2025-06-30/b.parquet",
		"orders/dt=2025-07-01/a.parquet",
		"orders/dt=2025-12-31/a.parquet",
		"orders/dt=garbage/a.parquet",
		"orders/loose.parquet",
	}
	for _, k := range keys {
		if err := mem.Upload(ctx, k, bytes.NewReader([]byte(k))); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		from, to string
		want     []string
	}{
		{"up to the as-of date", "", "2025-06-30", []string{keys[0], keys[1], keys[2], keys[3], keys[6], keys[7]}},
		{"a closed window", "2025-06-29", "2025-07-01", []string{keys[1], keys[2], keys[3], keys[4], keys[6], keys[7]}},
		{"open", "", "", keys},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWindow(mem, tc.from, tc.to)
			got, err := objstore.List(ctx, w, "orders/")
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("listed %q\nwant %q", got, want)
			}
			if int(w.Pruned()) != len(keys)-len(want) {
				t.Errorf("Pruned() = %d, want %d", w.Pruned(), len(keys)-len(want))
			}
		})
	}
}
