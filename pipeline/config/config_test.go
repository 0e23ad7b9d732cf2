package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/strata-oss/strata/configs"
)

func noEnv(string) (string, bool) { return "", false }

func TestEmbeddedDemoConfigIsValid(t *testing.T) {
	cfg, err := Parse(configs.Demo, noEnv)
	if err != nil {
		t.Fatalf("demo config: %v", err)
	}
	if cfg.Input.Location != "./strata-demo/input" || cfg.Output.Location != "./strata-demo/output" {
		t.Errorf("default locations: got %q, %q", cfg.Input.Location, cfg.Output.Location)
	}
	if got := cfg.Input.Orders.Columns["order_ts"]; got != "ordered_at" {
		t.Errorf("order_ts maps to %q", got)
	}
}

const valid = `
version: 1
input:
  location: /data/in
  orders:
    path: orders
    columns: {customer_id: cust, order_ts: ts, amount: amt}
output:
  location: /data/out
`

func TestParseProblems(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // each must appear in the error, with its path and line
	}{
		{"unknown key with suggestion", strings.Replace(valid, "    columns:", "    colums:", 1),
			[]string{"input.orders.colums (line 7): unknown key; did you mean \"columns\"?"}},
		{"unknown top-level key", valid + "sed: 4\n", []string{"sed (line 10): unknown key; did you mean \"seed\"?"}},
		{"missing required sections", "version: 1\n",
			[]string{"input.location: is required", "output.location: is required", "input.orders.path: is required"}},
		{"bad version and timezone", strings.Replace(valid, "version: 1", "version: 2\ntimezone: Mars/Olympus", 1),
			[]string{"version (line 2): must be 1 (got 2)", "timezone (line 3): unknown time zone \"Mars/Olympus\""}},
		{"unknown logical column", strings.Replace(valid, "amount: amt", "amount: amt, price: p", 1),
			[]string{"input.orders.columns.price", "\"price\" is not a column of the orders table"}},
		{"wrong type", strings.Replace(valid, "version: 1", "version: one", 1), []string{"cannot unmarshal !!str `one`"}},
		{"bad gate", valid + "quality:\n  max_bad_fraction: 1.5\n", []string{"quality.max_bad_fraction (line 11): must be between 0 and 1"}},
		{"bad location scheme", strings.Replace(valid, "/data/out", "gs://bucket/x", 1), []string{"output.location (line 9): unsupported location"}},
		{"bad compression", valid + "  compression: lz4\n", []string{`output.compression (line 10): must be one of zstd, snappy, uncompressed, not "lz4"`}},
		{"bad integer encoding", valid + "  integer_encoding: rle\n", []string{`output.integer_encoding (line 10): must be one of delta, plain, not "rle"`}},
		{"grid gap", valid + "rfm:\n  segments:\n    - {name: All, r: [1, 5], f: [1, 4]}\n",
			[]string{"cell R=1 F=5 has no segment", "cell R=5 F=5 has no segment"}},
		{"grid overlap", valid + "rfm:\n  segments:\n    - {name: A, r: [1, 5], f: [1, 5]}\n    - {name: B, r: [5, 5], f: [5, 5]}\n",
			[]string{"cell R=5 F=5 is claimed by both \"A\" and \"B\""}},
		{"duplicate key", valid + "seed: 1\nseed: 2\n", []string{"key appears twice"}},
		{"several problems at once", "version: 3\nfoo: 1\ninput:\n  bar: 2\n",
			[]string{"version (line 1): must be 1", "foo (line 2): unknown key", "input.bar (line 4): unknown key", "output.location: is required"}},
		{"empty", "", []string{"configuration is empty"}},
		{"bad clv", valid + "clv:\n  model: nbd\n  time_unit: month\n  margin: 1.5\n  holdout_days: -1\n  no_dropout: ignore\n",
			[]string{"clv.model (line 11): must be auto, bgnbd, mbgnbd or pnbd", "clv.time_unit (line 12): must be day or week",
				"clv.margin (line 13): must be in (0, 1]", "clv.holdout_days (line 14): must be between 0",
				"clv.no_dropout (line 15): must be nbd"}},
		{"bad cluster", valid + "cluster:\n  features:\n    - {name: frequency, scale: sqrt}\n    - {name: frequency}\n  k: 1\n  k_range: [5, 3]\n  algorithm: elkan\n",
			[]string{"cluster.features[0].scale (line 12)", "must be none, log1p, zscore or log1p+zscore", "cluster.features[1].name (line 13)", "listed twice",
				"cluster.k (line 14): must be 0 (choose) or between 2 and 100", "cluster.k_range (line 15)", "cluster.algorithm (line 16)"}},
		{"bad audiences", valid + "audiences:\n  - {name: Win Back, filter: 'clv > '}\n  - {name: ok, filter: 'clv > 1'}\n  - {name: ok, filter: ''}\n",
			[]string{"audiences[0].name (line 11): must be 1-63 lower-case", "audiences[0].filter (line 11): at column 7: expected a value",
				"audiences[2].name (line 13): \"ok\" is used twice", "audiences[2].filter (line 13): is required"}},
		{"bad storage", valid + "storage:\n  s3:\n    endpoint: 127.0.0.1:9000\n    max_attempts: 50\n    max_backoff: 2\n",
			[]string{"storage.s3.endpoint (line 12): must be an http:// or https:// URL", "storage.s3.max_attempts (line 13): must be between 1 and 20",
				"storage.s3.max_backoff (line 14): must be a Go duration"}},
		{"bad drift", valid + "drift:\n  max_segment_shift: 1.5\n  max_psi: 0\n  action: stop\n",
			[]string{"drift.max_segment_shift (line 11): must be above 0 and at most 1", "drift.max_psi (line 12): must be above 0",
				`drift.action (line 13): must be one of warn, fail, not "stop"`}},
		{"missing env", strings.Replace(valid, "/data/in", "${NO_SUCH_VAR_X}/in", 1),
			[]string{"input.location (line 4): environment variable NO_SUCH_VAR_X is not set"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), noEnv)
			if err == nil {
				t.Fatal("expected an error")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is %T, want Problems: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{"BUCKET": "s3://lake/strata", "SEED": "7"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	y := strings.Replace(valid, "/data/out", "${BUCKET}/out", 1)
	y = strings.Replace(y, "version: 1", "version: 1\nseed: ${SEED}\ntimezone: ${TZ_UNSET:-Europe/Berlin}", 1)
	cfg, err := Parse([]byte(y), lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Output.Location != "s3://lake/strata/out" {
		t.Errorf("output location %q", cfg.Output.Location)
	}
	if cfg.Seed != 7 {
		t.Errorf("seed %d, want 7 (env value decoded as a number)", cfg.Seed)
	}
	if cfg.Timezone != "Europe/Berlin" {
		t.Errorf("timezone %q, want the default", cfg.Timezone)
	}
}

func TestEnvValueIsNotYAML(t *testing.T) {
	// A variable's value must stay a value: it can not add keys.
	env := map[string]string{"LOC": "/x\nquality: {max_bad_fraction: 9}"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := Parse([]byte(strings.Replace(valid, "/data/in", "${LOC}", 1)), lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Input.Location != env["LOC"] || cfg.Quality.Fraction() != DefaultMaxBadFraction {
		t.Errorf("env value leaked into the structure: %+v", cfg)
	}
}

func TestHashIgnoresFormatting(t *testing.T) {
	a, err := Parse([]byte(valid), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	reordered := strings.Replace(valid, "{customer_id: cust, order_ts: ts, amount: amt}", "\n      amount: amt\n      order_ts: ts\n      customer_id: cust", 1)
	b, err := Parse([]byte("# comment\n"+reordered), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Errorf("same meaning, different hashes: %s vs %s", a.Hash(), b.Hash())
	}
	c, _ := Parse([]byte(strings.Replace(valid, "amt}", "amount}", 1)), noEnv)
	if c.Hash() == a.Hash() {
		t.Error("a different mapping has the same hash")
	}
}

func TestHashCoversMeaningOnly(t *testing.T) {
	base, err := Parse([]byte(valid), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		yaml string
		same bool
	}{
		{"output moved", strings.Replace(valid, "/data/out", "s3://b/out", 1), true},
		{"input moved", strings.Replace(valid, "/data/in", "s3://b/in", 1), true},
		{"more workers", valid + "workers: 4\n", true}, // within MaxWorkers on one core
		{"storage settings", valid + "storage:\n  s3: {endpoint: 'http://127.0.0.1:9000', max_attempts: 3, max_backoff: 250ms}\n", true},
		{"default gate spelled out", valid + "quality: {max_bad_fraction: 0.05}\n", true},
		{"another seed", valid + "seed: 7\n", false},
		{"another gate", valid + "quality: {max_bad_fraction: 0.1}\n", false},
		{"another time zone", valid + "timezone: Europe/Paris\n", false},
		{"default no_dropout spelled out", valid + "clv: {no_dropout: nbd}\n", true},
		{"no_dropout fail", valid + "clv: {no_dropout: fail}\n", false},
		{"default compression spelled out", valid + "  compression: zstd\n", true},
		{"snappy", valid + "  compression: snappy\n", false},
		{"default integer encoding spelled out", valid + "  integer_encoding: delta\n", true},
		{"plain integers", valid + "  integer_encoding: plain\n", false},
		{"drift defaults spelled out", valid + "drift: {max_segment_shift: 0.1, max_psi: 0.25, action: warn}\n", true},
		{"drift fails", valid + "drift: {action: fail}\n", false},
		{"another psi threshold", valid + "drift: {max_psi: 0.1}\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Hash() == base.Hash(); got != tc.same {
				t.Errorf("same hash = %v, want %v", got, tc.same)
			}
		})
	}
}

// TestDriftDefaults: an absent or empty drift section is the documented
// defaults; set values are kept.
func TestDriftDefaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		yaml       string
		shift, psi float64
		action     string
		fails      bool
	}{
		{"absent", valid, 0.1, 0.25, "warn", false},
		{"empty", valid + "drift: {}\n", 0.1, 0.25, "warn", false},
		{"set", valid + "drift: {max_segment_shift: 0.05, max_psi: 0.2, action: fail}\n", 0.05, 0.2, "fail", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			d := c.Drift
			if d.SegmentShift() != tc.shift || d.PSI() != tc.psi || d.ActionOr() != tc.action || d.Fails() != tc.fails {
				t.Errorf("got shift %v, psi %v, action %s, fails %v", d.SegmentShift(), d.PSI(), d.ActionOr(), d.Fails())
			}
		})
	}
}
