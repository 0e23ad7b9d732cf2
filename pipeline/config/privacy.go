package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/strata-oss/strata/pipeline/audience"
	"github.com/strata-oss/strata/pipeline/privacy"
)

// Privacy says what a run may publish about people. See package
// pipeline/privacy for the rules.
type Privacy struct {
	// Suppression is a table of customer ids that no output may mention
	// (erasure requests, opt-outs): their rows are dropped from every input
	// table as it is read, before any model sees them.
	Suppression *Suppression `yaml:"suppression"`
	// Pseudonymize publishes every customer id as the hex HMAC-SHA256 of
	// the id under a secret key, instead of the id.
	Pseudonymize bool `yaml:"pseudonymize"`
	// KeyEnv names the environment variable holding that key; default
	// STRATA_PSEUDONYM_KEY. The key itself never appears in a config file.
	KeyEnv string `yaml:"key_env"`
	// PublishPersonal lists the personal columns published tables may
	// carry (privacy.Names): none by default.
	PublishPersonal []string `yaml:"publish_personal"`

	// key is read from KeyEnv when the configuration is loaded. It is a
	// pointer so that printing a Config shows an address, not the key,
	// and unexported so that neither YAML, JSON nor Hash ever see it.
	key *secret
}

// secret holds key material.
type secret struct{ b []byte }

// String keeps the key out of anything that formats it.
func (*secret) String() string { return "[redacted]" }

// Suppression is where the suppression list lives: a table like the input
// tables, with one column of customer ids.
type Suppression struct {
	// Location is a local directory or s3://bucket/prefix; default
	// input.location. A list kept apart from the shop's data (a compliance
	// bucket) sets it.
	Location string `yaml:"location"`
	// Path is the prefix of the list's objects under the location.
	// Required unless Location is set.
	Path string `yaml:"path"`
	// Format is parquet, csv or auto (by extension).
	Format string `yaml:"format"`
	// Column holds the customer ids; default customer_id.
	Column string `yaml:"column"`
	CSV    CSV    `yaml:"csv"`
}

// DefaultKeyEnv is where the pseudonym key is read from by default.
const DefaultKeyEnv = "STRATA_PSEUDONYM_KEY"

// KeyVar returns KeyEnv with its default.
func (p Privacy) KeyVar() string { return cmpOr(p.KeyEnv, DefaultKeyEnv) }

// Key returns the pseudonym key read when the configuration was loaded;
// nil when pseudonymisation is off or the config was not loaded by Parse.
func (p Privacy) Key() []byte {
	if p.key == nil {
		return nil
	}
	return p.key.b
}

// IDColumn returns the suppression list's id column with its default.
func (s Suppression) IDColumn() string { return cmpOr(s.Column, "customer_id") }

// Policy returns what the section allows to be published.
func (p Privacy) Policy() privacy.Policy { return privacy.NewPolicy(p.PublishPersonal) }

// resolved is the section as Hash sees it: the key, where it is read from
// and where the list lives cannot change an output by themselves (the
// list's content is fingerprinted with the inputs, the key's in the
// attempt id), so they are blanked; defaults are spelt out.
func (p Privacy) resolved() Privacy {
	r := Privacy{Pseudonymize: p.Pseudonymize}
	if s := p.Suppression; s != nil {
		r.Suppression = &Suppression{Path: s.Path, Format: cmpOr(s.Format, "auto"), Column: s.IDColumn(), CSV: s.CSV}
	}
	r.PublishPersonal = slices.Compact(slices.Sorted(slices.Values(p.PublishPersonal)))
	return r
}

// loadKey reads the pseudonym key from the environment, so that a missing
// one is a configuration problem found by `strata validate`, not a run
// that fails at night. Messages name the variable, never its value.
func (p *Privacy) loadKey(lookup func(string) (string, bool), add func(path, msg string, args ...any)) {
	if !p.Pseudonymize {
		return
	}
	path := "privacy.pseudonymize"
	if p.KeyEnv != "" {
		path = "privacy.key_env"
	}
	name := p.KeyVar()
	if !envName.MatchString(name) {
		return // validate reports the name
	}
	v, _ := lookup(name)
	switch {
	case v == "":
		add(path, "pseudonymize is on, but the environment variable %s is unset or empty: set it to a secret of at least %d bytes (e.g. openssl rand -hex 32)",
			name, privacy.MinKeyBytes)
	case len(v) < privacy.MinKeyBytes:
		add(path, "the key in %s has %d bytes; use at least %d (e.g. openssl rand -hex 32)", name, len(v), privacy.MinKeyBytes)
	default:
		p.key = &secret{b: []byte(v)}
	}
}

func (c *Config) validatePrivacy(add func(path, msg string, args ...any)) {
	p := c.Privacy
	if s := p.Suppression; s != nil {
		if s.Location != "" {
			if err := checkLocation(s.Location); err != nil {
				add("privacy.suppression.location", "%v", err)
			}
		} else if s.Path == "" {
			add("privacy.suppression.path", "is required: the list's prefix under input.location (or set privacy.suppression.location)")
		}
		switch s.Format {
		case "", "auto", "parquet", "csv":
		default:
			add("privacy.suppression.format", "must be parquet, csv or auto, got %q", s.Format)
		}
		if s.Column != "" && strings.TrimSpace(s.Column) == "" {
			add("privacy.suppression.column", "is an empty column name")
		}
		if d := s.CSV.Delimiter; d != "" && len([]rune(d)) != 1 {
			add("privacy.suppression.csv.delimiter", "must be a single character, got %q", d)
		}
	}
	if e := p.KeyEnv; e != "" && !envName.MatchString(e) {
		add("privacy.key_env", "must be the name of an environment variable (letters, digits, _), got %q", e)
	}
	names := append(privacy.Names(), c.OwnNames()...)
	for i, n := range p.PublishPersonal {
		if !slices.Contains(names, n) {
			msg := fmt.Sprintf("%q is not a personal column; known: %s", n, strings.Join(names, ", "))
			if s := closest(n, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			add(fmt.Sprintf("privacy.publish_personal[%d]", i), "%s", msg)
		}
	}
	// An audience that shows or selects by a personal column would
	// publish it: its members' values, or membership that implies them.
	pol := p.Policy()
	own := c.OwnNames()
	personal := func(col string) bool {
		for _, n := range own {
			if (col == n || strings.HasPrefix(col, n+"_")) && !slices.Contains(p.PublishPersonal, n) {
				return true
			}
		}
		return !pol.Column(col)
	}
	for i, a := range c.Audiences {
		for _, col := range a.Columns {
			if personal(col) {
				add(fmt.Sprintf("audiences[%d].columns", i), "%q is personal: audiences publish it only when privacy.publish_personal lists it", col)
			}
		}
		f, err := audience.Compile(a.Filter, nil)
		if err != nil {
			continue // validateAudiences reports it
		}
		for _, col := range f.Columns() {
			if personal(col) {
				add(fmt.Sprintf("audiences[%d].filter", i), "selects by %q, which is personal: membership would publish it; list it in privacy.publish_personal to allow this", col)
			}
		}
	}
}
