package cluster

import (
	"math/rand/v2"
	"strings"
	"testing"
)

var shopFeatures = []NameFeature{
	{Name: "recency_days", High: "lapsed", Low: "recent", Kind: KindRecency},
	{Name: "frequency", High: "frequent", Low: "infrequent"},
	{Name: "monetary_value", High: "high spend", Low: "low spend"},
	{Name: "clv", High: "high value", Low: "low value"},
	{Name: "p_alive", High: "likely active", Low: "likely churned", Kind: KindActivity},
	{Name: "spend_90d", High: "high spend (90d)", Low: "low spend (90d)"},
	{Name: "tenure_days", High: "long-standing", Low: "new"},
}

func TestDescriptiveNamesSameWordsClash(t *testing.T) {
	feats := []NameFeature{{Name: "recency_days", High: "lapsed", Low: "recent", Kind: KindRecency},
		{Name: "tenure_days", High: "long-standing", Low: "new"}, {Name: "frequency", High: "frequent", Low: "infrequent"}}
	ps := []Profile{{ID: 1, Z: []float64{-0.8, -1.4, -0.55}}, {ID: 2, Z: []float64{-1.0, -0.7, 0.3}}}
	names, err := DescriptiveNames(ps, feats, NameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nameKey(names[0]) == nameKey(names[1]) {
		t.Errorf("names %q say the same thing", names)
	}
	t.Log(names)
}

func TestDescriptiveNamesExample(t *testing.T) {
	ps := []Profile{
		{ID: 0, Z: []float64{-0.8, 1.9, 1.2, 1.1, 0.9, 1.0, 0.1}},
		{ID: 1, Z: []float64{1.6, -0.9, -0.2, -0.7, -1.4, -0.6, 0.3}},
		{ID: 2, Z: []float64{0.1, 0.1, 0.0, 0.1, -0.1, 0.2, 0.1}},
	}
	names, err := DescriptiveNames(ps, shopFeatures, NameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Frequent · high spend", "Lapsed · likely churned", "Typical"}
	for j := range want {
		if names[j] != want[j] {
			t.Errorf("cluster %d named %q, want %q", j, names[j], want[j])
		}
	}
}

// Random profiles: names are unique (as sets of words: "New · recent" and
// "Recent · new" are the same name), never repeat a word, and never call
// a cluster that is lapsed by its recency and P(alive) "recent" or
// "active" (nor an active one "lapsed" or "churned") — even when the
// recency labels are configured the wrong way round.
func TestDescriptiveNamesUniqueAndConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	swapped := append([]NameFeature(nil), shopFeatures...)
	swapped[0] = NameFeature{Name: "recency_days", High: "recent", Low: "lapsed", Kind: KindRecency}
	for trial := range 400 {
		feats := shopFeatures
		if trial%2 == 1 {
			feats = swapped
		}
		k := 2 + rng.IntN(9)
		ps := make([]Profile, k)
		for j := range ps {
			z := make([]float64, len(feats))
			for t := range z {
				z[t] = rng.NormFloat64()
				if rng.IntN(4) == 0 {
					z[t] *= 0.1
				}
			}
			if trial%5 == 0 && j > 0 {
				copy(z, ps[0].Z) // identical profiles must still get unique names
			}
			ps[j] = Profile{ID: 10 + j, Z: z}
		}
		names, err := DescriptiveNames(ps, feats, NameOptions{})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for j, n := range names {
			if seen[nameKey(n)] {
				t.Fatalf("trial %d: duplicate name %q in %q", trial, n, names)
			}
			seen[nameKey(n)] = true
			ws := map[string]bool{}
			for _, w := range words(n) {
				if ws[w] {
					t.Fatalf("trial %d: %q repeats %q", trial, n, w)
				}
				ws[w] = true
			}
			side := ps[j].Z[0] - ps[j].Z[4]
			lower := strings.ToLower(n)
			if side > 0 && (strings.Contains(lower, "recent") || strings.Contains(lower, "active")) {
				t.Fatalf("trial %d: lapsed cluster (recency z %.2f, P(alive) z %.2f) named %q", trial, ps[j].Z[0], ps[j].Z[4], n)
			}
			if side < 0 && (strings.Contains(lower, "lapsed") || strings.Contains(lower, "churned")) {
				t.Fatalf("trial %d: active cluster (recency z %.2f, P(alive) z %.2f) named %q", trial, ps[j].Z[0], ps[j].Z[4], n)
			}
		}
	}
}

// Features without labels (what `strata cluster` names a file's columns
// by): opposite clusters made of the same two features get different
// names without falling back to ids, two generated terms share "high",
// every term's direction is the sign of its z, and a lapsed cluster's
// name never says its recency is low.
func TestDescriptiveNamesGeneratedLabels(t *testing.T) {
	feats := []NameFeature{{Name: "recency_days", Kind: KindRecency}, {Name: "frequency"}, {Name: "avg_order_value"}}
	ps := []Profile{
		{ID: 0, Z: []float64{1.2, -1.0, 0.1}},
		{ID: 1, Z: []float64{-1.1, 1.3, 0.0}},
		{ID: 2, Z: []float64{0.1, 0.9, 0.8}},
		{ID: 3, Z: []float64{0.05, -0.1, 0.02}},
	}
	names, err := DescriptiveNames(ps, feats, NameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"High recency_days · low frequency", "High frequency · low recency_days", "High frequency · high avg_order_value", "Typical"}
	for j := range want {
		if names[j] != want[j] {
			t.Errorf("cluster %d named %q, want %q", j, names[j], want[j])
		}
	}
	for j, n := range names {
		for _, term := range strings.Split(strings.ToLower(n), " · ") {
			for f, ft := range feats {
				if term == "high "+ft.Name && ps[j].Z[f] <= 0 || term == "low "+ft.Name && ps[j].Z[f] >= 0 {
					t.Errorf("cluster %d (z %v) named %q: %q contradicts z", j, ps[j].Z, n, term)
				}
			}
		}
	}
}
