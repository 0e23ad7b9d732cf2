package config

import (
	"slices"
	"strings"
)

// Drift sets the thresholds of the drift check, which compares each run
// with the run published before it (a broken upstream export looks like a
// jump in segment sizes or in a feature's distribution):
//
//	drift:
//	  max_segment_shift: 0.1   # an RFM segment's share may move 10 points
//	  max_psi: 0.25            # population stability index per feature
//	  action: warn             # or fail: the run publishes nothing
//
// A pointer in Config, so that configurations without it keep their hash.
type Drift struct {
	// MaxSegmentShift is the largest change of an RFM segment's share of
	// the customers (in share units: 0.1 is ten percentage points);
	// default DefaultMaxSegmentShift.
	MaxSegmentShift *float64 `yaml:"max_segment_shift" json:",omitempty"`
	// MaxPSI is the largest population stability index of a numeric
	// feature of the segments table; default DefaultMaxPSI (the customary
	// "significant shift").
	MaxPSI *float64 `yaml:"max_psi" json:",omitempty"`
	// Action on a breach: warn (log it, publish) or fail (the run fails
	// before publishing); default warn.
	Action string `yaml:"action" json:",omitempty"`
}

// The drift defaults.
const (
	DefaultMaxSegmentShift = 0.1
	DefaultMaxPSI          = 0.25
)

// DriftActions are the values drift.action takes; the first is the
// default.
var DriftActions = []string{"warn", "fail"}

// SegmentShift is MaxSegmentShift with its default.
func (d *Drift) SegmentShift() float64 {
	if d == nil || d.MaxSegmentShift == nil {
		return DefaultMaxSegmentShift
	}
	return *d.MaxSegmentShift
}

// PSI is MaxPSI with its default.
func (d *Drift) PSI() float64 {
	if d == nil || d.MaxPSI == nil {
		return DefaultMaxPSI
	}
	return *d.MaxPSI
}

// ActionOr is Action with its default.
func (d *Drift) ActionOr() string {
	if d == nil {
		return DriftActions[0]
	}
	return cmpOr(d.Action, DriftActions[0])
}

// Fails reports whether a breach fails the run.
func (d *Drift) Fails() bool { return d.ActionOr() == "fail" }

// resolved is d with its defaults spelled out, nil when every setting is
// the default: spelling a default out keeps the hash.
func (d *Drift) resolved() *Drift {
	if d.SegmentShift() == DefaultMaxSegmentShift && d.PSI() == DefaultMaxPSI && d.ActionOr() == DriftActions[0] {
		return nil
	}
	shift, psi := d.SegmentShift(), d.PSI()
	return &Drift{MaxSegmentShift: &shift, MaxPSI: &psi, Action: d.ActionOr()}
}

func (d *Drift) validate(add func(path, msg string, args ...any)) {
	if d == nil {
		return
	}
	if v := d.SegmentShift(); !(v > 0 && v <= 1) {
		add("drift.max_segment_shift", "must be above 0 and at most 1 (a share of the customers; unset: %v), got %v", DefaultMaxSegmentShift, v)
	}
	if v := d.PSI(); !(v > 0) {
		add("drift.max_psi", "must be above 0 (unset: %v; 0.1 to 0.25 is the customary moderate shift), got %v", DefaultMaxPSI, v)
	}
	if a := d.Action; a != "" && !slices.Contains(DriftActions, a) {
		add("drift.action", "must be one of %s, not %q", strings.Join(DriftActions, ", "), a)
	}
}
