package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const testKey = "0123456789abcdef-not-a-real-key"

func withEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestPrivacySection(t *testing.T) {
	cfg, err := Parse([]byte(valid+`privacy:
  suppression: {path: erasure, format: csv, column: cust, csv: {delimiter: ";"}}
  pseudonymize: true
  key_env: SHOP_KEY
  publish_personal: [age_years, city]
`), withEnv(map[string]string{"SHOP_KEY": testKey}))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Privacy
	if s := p.Suppression; s == nil || s.Path != "erasure" || s.Format != "csv" || s.IDColumn() != "cust" || s.CSV.Delimiter != ";" {
		t.Errorf("suppression %+v", p.Suppression)
	}
	if string(p.Key()) != testKey || p.KeyVar() != "SHOP_KEY" {
		t.Errorf("key from %s: %d bytes", p.KeyVar(), len(p.Key()))
	}
	pol := p.Policy()
	for col, want := range map[string]bool{"age_years": true, "city_freq": true, "city_berlin": true, "postal_code_freq": false, "clv": true} {
		if got := pol.Column(col); got != want {
			t.Errorf("may publish %s = %v, want %v", col, got, want)
		}
	}
	if w := pol.Withheld(); !w["birth_date"] || !w["postal_code"] || w["city"] {
		t.Errorf("withheld in quarantine details: %v", w)
	}

	// Defaults: no list, no pseudonyms, the standard variable, nothing
	// personal published.
	def, err := Parse([]byte(valid), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if d := def.Privacy; d.Suppression != nil || d.Pseudonymize || d.Key() != nil || d.KeyVar() != DefaultKeyEnv ||
		d.Policy().Column("age_years") || !d.Policy().Column("rfm_segment") {
		t.Errorf("defaults %+v", d)
	}
	if col := (Suppression{}).IDColumn(); col != "customer_id" {
		t.Errorf("default id column %q", col)
	}
}

// TestPseudonymKeyStaysSecret: the key is read from the environment at
// load time and is in nothing derived from the config: not its hash, its
// JSON, its formatting, nor a problem's message.
func TestPseudonymKeyStaysSecret(t *testing.T) {
	y := valid + "privacy: {pseudonymize: true}\n"
	a, err := Parse([]byte(y), withEnv(map[string]string{DefaultKeyEnv: testKey}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse([]byte(y), withEnv(map[string]string{DefaultKeyEnv: testKey + "-other"}))
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Error("the config hash depends on the key")
	}
	js, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{string(js), fmt.Sprintf("%v %+v %#v", a, a, a.Privacy)} {
		if strings.Contains(text, testKey) || strings.Contains(text, fmt.Sprint([]byte(testKey))) {
			t.Errorf("the key shows in %.200s…", text)
		}
	}
	_, err = Parse([]byte(y), withEnv(map[string]string{DefaultKeyEnv: "short-key"}))
	if err == nil || !strings.Contains(err.Error(), "has 9 bytes; use at least 16") || strings.Contains(err.Error(), "short-key") {
		t.Errorf("a short key: %v", err)
	}
}

func TestPrivacyProblems(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       []string
	}{
		{"no key", "privacy: {pseudonymize: true}\n", nil,
			[]string{"privacy.pseudonymize (line 10): pseudonymize is on, but the environment variable STRATA_PSEUDONYM_KEY is unset or empty"}},
		{"empty key in a named variable", "privacy:\n  pseudonymize: true\n  key_env: SHOP_KEY\n", map[string]string{"SHOP_KEY": ""},
			[]string{"privacy.key_env (line 12): pseudonymize is on, but the environment variable SHOP_KEY is unset or empty"}},
		{"bad variable name", "privacy: {key_env: 'my key'}\n", nil, []string{`privacy.key_env (line 10): must be the name of an environment variable`}},
		{"list without a path", "privacy:\n  suppression: {format: csv}\n", nil,
			[]string{"privacy.suppression.path (line 11): is required"}},
		{"list format and location", "privacy:\n  suppression: {location: 'ftp://x', format: xlsx}\n", nil,
			[]string{`privacy.suppression.location (line 11): unsupported location "ftp://x"`, `privacy.suppression.format (line 11): must be parquet, csv or auto, got "xlsx"`}},
		{"list typo", "privacy:\n  suppression: {path: x, colum: id}\n", nil,
			[]string{`privacy.suppression.colum (line 11): unknown key; did you mean "column"?`}},
		{"unknown personal column", "privacy:\n  publish_personal: [age_year, clv]\n", nil,
			[]string{`privacy.publish_personal[0] (line 11): "age_year" is not a personal column`, `did you mean "age_years"?`,
				`privacy.publish_personal[1] (line 11): "clv" is not a personal column`}},
		{"audience shows a personal column", "audiences:\n  - {name: a, filter: 'clv > 1', columns: [customer_id, city, postal_code_freq]}\n", nil,
			[]string{`audiences[0].columns (line 11): "city" is personal`, `"postal_code_freq" is personal`}},
		{"audience selects by a personal column", "audiences:\n  - {name: a, filter: 'age_years > 60'}\n", nil,
			[]string{`audiences[0].filter (line 11): selects by "age_years", which is personal`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(valid+c.yaml), withEnv(c.env))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("want Problems, got %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q missing from:\n%v", w, err)
				}
			}
		})
	}
	// Allowed, the same audience is no privacy problem (whether segments
	// has the column is the run's check).
	if _, err := Parse([]byte(valid+"privacy: {publish_personal: [age_years]}\naudiences:\n  - {name: a, filter: 'age_years > 60'}\n"), noEnv); err != nil {
		t.Errorf("an allowed personal column: %v", err)
	}
}

func TestPrivacyHash(t *testing.T) {
	base, err := Parse([]byte(valid), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	list := valid + "privacy:\n  suppression: {path: erasure}\n"
	withList, err := Parse([]byte(list), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		yaml string
		than *Config
		same bool
	}{
		{"a suppression list", list, base, false},
		{"the list's defaults spelt out", valid + "privacy:\n  suppression: {path: erasure, format: auto, column: customer_id}\n", withList, true},
		{"the list moved to its own location", valid + "privacy:\n  suppression: {path: erasure, location: 's3://compliance/lists'}\n", withList, true},
		{"another id column", valid + "privacy:\n  suppression: {path: erasure, column: id}\n", withList, false},
		{"the key's variable named", valid + "privacy: {key_env: STRATA_PSEUDONYM_KEY}\n", base, true},
		{"nothing personal spelt out", valid + "privacy: {publish_personal: []}\n", base, true},
		{"a personal column published", valid + "privacy: {publish_personal: [city_freq]}\n", base, false},
		{"the same columns in another order", valid + "privacy: {publish_personal: [city_freq, age_years, city_freq]}\n", nil, true},
	}
	ref, err := Parse([]byte(valid+"privacy: {publish_personal: [age_years, city_freq]}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			than := tc.than
			if than == nil {
				than = ref
			}
			if got := c.Hash() == than.Hash(); got != tc.same {
				t.Errorf("same hash = %v, want %v", got, tc.same)
			}
		})
	}
	pseud, err := Parse([]byte(valid+"privacy: {pseudonymize: true}\n"), withEnv(map[string]string{DefaultKeyEnv: testKey}))
	if err != nil {
		t.Fatal(err)
	}
	if pseud.Hash() == base.Hash() {
		t.Error("pseudonymising has the hash of publishing ids")
	}
}
