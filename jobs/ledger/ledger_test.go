package ledger

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
)

func TestPutGetList(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	l := New(store)
	t0 := time.Date(2025, 7, 1, 2, 0, 0, 0, time.UTC)
	recs := []*Record{
		{ID: "20250701T020000Z-aaaa", AsOf: "2025-06-30", Trigger: Schedule, Status: Running, StartedAt: t0},
		{ID: "20250701T020500Z-bbbb", AsOf: "2025-06-29", Trigger: Backfill, Status: Skipped, StartedAt: t0.Add(5 * time.Minute)},
		{ID: "20250702T020000Z-cccc", AsOf: "2025-06-30", Trigger: API, Status: Running, StartedAt: t0.Add(24 * time.Hour)},
	}
	for _, r := range recs {
		if err := l.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Attributes(ctx, "_strata/runs/dt=2025-06-30/20250701T020000Z-aaaa.json"); err != nil {
		t.Errorf("record not at its documented key: %v", err)
	}
	recs[0].Finish(Succeeded, t0.Add(90*time.Second))
	if err := l.Put(ctx, recs[0]); err != nil {
		t.Fatal(err)
	}
	got, err := l.Get(ctx, "20250701T020000Z-aaaa")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Succeeded || got.DurationSeconds != 90 || got.FinishedAt == nil {
		t.Errorf("Get after finish: %+v", got)
	}
	for _, id := range []string{"nope", "../x", ""} {
		if _, err := l.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}

	cases := []struct {
		q    Query
		want []string
	}{
		{Query{}, []string{"20250702T020000Z-cccc", "20250701T020500Z-bbbb", "20250701T020000Z-aaaa"}},
		{Query{Limit: 2}, []string{"20250702T020000Z-cccc", "20250701T020500Z-bbbb"}},
		{Query{AsOf: "2025-06-30"}, []string{"20250702T020000Z-cccc", "20250701T020000Z-aaaa"}},
		{Query{AsOf: "2025-01-01"}, nil},
	}
	for _, tc := range cases {
		list, err := l.List(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range list {
			ids = append(ids, r.ID)
		}
		if len(ids) != len(tc.want) {
			t.Errorf("List(%+v) = %v, want %v", tc.q, ids, tc.want)
			continue
		}
		for i := range ids {
			if ids[i] != tc.want[i] {
				t.Errorf("List(%+v) = %v, want %v", tc.q, ids, tc.want)
				break
			}
		}
	}
	if err := l.Put(ctx, &Record{ID: "a/b", AsOf: "2025-06-30"}); err == nil {
		t.Error("Put accepted an id with a slash")
	}
}

func TestAbandoned(t *testing.T) {
	ctx := context.Background()
	l := New(objstore.NewMem())
	t0 := time.Date(2025, 7, 1, 2, 0, 0, 0, time.UTC)
	for _, r := range []*Record{
		{ID: "r1", AsOf: "2025-06-30", Status: Running, StartedAt: t0},   // crashed
		{ID: "r2", AsOf: "2025-06-30", Status: Succeeded, StartedAt: t0}, // finished
		{ID: "r3", AsOf: "2025-06-30", Status: Running, StartedAt: t0},   // the caller's own
		{ID: "r4", AsOf: "2025-06-29", Status: Running, StartedAt: t0},   // another date
		{ID: "r5", AsOf: "2025-06-30", Status: Running, StartedAt: t0},   // crashed after its commit
	} {
		if err := l.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	marked, err := l.Abandoned(ctx, "2025-06-30", "r3", "r5", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(marked) != 2 {
		t.Fatalf("marked %v, want r1 and r5", marked)
	}
	want := map[string]Status{"r1": Failed, "r2": Succeeded, "r3": Running, "r4": Running, "r5": Succeeded}
	for id, st := range want {
		r, err := l.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != st {
			t.Errorf("%s: %s, want %s", id, r.Status, st)
		}
	}
	if r, _ := l.Get(ctx, "r1"); r.Error == "" || r.FinishedAt == nil {
		t.Errorf("abandoned record says nothing: %+v", r)
	}
	if r, _ := l.Get(ctx, "r5"); r.Error != "" || r.Note == "" || r.FinishedAt == nil || r.ExitCode != 0 {
		t.Errorf("the published run's record: %+v", r)
	}
}

// TestPublished: a run recorded as failed whose manifest landed is
// corrected to succeeded, once; other records are left alone.
func TestPublished(t *testing.T) {
	ctx := context.Background()
	l := New(objstore.NewMem())
	t0 := time.Date(2025, 7, 1, 2, 0, 0, 0, time.UTC)
	for _, r := range []*Record{
		{ID: "late", AsOf: "2025-06-30", Status: Failed, ExitCode: 1, Error: "context canceled", StartedAt: t0, FinishedAt: &t0},
		{ID: "ok", AsOf: "2025-06-30", Status: Succeeded, StartedAt: t0},
	} {
		if err := l.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		id      string
		changed bool
	}{{"late", true}, {"late", false}, {"ok", false}, {"missing", false}, {"", false}}
	for _, c := range cases {
		got, err := l.Published(ctx, "2025-06-30", c.id, map[string]int64{"segments": 3}, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if (got != nil) != c.changed {
			t.Errorf("Published(%q) changed a record: %v, want %v", c.id, got != nil, c.changed)
		}
	}
	r, err := l.Get(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Succeeded || r.ExitCode != 0 || r.Error != "" || !strings.Contains(r.Note, "context canceled") || r.Rows["segments"] != 3 {
		t.Errorf("corrected record: %+v", r)
	}
}
