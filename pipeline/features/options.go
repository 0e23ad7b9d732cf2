package features

import (
	"fmt"
	"slices"

	"github.com/strata-oss/strata/pipeline/extract"
)

// Encoding is how a categorical customer attribute becomes features.
type Encoding string

const (
	// OneHot gives each of the attribute's most common levels (up to
	// Options.MaxLevels) an indicator, plus <attr>_other and
	// <attr>_unknown.
	OneHot Encoding = "onehot"
	// Frequency gives one feature, <attr>_freq: the share of the run's
	// customers that have the customer's level; null when unknown. It
	// suits attributes with too many levels to one-hot (city, postal code).
	Frequency Encoding = "frequency"
)

// DefaultEncodings is the encoding of each attribute of extract.Attrs.
func DefaultEncodings() map[string]Encoding {
	return map[string]Encoding{
		"gender": OneHot, "education": OneHot, "occupation": OneHot, "device": OneHot, "os": OneHot,
		"country": OneHot, "region": Frequency, "city": Frequency, "postal_code": Frequency,
		"marital_status": OneHot, "household_size": OneHot, "children": OneHot, "home_ownership": OneHot,
		"age_group": OneHot, "income_group": OneHot,
	}
}

// Options configure the features. The zero value of every field means its
// default (DefaultOptions).
type Options struct {
	// Workers bounds the decoding pool and the number of aggregation
	// shards; ≤ 0 means GOMAXPROCS. It never changes a result.
	Workers int
	// OrderTap, when set, sees every order block the engine is given,
	// before it does, on the extraction's one sink goroutine and in input
	// order: a caller that needs some orders as they were cleaned (the
	// run's measurement of earlier runs) reads them in the same pass. It
	// must not keep the block or its slices' strings, nor change them.
	OrderTap func(*extract.OrderBlock)
	// shardRows is the fewest input rows a shard is made for (0: a page
	// of records); tests lower it to have many shards of little data.
	shardRows int
	// scanEveryBlock makes the category mix read every block's rows even
	// when it is settled (tests: the skip must change nothing).
	scanEveryBlock bool
	// batchRows, when positive, makes every shard of directly addressed
	// ids hold back clean order rows and apply them sorted by record, this
	// many at a time, whatever the customers; negative, never (batchFor).
	// Tests: the sorted batches must change nothing.
	batchRows int
	// fillRows, when set, is the customers of a fill block instead of
	// fillChunk..fillBlock (tests: many blocks on a small shop).
	fillRows int
	// WindowsDays are the trailing windows for orders_<w>d, spend_<w>d and
	// the engagement counts: the w days ending with the as-of day.
	// Default 30, 90, 365.
	WindowsDays []int
	// TopCategories: the categories with the largest overall purchase spend
	// each get a share feature; the others add up to cat_share_other.
	// Default 8.
	TopCategories int
	// TopChannels: likewise for the channel mix (shares of orders).
	// Default 8.
	TopChannels int
	// TopInterests: the interests most customers list each get a multi-hot
	// feature. Default 10.
	TopInterests int
	// MaxLevels caps the indicator columns of a one-hot attribute.
	// Default 12.
	MaxLevels int
	// AgeBands are the band edges in years: bands are under the first
	// edge, between consecutive edges, and from the last one up.
	// Default 18, 25, 35, 45, 55, 65.
	AgeBands []int
	// IncomeBands are the income band edges, in the income column's unit.
	// Default 25000, 50000, 75000, 100000, 150000.
	IncomeBands []float64
	// Encodings overrides DefaultEncodings per attribute.
	Encodings map[string]Encoding
	// OpenEvents, ClickEvents and SessionEvents are the event types counted
	// as email opens, email clicks and sessions. Defaults email_open;
	// email_click; web_session, app_session.
	OpenEvents, ClickEvents, SessionEvents []string
	// Repeat keeps what the CLV summaries need beyond the RFM features:
	// each customer's spend on the days after their first purchase day
	// (Behaviour.RepeatSpend). It costs three words per customer.
	Repeat bool
	// CalibrationDays, when positive, also gives each customer's distinct
	// purchase days and last purchase day up to CalibrationDays before the
	// as-of day (Behaviour.CalDays, CalLast), for the CLV holdout check.
	CalibrationDays int
	// Vocabulary, when set, fixes the table's columns (see Vocabulary)
	// instead of learning them from the customers read.
	Vocabulary *Vocabulary
	// Own are the customers table's own attributes, in the order of the
	// extract's Table.Own; Measures the orders table's own columns, by
	// name, likewise. Their features are personal (Feature.Personal).
	Own      []OwnAttribute
	Measures []Measure
}

// Defaults.
var (
	DefaultWindowsDays = []int{30, 90, 365}
	DefaultAgeBands    = []int{18, 25, 35, 45, 55, 65}
	DefaultIncomeBands = []float64{25_000, 50_000, 75_000, 100_000, 150_000}
)

const (
	DefaultTopCategories = 8
	DefaultTopChannels   = 8
	DefaultTopInterests  = 10
	DefaultMaxLevels     = 12
)

// DefaultOptions returns the options with every default filled in.
func DefaultOptions() Options {
	return Options{}.resolved()
}

// Resolve returns o with every default filled in.
func Resolve(o Options) Options { return o.resolved() }

// resolved fills in the defaults.
func (o Options) resolved() Options {
	if len(o.WindowsDays) == 0 {
		o.WindowsDays = DefaultWindowsDays
	}
	o.WindowsDays = slices.Clone(o.WindowsDays)
	if o.TopCategories == 0 {
		o.TopCategories = DefaultTopCategories
	}
	if o.TopChannels == 0 {
		o.TopChannels = DefaultTopChannels
	}
	if o.TopInterests == 0 {
		o.TopInterests = DefaultTopInterests
	}
	if o.MaxLevels == 0 {
		o.MaxLevels = DefaultMaxLevels
	}
	if len(o.AgeBands) == 0 {
		o.AgeBands = DefaultAgeBands
	}
	if len(o.IncomeBands) == 0 {
		o.IncomeBands = DefaultIncomeBands
	}
	enc := DefaultEncodings()
	for k, v := range o.Encodings {
		enc[k] = v
	}
	o.Encodings = enc
	if len(o.OpenEvents) == 0 {
		o.OpenEvents = []string{"email_open"}
	}
	if len(o.ClickEvents) == 0 {
		o.ClickEvents = []string{"email_click"}
	}
	if len(o.SessionEvents) == 0 {
		o.SessionEvents = []string{"web_session", "app_session"}
	}
	return o
}

// maxWindow bounds a window so that day arithmetic stays in int32.
const maxWindow = 100 * 366

// Validate reports the first thing wrong with the options, naming the
// option as the config file spells it.
func (o Options) Validate() error {
	r := o.resolved()
	if o.Workers < 0 {
		return fmt.Errorf("workers: must be 0 (all cores) or positive, got %d", o.Workers)
	}
	if o.CalibrationDays < 0 || o.CalibrationDays > maxWindow {
		return fmt.Errorf("calibration days: must be between 0 (off) and %d, got %d", maxWindow, o.CalibrationDays)
	}
	if len(r.WindowsDays) > 16 {
		return fmt.Errorf("windows_days: at most 16 windows, got %d", len(r.WindowsDays))
	}
	for i, w := range r.WindowsDays {
		if w < 1 || w > maxWindow {
			return fmt.Errorf("windows_days: %d is not between 1 and %d", w, maxWindow)
		}
		if i > 0 && w <= r.WindowsDays[i-1] {
			return fmt.Errorf("windows_days: must be strictly increasing, got %v", r.WindowsDays)
		}
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"top_categories", o.TopCategories}, {"top_channels", o.TopChannels}, {"top_interests", o.TopInterests}, {"max_levels", o.MaxLevels}} {
		if c.v < 0 || c.v > 256 {
			return fmt.Errorf("%s: must be between 1 and 256 (0 = default), got %d", c.name, c.v)
		}
	}
	for i, a := range r.AgeBands {
		if a < 1 || a > 150 || (i > 0 && a <= r.AgeBands[i-1]) {
			return fmt.Errorf("age_bands: must be strictly increasing ages between 1 and 150, got %v", r.AgeBands)
		}
	}
	for i, a := range r.IncomeBands {
		if !(a > 0) || (i > 0 && a <= r.IncomeBands[i-1]) {
			return fmt.Errorf("income_bands: must be strictly increasing positive amounts, got %v", r.IncomeBands)
		}
	}
	for k, v := range o.Encodings {
		if !slices.Contains(extract.Attrs[:], k) {
			return fmt.Errorf("encodings: %q is not a categorical attribute; known: %v", k, extract.Attrs)
		}
		if v != OneHot && v != Frequency {
			return fmt.Errorf("encodings.%s: must be %s or %s, got %q", k, OneHot, Frequency, v)
		}
	}
	return nil
}

// OwnAttribute is one of the user's customer columns: name is its
// feature's (prefix), column where it comes from.
type OwnAttribute struct {
	Name, Column string
	Categorical  bool
}

// Measure is one of the user's numeric order columns, summed per customer
// over the purchases.
type Measure struct{ Name, Column string }
