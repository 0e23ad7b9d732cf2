// Package config loads and validates a Strata run configuration.
//
// A configuration is YAML. Loading is strict: an unknown key anywhere is an
// error (a typo in an optional setting must not silently fall back to a
// default), and every problem in the file is reported at once, each with its
// path and line, so a user fixes a config in one round trip. Scalar values may
// reference the environment as ${NAME} or ${NAME:-default}; expansion happens
// on parsed values, never on raw text, so a variable can not inject YAML.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Config is one pipeline's configuration.
type Config struct {
	// Version of the configuration format; 1 is the only one so far.
	Version int `yaml:"version"`
	// Seed makes every random choice of a run (sampling, k-means restarts)
	// reproducible.
	Seed uint64 `yaml:"seed"`
	// Timezone decides where an as-of day ends: a run for D sees every
	// record stamped before midnight at the end of D in this zone.
	Timezone string `yaml:"timezone"`
	// Workers bounds every worker pool of a run; 0 means GOMAXPROCS. It
	// never changes a result, only the time taken.
	Workers int     `yaml:"workers"`
	Input   Input   `yaml:"input"`
	Output  Output  `yaml:"output"`
	Quality Quality `yaml:"quality"`
	RFM     RFM     `yaml:"rfm"`
}

// Input says where the three logical tables live and how their columns are
// named.
type Input struct {
	// Location is a local directory or s3://bucket/prefix; table paths are
	// relative to it.
	Location  string `yaml:"location"`
	Orders    Table  `yaml:"orders"`
	Customers *Table `yaml:"customers"`
	Events    *Table `yaml:"events"`
}

// Table is one logical input table: every object under Path with the
// format's extension.
type Table struct {
	Path string `yaml:"path"`
	// Format is parquet, csv, or auto (by each object's extension).
	Format string `yaml:"format"`
	// Columns maps Strata's logical column names to the user's.
	Columns map[string]string `yaml:"columns"`
	CSV     CSV               `yaml:"csv"`
}

// CSV holds options for CSV inputs.
type CSV struct {
	// Delimiter is a single character; default ",".
	Delimiter string `yaml:"delimiter"`
	// TimeLayouts are extra Go time layouts tried, in order, after the
	// built-in ones (RFC 3339, "2006-01-02 15:04:05", "2006-01-02",
	// "20060102").
	TimeLayouts []string `yaml:"time_layouts"`
}

// Output says where published tables go.
type Output struct {
	Location string `yaml:"location"`
}

// Quality holds the data-quality gate.
type Quality struct {
	// MaxBadFraction fails the run (exit code 3) when more than this share
	// of order rows is quarantined. Default 0.05.
	MaxBadFraction *float64 `yaml:"max_bad_fraction"`
}

// RFM configures the RFM scoring.
type RFM struct {
	// Segments overrides the default R×F grid. Each rule names a segment
	// and the R and F score ranges it covers; the rules must cover all 25
	// cells exactly once.
	Segments []SegmentRule `yaml:"segments"`
}

// SegmentRule assigns the cells R in [RMin, RMax] × F in [FMin, FMax].
type SegmentRule struct {
	Name string `yaml:"name"`
	R    [2]int `yaml:"r"`
	F    [2]int `yaml:"f"`
}

// Defaults applied after loading.
const (
	DefaultMaxBadFraction = 0.05
)

// MaxBadFraction returns the configured gate or its default.
func (q Quality) Fraction() float64 {
	if q.MaxBadFraction == nil {
		return DefaultMaxBadFraction
	}
	return *q.MaxBadFraction
}

// Location returns the configured time zone (UTC when unset).
func (c *Config) Location() *time.Location {
	if c.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC // Validate rejects this before any run starts.
	}
	return loc
}

// Hash is a stable fingerprint of the configuration's meaning: two configs
// with the same hash produce the same outputs from the same inputs. Map keys
// are sorted, so the hash does not depend on YAML key order or formatting.
// Locations are left out on purpose: where the inputs live is captured by
// their fingerprints, and the same run published to two places must be the
// same bytes.
func (c *Config) Hash() string {
	h := sha256.New()
	writeCanonical(h, c)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func writeCanonical(w interface{ Write([]byte) (int, error) }, c *Config) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("v%d seed=%d tz=%q workers-ignored\n", c.Version, c.Seed, c.Timezone)
	tbl := func(name string, t *Table) {
		if t == nil {
			p("%s=nil\n", name)
			return
		}
		p("%s path=%q format=%q delim=%q layouts=%q\n", name, t.Path, t.Format, t.CSV.Delimiter, t.CSV.TimeLayouts)
		keys := make([]string, 0, len(t.Columns))
		for k := range t.Columns {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p(" %q=%q", k, t.Columns[k])
		}
		p("\n")
	}
	tbl("orders", &c.Input.Orders)
	tbl("customers", c.Input.Customers)
	tbl("events", c.Input.Events)
	p("gate=%v\n", c.Quality.Fraction())
	for _, s := range c.RFM.Segments {
		p("seg %q %v %v\n", s.Name, s.R, s.F)
	}
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	Path string // dotted path in the file, e.g. input.orders.columns
	Line int    // 1-based; 0 when the problem is about a missing key
	Msg  string
}

func (p Problem) String() string {
	loc := p.Path
	if loc == "" {
		loc = "(top level)"
	}
	if p.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", loc, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, p.Msg)
}

// Problems is every problem found in a configuration; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) in configuration:", len(ps))
	for _, p := range ps {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}
