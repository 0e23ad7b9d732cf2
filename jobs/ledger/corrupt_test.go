package ledger

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// TestListSkipsCorruptRecord: one record that is not JSON (a torn write,
// a hand edit) is skipped with a warning naming its key, and counted; the
// other records are listed.
func TestListSkipsCorruptRecord(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	var logs bytes.Buffer
	l := New(store).WithLogger(zerolog.New(&logs))
	t0 := time.Date(2025, 7, 1, 2, 0, 0, 0, time.UTC)
	for i, id := range []string{"20250701T020000Z-aaaa", "20250701T030000Z-bbbb"} {
		rec := &Record{ID: id, AsOf: "2025-06-30", Trigger: Schedule, Status: Succeeded, StartedAt: t0.Add(time.Duration(i) * time.Hour)}
		if err := l.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	bad := Key("2025-06-30", "20250701T040000Z-cccc")
	cases := []struct{ name, body string }{
		{"truncated", `{"id": "20250701T040000Z-cccc", "as_of": "2025-`},
		{"not json", "\x00\x01garbage"},
		{"wrong type", `{"id": 7}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			if err := store.Upload(ctx, bad, strings.NewReader(c.body)); err != nil {
				t.Fatal(err)
			}
			recs, err := l.List(ctx, Query{})
			if err != nil {
				t.Fatalf("List failed on one corrupt record: %v", err)
			}
			if len(recs) != 2 {
				t.Fatalf("List = %d records, want the 2 good ones", len(recs))
			}
			if !strings.Contains(logs.String(), bad) || !strings.Contains(logs.String(), `"corrupt_records":1`) {
				t.Errorf("warnings do not name the key and the count:\n%s", logs.String())
			}
			_, corrupt, err := l.ListSkipping(ctx, Query{})
			if err != nil || len(corrupt) != 1 || corrupt[0].Key != bad {
				t.Errorf("ListSkipping: %v, %v; want the one corrupt key", corrupt, err)
			}
		})
	}
}
