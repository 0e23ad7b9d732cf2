package privacy

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/features"
)

// TestPseudonymIsHMACSHA256 checks the pseudonym against RFC 4231's first
// HMAC-SHA256 test case, so the published ids can be reproduced by any
// HMAC implementation given the key.
func TestPseudonymIsHMACSHA256(t *testing.T) {
	p, err := NewPseudonymizer(bytes.Repeat([]byte{0x0b}, 20))
	if err != nil {
		t.Fatal(err)
	}
	const want = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
	if got := p.ID("Hi There"); got != want {
		t.Errorf("pseudonym %s, want %s", got, want)
	}
	// The pooled hashes are reset between ids.
	if p.ID("Hi There") != want || p.ID("") == want {
		t.Error("pseudonyms depend on what was hashed before")
	}
}

func TestPseudonymizer(t *testing.T) {
	key := []byte("a test key of 32 bytes, no more.")
	p, err := NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 20000)
	for i := range ids {
		ids[i] = fmt.Sprintf("C%08d", i+1)
	}
	col := p.IDs(strcol.Of(ids...), 4)
	got := col.Strings()
	seen := map[string]bool{}
	for i, g := range got {
		if g != p.ID(ids[i]) {
			t.Fatalf("id %d: parallel %s, alone %s", i, g, p.ID(ids[i]))
		}
		if len(g) != 64 || strings.Trim(g, "0123456789abcdef") != "" {
			t.Fatalf("pseudonym %q is not 64 lower-case hex digits", g)
		}
		if seen[g] {
			t.Fatalf("two ids share pseudonym %s", g)
		}
		seen[g] = true
	}
	other, err := NewPseudonymizer(append(key[:len(key)-1:len(key)-1], '!'))
	if err != nil {
		t.Fatal(err)
	}
	if other.ID(ids[0]) == got[0] {
		t.Error("another key gives the same pseudonym")
	}
	if fp := p.Fingerprint(); len(fp) != 16 || fp == other.Fingerprint() || strings.Contains(fp, string(key)) {
		t.Errorf("fingerprints %s and %s", fp, other.Fingerprint())
	}
	// The caller's slice can change without changing the pseudonyms.
	key[0] = 'X'
	if p.ID(ids[0]) != got[0] {
		t.Error("the pseudonymizer shares the caller's key bytes")
	}

	_, err = NewPseudonymizer([]byte("too-short"))
	if err == nil || strings.Contains(err.Error(), "too-short") {
		t.Errorf("short key: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	age := features.Feature{Name: "age_years", Source: "customers.birth_date"}
	ageFromAge := features.Feature{Name: "age_years", Source: "customers.age"}
	cityFreq := features.Feature{Name: "city_freq", Source: "customers.city"}
	postFreq := features.Feature{Name: "postal_code_freq", Source: "customers.postal_code"}
	cityHot := features.Feature{Name: "city_berlin", Source: "customers.city", Group: "city", Level: "Berlin"}
	cityUnknown := features.Feature{Name: "city_unknown", Source: "customers.city", Group: "city", Level: "unknown"}
	ageBand := features.Feature{Name: "age_band_25_34", Source: "customers.birth_date", Group: "age_band"}
	region := features.Feature{Name: "region_freq", Source: "customers.region"}
	recency := features.Feature{Name: "recency_days", Source: "orders"}
	all := []features.Feature{age, ageFromAge, cityFreq, postFreq, cityHot, cityUnknown, ageBand, region, recency}
	cases := []struct {
		publish []string
		allowed []features.Feature // the rest of all is withheld
	}{
		{nil, []features.Feature{ageBand, region, recency}},
		{[]string{"age_years"}, []features.Feature{age, ageFromAge, ageBand, region, recency}},
		{[]string{"birth_date"}, []features.Feature{age, ageBand, region, recency}},
		{[]string{"city_freq"}, []features.Feature{cityFreq, ageBand, region, recency}},
		{[]string{"city"}, []features.Feature{cityFreq, cityHot, cityUnknown, ageBand, region, recency}},
		{Names(), all},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.publish, ","), func(t *testing.T) {
			pol := NewPolicy(tc.publish)
			for _, f := range all {
				want := false
				for _, a := range tc.allowed {
					want = want || a == f
				}
				got := pol.Feature(f)
				if got != want {
					t.Errorf("%s from %s: may publish = %v, want %v", f.Name, f.Source, got, want)
				}
				// By name alone, a column is never allowed where
				// the feature is not.
				if pol.Column(f.Name) && !got {
					t.Errorf("column %s allowed by name, not as a feature", f.Name)
				}
			}
		})
	}
	for _, c := range []string{"birth_date", "age", "city", "postal_code", "city_freq", "postal_code_12345", "age_years"} {
		if NewPolicy(nil).Column(c) {
			t.Errorf("%s is published by default", c)
		}
	}
	if w := NewPolicy([]string{"city", "age_years"}).Withheld(); !w["birth_date"] || !w["age"] || !w["postal_code"] || w["city"] || w["age_years"] {
		t.Errorf("withheld attributes %v", w)
	}
}
