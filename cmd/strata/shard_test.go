package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/pipeline"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
	"github.com/strata-oss/strata/pipeline/publish"
)

const shardDay = "2025-06-30"

// shardShop generates the demo shop, uploads it to lake/raw and returns
// a config for output prefix OUT (the demo's, with every table and model,
// fitted on a half sample).
func shardShop(t *testing.T, srv *s3test.Server) func(out string) string {
	t.Helper()
	gen := t.TempDir()
	if code, _, stderr := strata(t, "generate", "--dir", gen, "--customers", "3000", "--seed", "3", "--log-level", "error"); code != 0 {
		t.Fatalf("generate: %s", stderr)
	}
	uploadDir(t, gen, srv.NewBucket(t, "lake", "raw"))
	demo, err := os.ReadFile(filepath.Join("..", "..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return func(out string) string {
		body := strings.NewReplacer("${STRATA_DEMO_DIR:-./strata-demo}/input", "s3://lake/raw",
			"${STRATA_DEMO_DIR:-./strata-demo}/output", "s3://lake/"+out).Replace(string(demo))
		body += fmt.Sprintf("\nstorage:\n  s3: {endpoint: %q}\nfit:\n  sample_fraction: 0.5\n", srv.Endpoint)
		body = strings.Replace(body, "workers: 0 ", "workers: 2 ", 1)
		return writeConfig(t, t.TempDir(), body)
	}
}

// shardProcess runs `strata run --shard i/n` as a process of its own, as
// a pod of an Indexed Job would.
func shardProcess(cfgPath string, i, n int, extra ...string) ([]byte, error) {
	args := append([]string{"run", "--config", cfgPath, "--as-of", shardDay, "--shard", fmt.Sprintf("%d/%d", i, n), "--log-level", "error"}, extra...)
	return strataProcess(args...).CombinedOutput()
}

// TestShardedRunEqualsSingleProcess: fit, then 1, 3 and 8 shard processes
// against a real S3 server, then finish; the union of the shards' parts
// must be the single-process run row for row (segments, recommendations,
// features, audiences, quarantine), the summary equal to rounding, and
// the models the same. A finish before every shard is done fails and
// commits nothing; a retried shard rewrites its own part only.
func TestShardedRunEqualsSingleProcess(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "lake")
	s3Env(t, srv, srv.SecretKey)
	cfg := shardShop(t, srv)
	lake := srv.NewBucket(t, "lake", "")
	ctx := context.Background()

	if code, stdout, stderr := strata(t, "run", "--config", cfg("single"), "--as-of", shardDay, "--log-level", "error"); code != 0 {
		t.Fatalf("single-process run: exit %d: %s%s", code, stdout, stderr)
	}
	single := readRun(t, lake, "single")
	if len(single.rows["segments"]) < 2000 || len(single.rows["recommendations"]) == 0 || len(single.rows["quarantine"]) == 0 {
		t.Fatalf("the single run should exercise every table: %d segments, %d offers, %d quarantined",
			len(single.rows["segments"]), len(single.rows["recommendations"]), len(single.rows["quarantine"]))
	}
	if single.model.Fit == nil || single.model.Fit.Customers < 1300 || single.model.Fit.Customers > 1700 {
		t.Fatalf("the models should be fitted on about half the customers: %+v", single.model.Fit)
	}

	for _, n := range []int{1, 3, 8} {
		t.Run(fmt.Sprintf("%d shards", n), func(t *testing.T) {
			out := fmt.Sprintf("sharded%d", n)
			c := cfg(out)
			fit := func() {
				if code, stdout, stderr := strata(t, "fit", "--config", c, "--as-of", shardDay, "--log-level", "error"); code != 0 {
					t.Fatalf("fit: exit %d: %s%s", code, stdout, stderr)
				}
			}
			// With 8 shards, as the CronJobs of deploy/kubernetes start
			// them: shards and finish first, waiting for the step before.
			var finishOut []byte
			var finishErr error
			finished := make(chan struct{})
			if n == 8 {
				go func() {
					defer close(finished)
					finishOut, finishErr = strataProcess("finish", "--config", c, "--as-of", shardDay, "--shards", "8", "--wait", "3m", "--log-level", "error").CombinedOutput()
				}()
			} else {
				fit()
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			outs := make([][]byte, n)
			for i := range n {
				if n == 3 && i == 2 {
					continue // scored after the early finish below
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs[i], errs[i] = shardProcess(c, i, n, "--wait", "3m")
				}()
			}
			if n == 8 {
				time.Sleep(500 * time.Millisecond)
				fit()
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("shard %d/%d: %v: %s", i, n, errs[i], outs[i])
				}
			}
			if n == 3 {
				code, stdout, stderr := strata(t, "finish", "--config", c, "--as-of", shardDay, "--shards", "3", "--log-level", "error")
				if code != 1 || !strings.Contains(stdout+stderr, "1 of 3 shards") || !strings.Contains(stdout+stderr, "2/3") {
					t.Fatalf("finish with a shard missing: exit %d: %s%s", code, stdout, stderr)
				}
				if _, err := publish.ReadManifest(ctx, objstore.Prefixed(lake, out), shardDay); !objstore.IsNotExist(err) {
					t.Fatalf("a finish with a shard missing committed: %v", err)
				}
				if o, err := shardProcess(c, 2, 3); err != nil {
					t.Fatalf("shard 2/3: %v: %s", err, o)
				}
				// A retried shard writes its own objects again, the same
				// bytes, and touches nothing else.
				before := listAll(t, lake, out)
				if o, err := shardProcess(c, 1, 3); err != nil {
					t.Fatalf("shard 1/3 again: %v: %s", err, o)
				}
				if after := listAll(t, lake, out); !maps.Equal(before, after) {
					t.Fatalf("a retried shard changed other objects:\nbefore %v\nafter  %v", before, after)
				}
			}
			if n == 8 {
				<-finished
				if finishErr != nil {
					t.Fatalf("finish --wait: %v: %s", finishErr, finishOut)
				}
			} else if code, stdout, stderr := strata(t, "finish", "--config", c, "--as-of", shardDay, "--shards", fmt.Sprint(n), "--log-level", "error"); code != 0 {
				t.Fatalf("finish: exit %d: %s%s", code, stdout, stderr)
			}
			// The date is published now: a shard run again (a CronJob
			// retried late) writes nothing beside the committed run.
			before := listAll(t, lake, out)
			if o, err := shardProcess(c, 0, n); err != nil || !strings.Contains(string(o), "already published") {
				t.Fatalf("shard 0/%d after the commit: %v: %s", n, err, o)
			}
			if after := listAll(t, lake, out); !maps.Equal(before, after) {
				t.Fatalf("a shard of a published date wrote objects:\nbefore %v\nafter  %v", before, after)
			}
			got := readRun(t, lake, out)
			if got.manifest.Attempt != single.manifest.Attempt {
				t.Errorf("attempt %s, single run %s", got.manifest.Attempt, single.manifest.Attempt)
			}
			for table, want := range single.rows {
				if table == "segment_summary" || table == "segment_migration" {
					continue
				}
				rows := got.rows[table]
				if len(rows) != len(want) {
					t.Errorf("%s: %d rows, single run %d", table, len(rows), len(want))
					continue
				}
				for i := range want {
					if rows[i] != want[i] {
						t.Errorf("%s row %d:\n sharded %s\n single  %s", table, i, rows[i], want[i])
						break
					}
				}
			}
			if keys := got.manifest.Tables["segments"].Keys; len(keys) != n || !strings.Contains(keys[n-1], fmt.Sprintf("part-%05d-of-%05d-", n-1, n)) {
				t.Errorf("segment parts %v, want one per shard named part-i-of-%05d", keys, n)
			}
			compareSummaries(t, single.summary, got.summary)
			for _, k := range []string{"customers", "buyers", "orders", "quarantined"} {
				if got.model.Counts[k] != single.model.Counts[k] {
					t.Errorf("model.json counts[%s] = %d, single run %d", k, got.model.Counts[k], single.model.Counts[k])
				}
			}
			if a, b := mustJSON(t, got.model.CLV), mustJSON(t, single.model.CLV); a != b {
				t.Errorf("CLV model differs:\n%s\n%s", a, b)
			}
			if a, b := mustJSON(t, got.model.Cluster), mustJSON(t, single.model.Cluster); a != b {
				t.Errorf("cluster model differs:\n%s\n%s", a, b)
			}
			if !reflectEqualJSON(t, got.model.Quality, single.model.Quality) {
				t.Errorf("quality differs:\n%s\n%s", mustJSON(t, got.model.Quality), mustJSON(t, single.model.Quality))
			}
		})
	}
}

type publishedRun struct {
	manifest *publish.Manifest
	rows     map[string][]string // every part's rows rendered, sorted
	summary  map[string][]string // segment_summary rows by (type, segment): their values
	model    struct {
		Counts  map[string]int64 `json:"counts"`
		CLV     json.RawMessage  `json:"clv"`
		Cluster json.RawMessage  `json:"cluster"`
		Quality json.RawMessage  `json:"quality"`
		Fit     *struct {
			Customers int `json:"customers"`
		} `json:"fit"`
	}
}

// readRun reads a committed run's tables with parquet-go's generic reader
// (not Strata's) and renders each row as text.
func readRun(t *testing.T, lake objstore.Bucket, out string) *publishedRun {
	t.Helper()
	ctx := context.Background()
	b := objstore.Prefixed(lake, out)
	m, err := publish.ReadManifest(ctx, b, shardDay)
	if err != nil {
		t.Fatal(err)
	}
	r := &publishedRun{manifest: m, rows: map[string][]string{}, summary: map[string][]string{}}
	for table, files := range m.Tables {
		for _, key := range files.Keys {
			if !strings.HasSuffix(key, ".parquet") {
				continue
			}
			data, err := objstore.ReadAll(ctx, b, key)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			names := []string{}
			for _, c := range f.Schema().Fields() {
				names = append(names, c.Name())
			}
			for _, rg := range f.RowGroups() {
				rows := rg.Rows()
				buf := make([]parquet.Row, 256)
				for {
					k, err := rows.ReadRows(buf)
					for _, row := range buf[:k] {
						cells := make([]string, len(row))
						for i, v := range row {
							cells[i] = fmt.Sprintf("%s=%v", names[v.Column()], v)
							if v.IsNull() {
								cells[i] = names[v.Column()] + "=null"
							}
						}
						line := strings.Join(cells, " ")
						r.rows[table] = append(r.rows[table], line)
						if table == "segment_summary" {
							r.summary[cells[1]+" "+cells[2]] = cells
						}
					}
					if err != nil {
						break
					}
				}
				rows.Close()
			}
		}
		slices.Sort(r.rows[table])
		if int64(len(r.rows[table])) != files.Rows { // audiences too: their CSV copy is not counted
			t.Errorf("%s: %d rows read, the manifest says %d", table, len(r.rows[table]), files.Rows)
		}
	}
	data, err := objstore.ReadAll(ctx, b, m.Objects["model"])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &r.model); err != nil {
		t.Fatal(err)
	}
	return r
}

// compareSummaries: the same segments with the same counts and names;
// sums merged shard by shard equal the single run's to 1e-9 relative.
func compareSummaries(t *testing.T, want, got map[string][]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d summary rows, single run %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Errorf("summary %s: %d columns, want %d", k, len(g), len(w))
			continue
		}
		for i := range w {
			if g[i] == w[i] {
				continue
			}
			var a, b float64
			name, av, _ := strings.Cut(g[i], "=")
			_, bv, _ := strings.Cut(w[i], "=")
			if _, err := fmt.Sscan(av, &a); err == nil {
				if _, err := fmt.Sscan(bv, &b); err == nil && relClose(a, b, 1e-9) {
					continue
				}
			}
			t.Errorf("summary %s %s: sharded %s, single %s", k, name, av, bv)
		}
	}
}

func relClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*max(math.Abs(a), math.Abs(b), 1e-300)
}

func listAll(t *testing.T, lake objstore.Bucket, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := objstore.Prefixed(lake, out).Iter(context.Background(), "", func(key string) error {
		attrs, err := objstore.Prefixed(lake, out).Attributes(context.Background(), key)
		if err != nil {
			return err
		}
		got[key] = attrs.ETag
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func reflectEqualJSON(t *testing.T, a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return mustJSON(t, x) == mustJSON(t, y)
}

func TestParseShardAndRelativeDates(t *testing.T) {
	for _, tc := range []struct {
		in, env string
		want    pipeline.Shard
		ok      bool
	}{
		{"0/1", "", pipeline.Shard{Index: 0, Count: 1}, true},
		{"7/8", "", pipeline.Shard{Index: 7, Count: 8}, true},
		{"8", "3", pipeline.Shard{Index: 3, Count: 8}, true},
		{"8/8", "", pipeline.Shard{}, false},
		{"-1/4", "", pipeline.Shard{}, false},
		{"1/0", "", pipeline.Shard{}, false},
		{"8", "", pipeline.Shard{}, false},
		{"8", "9", pipeline.Shard{}, false},
		{"a/b", "", pipeline.Shard{}, false},
	} {
		t.Setenv("JOB_COMPLETION_INDEX", tc.env)
		got, err := pipeline.ParseShard(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseShard(%q) with index %q = %v, %v", tc.in, tc.env, got, err)
		}
	}
	cfg := &config.Config{Timezone: "America/New_York"}
	now := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC) // Feb 28, 22:00 in New York
	for in, want := range map[string]string{"today": "2026-02-28", "yesterday": "2026-02-27", "2025-06-30": "2025-06-30"} {
		d, err := asOfDate(in, cfg, now)
		if err != nil || d.Format(pipeline.DateLayout) != want {
			t.Errorf("asOfDate(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	if _, err := asOfDate("tomorrow", cfg, now); err == nil {
		t.Error("tomorrow is not a date")
	}
}
