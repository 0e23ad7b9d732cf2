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
	"encoding/json"
	"fmt"
	"runtime"
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
	// never changes a result, only the time taken. At most MaxWorkers.
	Workers int     `yaml:"workers"`
	Storage Storage `yaml:"storage"`
	Input   Input   `yaml:"input"`
	Output  Output  `yaml:"output"`
	Quality Quality `yaml:"quality"`
	RFM     RFM     `yaml:"rfm"`
	CLV     CLV     `yaml:"clv"`
	Cluster Cluster `yaml:"cluster"`
	// Features configures the feature engine (windows, top levels, bands).
	Features Features `yaml:"features"`
	// Recommendations configures the next-best-category offers.
	Recommendations Recommendations `yaml:"recommendations"`
	// Audiences are customer lists for campaigns, published every run.
	Audiences []Audience `yaml:"audiences"`
	// Privacy: suppressed customers, pseudonymised ids and which personal
	// columns may be published.
	Privacy Privacy `yaml:"privacy"`
	// Fit: what the models are fitted on (a sample, for sharded runs).
	// A pointer, so that configurations without it keep their hash.
	Fit *Fit `yaml:"fit" json:",omitempty"`
	// Drift: the thresholds of the check against the previous run.
	Drift *Drift `yaml:"drift" json:",omitempty"`
	// Measurement: the windows measured after a campaign's start.
	Measurement *Measurement `yaml:"measurement" json:",omitempty"`
	Schedule    Schedule     `yaml:"schedule"`
	API         API          `yaml:"api"`

	// Operations (notify.go): alerts of `strata serve`. Not part of the
	// hash.
	Notify []Notify `yaml:"notify" json:",omitempty"`
}

// Storage says how to reach object stores. It applies to every s3://
// location of the config.
type Storage struct {
	S3 S3 `yaml:"s3"`
}

// S3 settings. Every field is optional: the AWS SDK's standard environment
// (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE) and
// credential chain apply to whatever is left unset. Credentials are never
// configured here: they come from the environment, a profile or a role.
type S3 struct {
	// Endpoint of an S3-compatible server (MinIO, Ceph, R2, versitygw),
	// e.g. http://127.0.0.1:7070; wins over AWS_ENDPOINT_URL_S3.
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
	// PathStyle addressing (http://host/bucket/key); default true when an
	// endpoint is set, false for AWS.
	PathStyle *bool `yaml:"path_style"`
	// MaxAttempts per request, with exponential backoff; default 5.
	MaxAttempts int `yaml:"max_attempts"`
	// MaxBackoff caps the wait between two attempts of a request; a Go
	// duration, default 20s (the AWS SDK's). A server on the same
	// network that throttles briefly is better retried sooner.
	MaxBackoff string `yaml:"max_backoff"`
}

// DefaultS3MaxBackoff is the AWS SDK standard retryer's own cap.
const DefaultS3MaxBackoff = 20 * time.Second

// Backoff returns MaxBackoff with its default.
func (s S3) Backoff() time.Duration { return durationOr(s.MaxBackoff, DefaultS3MaxBackoff) }

// Input says where the three logical tables live and how their columns are
// named.
type Input struct {
	// Location is a local directory or s3://bucket/prefix; table paths are
	// relative to it.
	Location  string `yaml:"location"`
	Orders    Table  `yaml:"orders"`
	Customers *Table `yaml:"customers"`
	Events    *Table `yaml:"events"`
	// IDs says how customer ids are normalised as they are read, in every
	// table alike.
	IDs IDs `yaml:"ids" json:",omitzero"`
	// FX converts the orders' amounts to one reporting currency, when the
	// orders have a currency column with more than one currency in it.
	FX *FX `yaml:"fx" json:",omitempty"`
}

// IDs are the customer id normalisations. Both default to on.
type IDs struct {
	// Trim removes surrounding whitespace from text ids (" 12346 " is
	// customer "12346").
	Trim *bool `yaml:"trim" json:",omitempty"`
	// IntegerFloats publishes an integer held in a floating-point or
	// decimal column, or written as text with a zero fraction
	// ("12346.0", "12346.00", "1.2346e+04"), as the integer ("12346").
	IntegerFloats *bool `yaml:"integer_floats" json:",omitempty"`
}

// TrimOn and IntegerFloatsOn resolve the defaults.
func (i IDs) TrimOn() bool          { return i.Trim == nil || *i.Trim }
func (i IDs) IntegerFloatsOn() bool { return i.IntegerFloats == nil || *i.IntegerFloats }

func (i IDs) resolved() IDs {
	if i.TrimOn() {
		i.Trim = nil
	}
	if i.IntegerFloatsOn() {
		i.IntegerFloats = nil
	}
	return i
}

// FX is a table of exchange rates: on each date, how many units of
// ReportingCurrency one unit of a currency is worth. An order is
// converted at the latest rate dated on or before its day.
type FX struct {
	ReportingCurrency string `yaml:"reporting_currency"`
	Path              string `yaml:"path"`
	Format            string `yaml:"format"`
	// Columns maps date, currency and rate to the table's columns; each
	// defaults to its own name.
	Columns map[string]string `yaml:"columns"`
	CSV     CSV               `yaml:"csv"`
}

// Grains an orders table may have; the first is the default.
var Grains = []string{"order", "line"}

// Rule is a row rule: a filter over the orders table's mapped logical
// columns, in the audience filter language (with like).
type Rule struct {
	Name string `yaml:"name" json:",omitempty"`
	When string `yaml:"when"`
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
	// Grain (orders only) is what a row is: an order (the default), or a
	// line of one, the rows sharing an order_id making up the order.
	Grain string `yaml:"grain" json:",omitempty"`
	// Returns (orders only) says which rows are returns or
	// cancellations: netted against the customer's spend, counted, never
	// a purchase on their own.
	Returns *Rule `yaml:"returns" json:",omitempty"`
	// Exclude (orders only) lists rules for rows that are not products
	// (postage, fees): such rows are excluded and counted by rule name.
	Exclude []Rule `yaml:"exclude" json:",omitempty"`
	// ZeroAmount (orders only) is what an order of amount 0 is: excluded
	// (the default; counted as zero_amount, not a purchase) or purchase.
	ZeroAmount string `yaml:"zero_amount" json:",omitempty"`
	// Attributes (customers only) are the user's own customer columns
	// made features: categorical ones one-hot like the built-in
	// attributes, numeric ones as they are.
	// (omitempty: unset, they leave the config hash as it was.)
	Attributes []Attribute `yaml:"attributes" json:",omitempty"`
	// Measures (orders only) are numeric order (line) columns summed per
	// customer over the purchases: <name>_total and <name>_share of the
	// purchase spend.
	Measures []Measure `yaml:"measures" json:",omitempty"`
	// Contact (customers only) maps the contact fields read for the
	// channel exports of audiences, and nothing else; Consent the consent
	// columns audiences may filter on (see campaign.go).
	Contact *ContactFields `yaml:"contact" json:",omitempty"`
	Consent *Consent       `yaml:"consent" json:",omitempty"`
}

// Attribute is one of the user's customer columns.
type Attribute struct {
	Column string `yaml:"column"`
	// Type is categorical or numeric.
	Type string `yaml:"type"`
	// Name is the feature's (prefix); default the column's name.
	Name string `yaml:"name"`
}

// Measure is one of the user's numeric order columns.
type Measure struct {
	Column string `yaml:"column"`
	// Name prefixes the features; default the column's name.
	Name string `yaml:"name"`
}

// FeatureName is the attribute's feature name.
func (a Attribute) FeatureName() string { return cmpOr(a.Name, a.Column) }

// FeatureName is the measure's feature prefix.
func (m Measure) FeatureName() string { return cmpOr(m.Name, m.Column) }

// OwnNames are the names of the configuration's own attributes and
// measures: the publish_personal entries that allow their features.
func (c *Config) OwnNames() []string {
	var out []string
	if t := c.Input.Customers; t != nil {
		for _, a := range t.Attributes {
			out = append(out, a.FeatureName())
		}
	}
	for _, m := range c.Input.Orders.Measures {
		out = append(out, m.FeatureName())
	}
	return out
}

// ZeroAmounts are the values zero_amount takes; the first is the default.
var ZeroAmounts = []string{"excluded", "purchase"}

// LineGrain reports whether the table's rows are order lines.
func (t *Table) LineGrain() bool { return t.Grain == "line" }

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
	// Compression is the Parquet codec of the published tables: zstd (the
	// default, the smallest files), snappy (faster to write and read,
	// larger files), or uncompressed. Every Parquet reader reads all three.
	// It changes the bytes published, so it is part of the config hash;
	// zstd spelled out hashes as the default does.
	Compression string `yaml:"compression" json:",omitempty"`
	// IntegerEncoding is how integer and timestamp columns whose values
	// do not repeat are encoded: delta (the default, DELTA_BINARY_PACKED:
	// smaller, and several times faster to write than PLAIN under zstd) or
	// plain, for readers that predate the delta encoding (Spark's
	// vectorized reader before 3.3). Columns that repeat their values are
	// dictionary-encoded either way. Part of the config hash, as
	// compression is.
	IntegerEncoding string `yaml:"integer_encoding" json:",omitempty"`
}

// Compressions are the values output.compression takes; the first is the
// default.
var Compressions = []string{"zstd", "snappy", "uncompressed"}

// IntegerEncodings are the values output.integer_encoding takes; the first
// is the default.
var IntegerEncodings = []string{"delta", "plain"}

// Quality holds the data-quality gate.
type Quality struct {
	// MaxBadFraction fails the run (exit code 3) when more than this share
	// of order rows is quarantined. Default 0.05.
	MaxBadFraction *float64 `yaml:"max_bad_fraction"`
	// Guests says what an order row without a customer id is: excluded
	// (the default; counted, its revenue reported as the guest share) or
	// bad (quarantined as missing_customer_id, toward the gate).
	Guests string `yaml:"guests" json:",omitempty"`
	// MaxStalenessDays fails the run (exit code 3) when the newest
	// accepted order is more than this many days before the as-of date.
	// Default 7; a negative value turns the check off.
	MaxStalenessDays *int `yaml:"max_staleness_days" json:",omitempty"`
}

// Guest policies; the first is the default.
var GuestPolicies = []string{"excluded", "bad"}

// DefaultMaxStalenessDays is quality.max_staleness_days' default.
const DefaultMaxStalenessDays = 7

// StalenessDays returns the configured staleness limit or its default;
// negative when the check is off.
func (q Quality) StalenessDays() int {
	if q.MaxStalenessDays == nil {
		return DefaultMaxStalenessDays
	}
	return *q.MaxStalenessDays
}

// GuestsBad reports whether guest orders are bad rows.
func (q Quality) GuestsBad() bool { return q.Guests == "bad" }

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

// WorkersPerCore bounds workers: at most this many per core Go may use
// (GOMAXPROCS, which follows the container's CPU quota). The pools decode,
// aggregate and fit: work for a core each, where more workers than cores
// only take turns — and each holds its own decode buffers and blocks, so
// memory grows with them. Four per core leaves room for workers waiting
// on object-store reads (S3 latency), which is where more than one per
// core pays.
const WorkersPerCore = 4

// MaxWorkers is the largest workers setting this process accepts.
func MaxWorkers() int { return WorkersPerCore * runtime.GOMAXPROCS(0) }

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
// with the same hash produce the same outputs from the same inputs. It is the
// JSON encoding (struct fields in declaration order, map keys sorted) of the
// config with every setting that cannot change an output blanked:
// locations (where the inputs live is captured by their fingerprints, and the
// same run published to two places must be the same bytes), storage access,
// the worker count, when and how runs are scheduled (schedule, api), and
// where the pseudonym key is read from (the key is never part of a Config's
// encoding; a run fingerprints it into its attempt id instead).
// New settings are covered without touching this.
func (c *Config) Hash() string {
	m := *c
	m.Input.Location, m.Output.Location = "", ""
	if m.Output.Compression == Compressions[0] {
		m.Output.Compression = ""
	}
	if m.Output.IntegerEncoding == IntegerEncodings[0] {
		m.Output.IntegerEncoding = ""
	}
	m.Storage = Storage{}
	m.Workers = 0
	m.Schedule, m.API, m.Notify = Schedule{}, API{}, nil
	// Defaults are resolved so that spelling one out keeps the hash.
	gate := c.Quality.Fraction()
	m.Quality.MaxBadFraction = &gate
	if m.Quality.Guests == GuestPolicies[0] {
		m.Quality.Guests = ""
	}
	if c.Quality.StalenessDays() == DefaultMaxStalenessDays {
		m.Quality.MaxStalenessDays = nil
	}
	if m.Input.Orders.ZeroAmount == ZeroAmounts[0] {
		m.Input.Orders.ZeroAmount = ""
	}
	if m.Input.Orders.Grain == Grains[0] {
		m.Input.Orders.Grain = ""
	}
	m.Input.IDs = c.Input.IDs.resolved()
	m.CLV = c.CLV.resolved()
	m.Cluster = c.Cluster.resolved()
	m.Features = c.Features.Resolved()
	m.Recommendations = c.Recommendations.resolved()
	m.Privacy = c.Privacy.resolved()
	m.Measurement = c.Measurement.resolved()
	if len(c.Audiences) > 0 {
		m.Audiences = make([]Audience, len(c.Audiences))
		for i, a := range c.Audiences {
			a.AudienceCampaign = a.AudienceCampaign.Resolved()
			m.Audiences[i] = a
		}
	}
	if c.Fit.Fraction() >= 1 {
		m.Fit = nil
	}
	m.Drift = c.Drift.resolved()
	data, err := json.Marshal(&m)
	if err != nil {
		// Only unsupported types make Marshal fail; Config has none.
		panic(fmt.Sprintf("config: hash: %v", err))
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
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
