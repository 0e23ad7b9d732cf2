package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/configs"
)

// fuzzEnv is a fake environment: some variables set, one empty, one whose
// value looks like YAML (it must stay a string).
func fuzzEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"IN": "/data/in", "OUT": "s3://bucket/out", "WORKERS": "4", "EMPTY": "",
		"YAMLISH": "{a: [1, 2]}\nb: c", "UNICODE": "données/客户",
	}[name]
	return v, ok
}

// FuzzParse: any input either parses to a configuration whose derived
// values can be computed — and parses again to the same hash — or fails
// with Problems (each with a message) or a wrapped YAML error; and it does
// so in bounded time. Seeds are in testdata/fuzz/FuzzParse, written by
// TestWriteFuzzSeeds.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan string, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
				}
			}()
			done <- parseOnce(data)
		}()
		select {
		case msg := <-done:
			if msg != "" {
				t.Fatal(msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("parsing %d bytes took more than 10s", len(data))
		}
	})
}

func parseOnce(data []byte) string {
	cfg, err := Parse(data, fuzzEnv)
	if err != nil {
		var ps Problems
		if errors.As(err, &ps) {
			if len(ps) == 0 {
				return "empty Problems"
			}
			for _, p := range ps {
				if p.Msg == "" {
					return fmt.Sprintf("problem without a message: %+v", p)
				}
			}
			return ""
		}
		if !strings.HasPrefix(err.Error(), "parse config: ") {
			return fmt.Sprintf("error neither Problems nor a YAML error: %v", err)
		}
		return ""
	}
	// Everything a run derives from a valid configuration.
	h := cfg.Hash()
	_ = cfg.Location()
	_ = cfg.ScheduleLocation()
	_ = cfg.Quality.Fraction()
	_, _ = cfg.Cluster.Range()
	_ = cfg.Cluster.FeatureList()
	_ = cfg.Features.Options()
	_ = cfg.CLV.Horizon()
	_ = cfg.Schedule.Lag()
	again, err := Parse(data, fuzzEnv)
	if err != nil {
		return fmt.Sprintf("second parse failed: %v", err)
	}
	if again.Hash() != h {
		return "the same input hashed differently"
	}
	return ""
}

// TestWriteFuzzSeeds writes FuzzParse's seed corpus: the shipped configs
// and the ways a hand-written one goes wrong. Rerun with
// STRATA_WRITE_FUZZ_SEEDS=1 after changing the seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("STRATA_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set STRATA_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	seeds := map[string]string{
		"demo":          string(configs.Demo),
		"minimal":       valid,
		"empty":         "",
		"comment-only":  "# nothing here\n",
		"not-a-mapping": "- version: 1\n- input: x\n",
		"scalar":        "1",
		"bom":           "\ufeff" + valid,
		"tabs":          strings.ReplaceAll(valid, "  ", "\t"),
		"crlf":          strings.ReplaceAll(valid, "\n", "\r\n"),
		"truncated":     valid[:len(valid)/2],
		"unknown-keys":  strings.Replace(valid, "columns:", "colums:", 1) + "sed: 4\nfoo:\n  bar: [1, 2]\n",
		"wrong-types": "version: one\nseed: -1\nworkers: 1e3\ninput: [a, b]\noutput:\n  location: {x: 1}\n" +
			"quality:\n  max_bad_fraction: .nan\n",
		"huge-numbers": valid + "seed: 18446744073709551616\nworkers: 9223372036854775807\nquality:\n  max_bad_fraction: 1e400\n" +
			"clv:\n  horizon_months: 99999999999\n  margin: -1e308\ncluster:\n  k: -9223372036854775808\n",
		"env": strings.NewReplacer("/data/in", "${IN}", "/data/out", "${OUT:-/tmp/out}").Replace(valid) +
			"workers: ${WORKERS}\ntimezone: ${MISSING}\nseed: ${EMPTY:-7}\n",
		"env-yamlish": strings.Replace(valid, "path: orders", "path: \"${YAMLISH}\"", 1) + "timezone: '${UNICODE}'\n",
		"env-odd":     strings.Replace(valid, "/data/in", "${IN${IN}} ${:-x} ${1BAD} $${IN} ${IN:-${OUT}}", 1),
		"unicode": strings.NewReplacer("cust", "客户", "ts", "ζ", "amt", "💰").Replace(valid) +
			"timezone: Europe/Zürich\naudiences:\n  - name: ünïcödé\n    filter: rfm_segment = \"Champions\"\n",
		"duplicate-keys": valid + "seed: 1\nseed: 2\ninput:\n  location: again\n",
		"anchors":        "version: 1\nx: &a {location: /in}\ninput: *a\noutput: *a\n",
		"alias-bomb": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
			"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
			"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nversion: 1\ninput: {orders: {columns: *e}}\n",
		"deep-nesting":  "version: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
		"deep-mapping":  strings.Repeat("a:\n ", 300) + "b: 1\n",
		"multi-doc":     valid + "---\nversion: 2\n",
		"tags":          "!!map\nversion: !!str 1\nseed: !!binary aGVsbG8=\ninput: !custom {location: x}\n",
		"bad-segments":  valid + "rfm:\n  segments:\n    - {name: All, r: [1, 5], f: [1, 4]}\n    - {name: \"\", r: [0, 9], f: [5]}\n",
		"bad-audiences": valid + "audiences:\n  - name: a\n    filter: clv > \n  - name: a\n    filter: ((((\n  - {}\n",
		"null-sections": "version: 1\ninput: ~\noutput: null\nrfm:\nclv:\ncluster: {}\n",
		"long-key":      valid + strings.Repeat("k", 10000) + ": 1\n",
		"control-chars": "version: 1\ninput:\n  location: \"\\0\\x01\\u2028\"\n",
		"bad-delimiter": strings.Replace(valid, "    path: orders", "    path: orders\n    csv: {delimiter: \";;\", time_layouts: [\"\", \"2006\"]}", 1),
	}
	for _, name := range []string{"cdnow.yaml", "complete_journey.yaml", "s3-nightly.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "configs", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		seeds["example-"+strings.TrimSuffix(name, ".yaml")] = string(data)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(s) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
