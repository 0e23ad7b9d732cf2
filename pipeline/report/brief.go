package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Figure is one headline figure of the report's first screen, with the
// previous run's value when there is one.
type Figure struct {
	Label string
	Value float64
	// Money: Value is an amount in Data.Currency.
	Money bool
	// Previous is the same figure in the run published before, nil on a
	// first run or when that run did not have it.
	Previous *float64
}

// SegmentBrief is one RFM segment in business terms: its size and value,
// its risk, what to do with it and the audiences that reach it.
type SegmentBrief struct {
	Name      string
	Customers int64
	Revenue   float64
	// CLV is the segment's total CLV and ChurnRisk the mean 1 − P(alive)
	// of its customers; nil without CLV.
	CLV, ChurnRisk *float64
	// MovedIn and MovedOut count the customers who entered the segment
	// since the previous run (from another segment or new) and those who
	// left it for another; nil on a first run.
	MovedIn, MovedOut *int64
	// Action is the suggested action (see the stages' rule table).
	Action    string
	Audiences []AudienceSize
}

// AudienceSize is how many of a segment's customers an audience holds.
type AudienceSize struct {
	Name      string
	Customers int64
}

// ClusterBrief is one cluster in business terms.
type ClusterBrief struct {
	ID        int
	Name      string
	Customers int64
	Revenue   float64
	// AvgCLV and ChurnRisk are means over its scored customers; nil
	// without CLV.
	AvgCLV, ChurnRisk *float64
}

// grouped formats v with decimals digits and thousands separators
// ("19,139,036.53").
func grouped(v float64, decimals int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	s := strconv.FormatFloat(math.Abs(v), 'f', decimals, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 && strings.Trim(s, "0.") != "" {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// Thousands formats a whole number with thousands separators.
func Thousands(v float64) string { return grouped(v, 0) }

// money formats an amount in the report's currency: whole units with
// separators, the code after ("19,139,037 EUR"); without a known currency
// the amount alone.
func money(v float64, currency string) string {
	s := grouped(v, 0)
	if currency == "" {
		return s
	}
	return s + " " + currency
}

// count formats a count or an expected count with separators.
func count(v float64) string {
	if v == math.Trunc(v) || math.Abs(v) >= 100 {
		return grouped(v, 0)
	}
	return grouped(v, 1)
}

// percent formats a probability as a whole percentage.
func percent(p float64) string { return fmt.Sprintf("%.0f%%", 100*p) }

// change says how v moved since prev: "+3.2% since the last run"; empty
// without a previous value.
func change(v float64, prev *float64) string {
	if prev == nil {
		return ""
	}
	if *prev == 0 {
		if v == 0 {
			return "unchanged since the last run"
		}
		return "new since the last run"
	}
	d := (v - *prev) / math.Abs(*prev)
	if math.Abs(d) < 0.0005 {
		return "unchanged since the last run"
	}
	return fmt.Sprintf("%+.1f%% since the last run", 100*d)
}

// unitLabel names the currency on an axis: the code, or "currency units".
func unitLabel(currency string) string {
	if currency == "" {
		return "currency units"
	}
	return currency
}
