// Package duckdbtest runs SQL in DuckDB, an independent Parquet reader, for
// tests: what Strata writes is checked by a reader that shares none of its
// code.
//
// DuckDB comes from the npm package @duckdb/node-api (no cgo, seconds to
// install). It is installed once into a cache directory and reused; the
// directory is $STRATA_DUCKDB_DIR, or strata-test/duckdb under the user's
// cache directory.
package duckdbtest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/strata-oss/strata/internal/npmcache"
)

// Version is the pinned @duckdb/node-api release.
const Version = "1.5.6-r.1"

const script = `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const r = await c.runAndReadAll(require('fs').readFileSync(0, 'utf8'));
  process.stdout.write(JSON.stringify(r.getRowObjectsJson()));
})().catch(e => { process.stderr.write(String(e && e.message || e)); process.exit(1); });
`

var (
	once    sync.Once
	dir     string
	initErr error
)

// Install installs the pinned package if needed and returns its directory.
func Install() (string, error) {
	return npmcache.Install("duckdb", "STRATA_DUCKDB_DIR", "@duckdb/node-api", Version)
}

// Query runs sql and returns its rows, each column rendered as DuckDB's
// JSON value (numbers beyond float64 precision as strings).
func Query(t testing.TB, sql string) []map[string]any {
	t.Helper()
	once.Do(func() { dir, initErr = Install() })
	if initErr != nil {
		t.Fatalf("duckdb: %v", initErr)
	}
	cmd := exec.Command("node", "-e", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = bytes.NewReader([]byte(sql))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("duckdb query failed: %v: %s\nSQL: %s", err, stderr.String(), sql)
	}
	var rows []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil {
		t.Fatalf("duckdb output: %v: %s", err, stdout.String())
	}
	return rows
}
