package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-oss/strata/pipeline/features"
)

func TestFeaturesSection(t *testing.T) {
	cfg, err := Parse([]byte(valid+`features:
  windows_days: [7, 28]
  top_categories: 3
  max_levels: 5
  age_bands: [30, 60]
  income_bands: [40000]
  encodings: {country: frequency, city: onehot}
  events:
    opens: [open]
    sessions: [visit, app_open]
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Features.Options()
	if !reflect.DeepEqual(o.WindowsDays, []int{7, 28}) || o.TopCategories != 3 || o.MaxLevels != 5 ||
		!reflect.DeepEqual(o.AgeBands, []int{30, 60}) || !reflect.DeepEqual(o.IncomeBands, []float64{40000}) ||
		o.Encodings["country"] != features.Frequency || o.Encodings["city"] != features.OneHot ||
		!reflect.DeepEqual(o.OpenEvents, []string{"open"}) || !reflect.DeepEqual(o.SessionEvents, []string{"visit", "app_open"}) {
		t.Errorf("options %+v", o)
	}
	// Unset settings are the engine's defaults.
	r := features.Resolve(o)
	if r.TopChannels != features.DefaultTopChannels || r.ClickEvents[0] != "email_click" || r.Encodings["gender"] != features.OneHot {
		t.Errorf("defaults %+v", r)
	}
	// Spelling a default out does not change the resolved section.
	plain, err := Parse([]byte(valid), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	spelt, err := Parse([]byte(valid+"features:\n  windows_days: [30, 90, 365]\n  top_interests: 10\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain.Features.Resolved(), spelt.Features.Resolved()) {
		t.Error("resolved sections differ")
	}
}

func TestFeaturesProblems(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"windows not increasing", "features:\n  windows_days: [90, 30]\n", []string{"features.windows_days (line 11): must be strictly increasing"}},
		{"window too long", "features:\n  windows_days: [0]\n", []string{"features.windows_days (line 11): 0 is not between 1 and 36600"}},
		{"negative top", "features:\n  top_categories: -1\n", []string{"features.top_categories (line 11): must be between 1 and 256"}},
		{"bands", "features:\n  age_bands: [30, 20]\n  income_bands: [0]\n",
			[]string{"features.age_bands (line 11)", "features.income_bands (line 12)"}},
		{"encoding", "features:\n  encodings: {shoe_size: onehot, city: binary}\n",
			[]string{`features.encodings.shoe_size`, `"shoe_size" is not a categorical customer attribute`, `features.encodings.city`, `must be onehot or frequency, got "binary"`}},
		{"typo", "features:\n  top_categores: 3\n", []string{`features.top_categores (line 11): unknown key; did you mean "top_categories"?`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(valid+c.yaml), noEnv)
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
}
