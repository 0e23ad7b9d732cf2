package config

import (
	"slices"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
)

// Features configures the feature engine; every setting is optional and
// maps onto features.Options, whose defaults apply to what is left unset.
type Features struct {
	// WindowsDays are the trailing windows, in days ending with the as-of
	// day, of orders_<w>d, spend_<w>d and the engagement counts; strictly
	// increasing. Default [30, 90, 365].
	WindowsDays []int `yaml:"windows_days"`
	// TopCategories is how many categories (by overall purchase spend)
	// get a cat_share_* feature; the rest make cat_share_other. Default 8.
	TopCategories int `yaml:"top_categories"`
	// TopChannels is the same for channel_share_* (by orders). Default 8.
	TopChannels int `yaml:"top_channels"`
	// TopInterests is how many interests (by customers listing them) get
	// an interest_* indicator. Default 10.
	TopInterests int `yaml:"top_interests"`
	// MaxLevels caps the indicators of a one-hot attribute (the most
	// common levels; the rest make <attr>_other). Default 12.
	MaxLevels int `yaml:"max_levels"`
	// AgeBands are the edges of the age bands in years. Default
	// [18, 25, 35, 45, 55, 65].
	AgeBands []int `yaml:"age_bands"`
	// IncomeBands are the edges of the income bands. Default
	// [25000, 50000, 75000, 100000, 150000].
	IncomeBands []float64 `yaml:"income_bands"`
	// Encodings chooses onehot or frequency per categorical attribute
	// (gender, education, occupation, country, region, city, postal_code,
	// device, os). Defaults: frequency for region, city and postal_code,
	// onehot for the others.
	Encodings map[string]string `yaml:"encodings"`
	// Events says which event types are email opens, clicks and sessions.
	Events FeatureEvents `yaml:"events"`
	// Publish writes the whole feature table, one row per customer, to
	// features/dt=D/ with the run. Off by default: it holds encodings of
	// personal attributes (age, income, places), which should leave the
	// pipeline only when someone decides they may.
	Publish bool `yaml:"publish"`
}

// FeatureEvents maps event types to the engagement counts.
type FeatureEvents struct {
	Opens    []string `yaml:"opens"`    // default [email_open]
	Clicks   []string `yaml:"clicks"`   // default [email_click]
	Sessions []string `yaml:"sessions"` // default [web_session, app_session]
}

// Options returns the feature options the section describes (Workers and
// what the CLV stage needs are the run's to set).
func (f Features) Options() features.Options {
	o := features.Options{
		WindowsDays: f.WindowsDays, TopCategories: f.TopCategories, TopChannels: f.TopChannels,
		TopInterests: f.TopInterests, MaxLevels: f.MaxLevels, AgeBands: f.AgeBands, IncomeBands: f.IncomeBands,
		OpenEvents: f.Events.Opens, ClickEvents: f.Events.Clicks, SessionEvents: f.Events.Sessions,
	}
	if len(f.Encodings) > 0 {
		o.Encodings = map[string]features.Encoding{}
		for k, v := range f.Encodings {
			o.Encodings[k] = features.Encoding(v)
		}
	}
	return o
}

// Resolved returns the section with every default spelt out, so that a
// config hash does not change when someone writes a default down.
func (f Features) Resolved() Features {
	o := features.Resolve(f.Options())
	r := Features{WindowsDays: o.WindowsDays, TopCategories: o.TopCategories, TopChannels: o.TopChannels,
		TopInterests: o.TopInterests, MaxLevels: o.MaxLevels, AgeBands: o.AgeBands, IncomeBands: o.IncomeBands,
		Encodings: map[string]string{}, Events: FeatureEvents{Opens: o.OpenEvents, Clicks: o.ClickEvents, Sessions: o.SessionEvents},
		Publish: f.Publish}
	for k, v := range o.Encodings {
		r.Encodings[k] = string(v)
	}
	return r
}

// validate reports each problem under the key it is about.
func (f Features) validate(report func(path, msg string, args ...any)) {
	found := false
	add := func(path, msg string, args ...any) {
		found = true
		report(path, msg, args...)
	}
	for i, w := range f.WindowsDays {
		if i > 0 && w <= f.WindowsDays[i-1] {
			add("features.windows_days", "must be strictly increasing, got %v", f.WindowsDays)
			break
		}
	}
	for _, w := range f.WindowsDays {
		if w < 1 || w > 36600 {
			add("features.windows_days", "%d is not between 1 and 36600 days", w)
		}
	}
	if len(f.WindowsDays) > 16 {
		add("features.windows_days", "at most 16 windows, got %d", len(f.WindowsDays))
	}
	for _, c := range []struct {
		key string
		v   int
	}{{"top_categories", f.TopCategories}, {"top_channels", f.TopChannels}, {"top_interests", f.TopInterests}, {"max_levels", f.MaxLevels}} {
		if c.v < 0 || c.v > 256 {
			add("features."+c.key, "must be between 1 and 256 (0 or unset: the default), got %d", c.v)
		}
	}
	for i, a := range f.AgeBands {
		if a < 1 || a > 150 || (i > 0 && a <= f.AgeBands[i-1]) {
			add("features.age_bands", "must be strictly increasing ages between 1 and 150, got %v", f.AgeBands)
			break
		}
	}
	for i, v := range f.IncomeBands {
		if !(v > 0) || (i > 0 && v <= f.IncomeBands[i-1]) {
			add("features.income_bands", "must be strictly increasing positive amounts, got %v", f.IncomeBands)
			break
		}
	}
	for k, v := range f.Encodings {
		if !slices.Contains(extract.Attrs[:], k) {
			add("features.encodings."+k, "%q is not a categorical customer attribute; known: %v", k, extract.Attrs)
		}
		if v != string(features.OneHot) && v != string(features.Frequency) {
			add("features.encodings."+k, "must be %s or %s, got %q", features.OneHot, features.Frequency, v)
		}
	}
	// What the checks above let through is checked by the engine's own
	// rules too, so the config accepts exactly what a run can use.
	if err := f.Options().Validate(); err != nil && !found {
		add("features", "%v", err)
	}
}
