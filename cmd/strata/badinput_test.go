package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// TestBadInputExitCodes runs `strata run` on input objects that can not be
// used and checks the command-line contract: a schema problem exits 2, an
// unreadable object exits 1, the message names the object (and column),
// and no table is published. pipeline/extract's TestBadInput covers the
// row-level outcomes.
func TestBadInputExitCodes(t *testing.T) {
	type intTS struct {
		Cust   string  `parquet:"customer_id"`
		TS     int64   `parquet:"order_ts"`
		Amount float64 `parquet:"amount"`
	}
	type good struct {
		Cust   string    `parquet:"customer_id"`
		TS     time.Time `parquet:"order_ts,timestamp(microsecond)"`
		Amount float64   `parquet:"amount"`
	}
	day := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var intFile, goodFile bytes.Buffer
	if err := parquet.Write(&intFile, []intTS{{"a", day.Unix(), 1}}); err != nil {
		t.Fatal(err)
	}
	if err := parquet.Write(&goodFile, []good{{"a", day, 1}, {"b", day, 2}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		files map[string][]byte // under orders/
		code  int
		want  []string
	}{
		{"parquet number where a timestamp is expected", map[string][]byte{"part-0.parquet": intFile.Bytes()}, 2,
			[]string{"orders/part-0.parquet", `column "order_ts" (for order_ts): is INT64, not a timestamp`}},
		{"truncated parquet", map[string][]byte{"part-0.parquet": goodFile.Bytes(), "part-1.parquet": goodFile.Bytes()[:goodFile.Len()/2]}, 1,
			[]string{"orders/part-1.parquet", "truncated or not Parquet"}},
		{"empty parquet", map[string][]byte{"part-0.parquet": {}}, 1, []string{"orders/part-0.parquet", "too short for a Parquet file"}},
		{"empty csv", map[string][]byte{"part-0.csv": {}}, 2, []string{"orders/part-0.csv", "empty file: no header row"}},
		{"duplicate mapped column", map[string][]byte{"part-0.csv": []byte("customer_id,order_ts,amount,amount\na,2025-06-01,1,2\n")}, 2,
			[]string{"orders/part-0.csv", `column "amount" (for amount) appears 2 times`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				p := filepath.Join(dir, "in", "orders", name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(dir, "out")
			cfg := writeConfig(t, dir, "version: 1\ninput:\n  location: "+filepath.Join(dir, "in")+
				"\n  orders: {path: orders}\noutput:\n  location: "+out+"\n")
			code, stdout, stderr := strata(t, "run", "--config", cfg, "--as-of", "2025-06-30", "--log-level", "error")
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, stdout, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(out, "segments")); !os.IsNotExist(err) {
				t.Errorf("segments were published (stat: %v)", err)
			}
		})
	}
}
