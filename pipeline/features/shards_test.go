package features

import "testing"

// TestShardCountByWork: shards are half the workers, but no more than
// the input's rows fill pages of records; with rows unknown (CSV), half
// the workers.
func TestShardCountByWork(t *testing.T) {
	cases := []struct {
		workers   int
		rows      int64
		shardRows int
		want      int
	}{
		{300, 30_000, 0, 1},
		{300, 100_000, 0, 4},
		{2, 10_000_000, 0, 1},
		{16, 50_000_000, 0, 8},
		{8, -1, 0, 4},
		{8, 0, 0, 1},
		{1, 5, 0, 1},
		{8, 30_000, 1000, 4},
	}
	for _, c := range cases {
		if got := shardCount(c.workers, c.rows, c.shardRows); got != c.want {
			t.Errorf("shardCount(%d workers, %d rows, %d) = %d, want %d", c.workers, c.rows, c.shardRows, got, c.want)
		}
	}
}

// TestManyWorkersFewShards: 64 workers on a small shop make the shards
// its rows fill, not 32 shards of empty pages.
func TestManyWorkersFewShards(t *testing.T) {
	_, b := demoData(t, 500, "parquet")
	a, err := Extract(t.Context(), demoSpec(b), Options{Workers: 64})
	if err != nil {
		t.Fatal(err)
	}
	if rows := a.info.Rows; len(a.shards) != shardCount(64, rows, 0) || len(a.shards) > 2 {
		t.Errorf("%d shards for %d rows", len(a.shards), rows)
	}
}
