package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/configs"
	"github.com/strata-oss/strata/internal/leaktest"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/privacy"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/stages"
	"github.com/strata-oss/strata/pipeline/synth"
	"github.com/strata-oss/strata/pipeline/tables"
)

const testPseudonymKey = "pipeline-test-key-0123456789abcdef"

// shop generates a small demo shop into a new in-memory bucket.
func shop(t *testing.T, customers int) objstore.Bucket {
	t.Helper()
	in := objstore.NewMem()
	_, err := synth.Generate(context.Background(), in, synth.Config{Customers: customers, Seed: 11,
		Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// demoConfig is the embedded demo configuration plus extra YAML, loaded
// with the pseudonym key in its environment.
// demoConfig is the demo configuration made fast for tests that check
// what a run publishes, not its models: a narrow k range, one purchase
// model instead of auto's candidates, no per-customer bounds (their draws
// were most of the package's time, and ten times that under the race
// detector). demoModels is the demo's own models, for the tests of them.
func demoConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	cfg := demoModels(t, extra)
	if cfg.CLV.Auto() {
		cfg.CLV.Model = "bgnbd"
	}
	if cfg.CLV.IntervalDraws == nil {
		noBounds := 0
		cfg.CLV.IntervalDraws = &noBounds
	}
	return cfg
}

func demoModels(t *testing.T, extra string) *config.Config {
	t.Helper()
	env := map[string]string{config.DefaultKeyEnv: testPseudonymKey}
	cfg, err := config.Parse(append(append([]byte(nil), configs.Demo...), extra...), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster.KRange = []int{3, 4}
	return cfg
}

// runOn runs cfg on in into out; with stages, walking them instead of the
// default list.
func runOn(t *testing.T, cfg *config.Config, in, out objstore.Bucket, asOf string, list ...stages.Stage) *Result {
	t.Helper()
	d, _ := time.Parse(DateLayout, asOf)
	res, err := Run(context.Background(), cfg, Options{AsOf: d, Version: "test", RunID: "r-" + asOf, Logger: zerolog.Nop(), Input: in, Output: out, Stages: list})
	if err != nil {
		t.Fatalf("run %s: %v", asOf, err)
	}
	return res
}

// columns reads the named columns of a published table's part as text,
// nulls as "null".
func columns(t *testing.T, out objstore.Bucket, m *publish.Manifest, table string, names ...string) [][]string {
	t.Helper()
	var fields []tables.Field
	for _, n := range names {
		fields = append(fields, tables.Field{Name: n, Kind: tables.String, Required: true})
	}
	src := tables.Source{Bucket: out, Format: "parquet", Fields: fields}
	cols := make([][]string, len(names))
	for _, key := range m.Tables[table].Keys {
		if !strings.HasSuffix(key, ".parquet") {
			continue
		}
		err := src.ScanObject(context.Background(), key, func(b *tables.Batch) error {
			for c := range names {
				for i := range b.N {
					v := "null"
					if !b.Cols[c].IsNull(i) {
						v = b.Cols[c].Str[i]
					}
					cols[c] = append(cols[c], v)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	return cols
}

func published(t *testing.T, out objstore.Bucket) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	keys, err := objstore.List(ctx, out, "")
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string][]byte{}
	for _, k := range keys {
		if objs[k], err = objstore.ReadAll(ctx, out, k); err != nil {
			t.Fatal(err)
		}
	}
	return objs
}

// TestPseudonymizedRun: with privacy.pseudonymize every published
// customer id is the HMAC of the id, nothing published holds an id as
// read, the clusters are those of a run with plain ids, and the next day's
// run still finds each customer's previous cluster.
func TestPseudonymizedRun(t *testing.T) {
	in := shop(t, 600)
	plainOut, out := objstore.NewMem(), objstore.NewMem()
	plain := demoConfig(t, "")
	pseud := demoConfig(t, "privacy: {pseudonymize: true}\n")
	ps, err := privacy.NewPseudonymizer([]byte(testPseudonymKey))
	if err != nil {
		t.Fatal(err)
	}

	pr := runOn(t, plain, in, plainOut, "2025-06-30")
	r1 := runOn(t, pseud, in, out, "2025-06-30")
	if r1.Attempt == pr.Attempt {
		t.Error("pseudonymised and plain runs share an attempt")
	}
	plainSeg := columns(t, plainOut, &pr.Manifest, "segments", "customer_id", "cluster_id")
	seg := columns(t, out, &r1.Manifest, "segments", "customer_id", "cluster_id")
	if len(seg[0]) != len(plainSeg[0]) || len(seg[0]) < 500 {
		t.Fatalf("%d pseudonymised rows, %d plain", len(seg[0]), len(plainSeg[0]))
	}
	clusterOf := map[string]string{}
	for i, id := range seg[0] {
		clusterOf[id] = seg[1][i]
	}
	for i, id := range plainSeg[0] {
		p := ps.ID(id)
		got, ok := clusterOf[p]
		if !ok {
			t.Fatalf("customer %s's pseudonym %s is not published", id, p)
		}
		if got != plainSeg[1][i] {
			t.Errorf("customer %s: cluster %s pseudonymised, %s plain", id, got, plainSeg[1][i])
		}
	}
	for _, table := range []string{"recommendations", "features", "audiences/name=win-back"} {
		ids := columns(t, out, &r1.Manifest, table, "customer_id")[0]
		if len(ids) == 0 {
			t.Fatalf("%s is empty", table)
		}
		for _, id := range ids {
			if _, ok := clusterOf[id]; !ok {
				t.Fatalf("%s: customer_id %q is not a published pseudonym", table, id)
			}
		}
	}
	quar := columns(t, out, &r1.Manifest, "quarantine", "customer_id", "detail")
	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	named := 0
	for i, id := range quar[0] {
		if id == "" {
			continue
		}
		named++
		if !hex.MatchString(id) || !strings.Contains(quar[1][i], `customer_id="`+id+`"`) {
			t.Errorf("quarantine row %d: customer %q, detail %s", i, id, quar[1][i])
		}
	}
	if named == 0 {
		t.Fatal("no quarantined row names a customer: the check above saw nothing")
	}
	// The shop's ids are C and eight digits; none is in any object.
	raw := regexp.MustCompile(`C\d{8}`)
	for key, data := range published(t, out) {
		text, err := leaktest.Render(key, data)
		if err != nil {
			t.Fatal(err)
		}
		if m := raw.FindString(text); m != "" {
			t.Errorf("%s holds the id %s", key, m)
		}
	}

	// The next day: same pseudonyms, so each customer's previous cluster
	// is found.
	r2 := runOn(t, pseud, in, out, "2025-07-01")
	next := columns(t, out, &r2.Manifest, "segments", "customer_id", "previous_cluster_id")
	matched := 0
	for i, id := range next[0] {
		if prev := clusterOf[id]; prev != "null" && prev != "" {
			if next[1][i] != prev {
				t.Fatalf("customer %s: previous cluster %s, published the day before as %s", id, next[1][i], prev)
			}
			matched++
		}
	}
	if matched < 300 {
		t.Errorf("only %d customers found their previous cluster", matched)
	}
}

// TestPrivacyPlan: the suppression list and the pseudonym key are inputs
// of the attempt, as PlanRun predicts: a changed list or key re-runs the
// date, an unchanged one does not. The list is read whole, even from a
// partition dated after the as-of day.
func TestPrivacyPlan(t *testing.T) {
	ctx := context.Background()
	in, out := shop(t, 400), objstore.NewMem()
	put := func(key, body string) {
		if err := in.Upload(ctx, key, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	put("erasure/dt=2025-08-01/ids.csv", "customer_id\nC00000001\n")
	cfg := demoConfig(t, "privacy:\n  pseudonymize: true\n  suppression: {path: erasure}\n")
	d, _ := time.Parse(DateLayout, "2025-06-30")
	opt := Options{AsOf: d, Version: "test", RunID: "r", Logger: zerolog.Nop(), Input: in, Output: out}
	plan := func() *Plan {
		p, err := PlanRun(ctx, cfg, opt)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := plan()
	res, err := Run(ctx, cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Attempt != res.Attempt || !slices.Equal(p.Inputs, res.Inputs) {
		t.Fatalf("plan %s %v, run %s %v", p.Attempt, p.Inputs, res.Attempt, res.Inputs)
	}
	var names []string
	for _, in := range res.Inputs {
		names = append(names, in.Table)
		if in.Table == "pseudonym_key" && strings.Contains(in.ETag+in.Key, testPseudonymKey) {
			t.Error("the key is an input in clear")
		}
	}
	if !slices.Contains(names, "suppression") || !slices.Contains(names, "pseudonym_key") {
		t.Errorf("inputs %v lack the list or the key", names)
	}
	if res.Quality.Excluded["customers"]["suppressed"] != 1 {
		t.Errorf("the dated list was not applied: %v", res.Quality.Excluded)
	}
	if !plan().UpToDate() {
		t.Error("nothing changed, yet the plan would re-run")
	}
	put("erasure/dt=2025-08-01/ids.csv", "customer_id\nC00000001\nC00000002\n")
	if plan().UpToDate() {
		t.Error("a changed suppression list does not re-run the date")
	}
	put("erasure/dt=2025-08-01/ids.csv", "customer_id\nC00000001\n")
	if !plan().UpToDate() {
		t.Error("the list restored, the plan still re-runs")
	}
	other := demoConfig(t, "privacy:\n  pseudonymize: true\n  suppression: {path: erasure}\n")
	other.Cluster = cfg.Cluster
	if other.Hash() != cfg.Hash() {
		t.Fatal("the same config hashes differently")
	}
	env := map[string]string{config.DefaultKeyEnv: testPseudonymKey + "-rotated"}
	rotated, err := config.Parse(append(append([]byte(nil), configs.Demo...), "privacy:\n  pseudonymize: true\n  suppression: {path: erasure}\n"...),
		func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	rotated.Cluster, rotated.CLV = cfg.Cluster, cfg.CLV
	if p, err := PlanRun(ctx, rotated, opt); err != nil || p.UpToDate() || p.ConfigHash != res.ConfigHash {
		t.Errorf("a rotated key: plan %+v, %v; want a new attempt under the same config hash", p, err)
	}
}

// TestUnreadableSuppressionListPublishesNothing: a run whose list cannot
// be read fails before publishing, as a configuration error when the list
// lacks its column, as a runtime one when it is missing.
func TestUnreadableSuppressionListPublishesNothing(t *testing.T) {
	cases := []struct {
		name, body string
		config     bool
	}{
		{"missing", "", false},
		{"no id column", "id\nC00000001\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			in, out := shop(t, 200), objstore.NewMem()
			if tc.body != "" {
				if err := in.Upload(ctx, "erasure/ids.csv", strings.NewReader(tc.body)); err != nil {
					t.Fatal(err)
				}
			}
			cfg := demoConfig(t, "privacy:\n  suppression: {path: erasure}\n")
			d, _ := time.Parse(DateLayout, "2025-06-30")
			_, err := Run(ctx, cfg, Options{AsOf: d, Version: "test", RunID: "r", Logger: zerolog.Nop(), Input: in, Output: out})
			var ce *ConfigError
			if err == nil || !strings.Contains(err.Error(), "suppression") || errors.As(err, &ce) != tc.config {
				t.Fatalf("error %v (config error %v, want %v)", err, errors.As(err, &ce), tc.config)
			}
			if keys, _ := objstore.List(ctx, out, ""); len(keys) != 0 {
				t.Errorf("published %v", keys)
			}
		})
	}
}

// TestMissingKeyIsConfigError: a config asking for pseudonyms that has no
// key (built without Parse) fails the run as the user's to fix, saying
// where the key is read from.
func TestMissingKeyIsConfigError(t *testing.T) {
	cfg := demoConfig(t, "")
	cfg.Privacy.Pseudonymize = true
	_, err := Run(context.Background(), cfg, Options{AsOf: time.Now(), Logger: zerolog.Nop(), Input: objstore.NewMem(), Output: objstore.NewMem()})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "$STRATA_PSEUDONYM_KEY") {
		t.Errorf("error %v", err)
	}
}

// TestPublishPersonal: the features table carries the personal features
// publish_personal allows, and only those; model.json names the others.
func TestPublishPersonal(t *testing.T) {
	in, out := shop(t, 300), objstore.NewMem()
	cfg := demoConfig(t, "privacy:\n  publish_personal: [age_years, city]\n")
	cfg.Features.Encodings = map[string]string{"city": "onehot"}
	res := runOn(t, cfg, in, out, "2025-06-30")
	data, err := objstore.ReadAll(context.Background(), out, "models/dt=2025-06-30/model.json")
	if err != nil {
		t.Fatal(err)
	}
	var m output.Model
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	cols := m.Tables["features"]
	var cities int
	for _, c := range cols {
		if strings.HasPrefix(c, "city_") {
			cities++
		}
	}
	if !slices.Contains(cols, "age_years") || cities < 3 || slices.Contains(cols, "postal_code_freq") {
		t.Errorf("features columns %v", cols)
	}
	if m.Privacy == nil || !slices.Equal(m.Privacy.Withheld, []string{"postal_code_freq"}) || m.Privacy.Pseudonymized {
		t.Errorf("model.json privacy %+v", m.Privacy)
	}
	if got := columns(t, out, &res.Manifest, "features", "age_years")[0]; len(got) != res.Customers {
		t.Errorf("%d age_years values for %d customers", len(got), res.Customers)
	}
	// The segments table has no personal column, whatever is allowed.
	for _, c := range m.Tables["segments"] {
		if !privacy.NewPolicy(nil).Column(c) {
			t.Errorf("segments has the personal column %s", c)
		}
	}
}
