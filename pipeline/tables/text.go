package tables

import (
	"strconv"
	"strings"
	"time"
)

// builtinLayouts are tried in order for textual timestamps. Layouts without
// a zone are read as UTC.
var builtinLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02",
	"20060102",
}

// parseTime parses a textual timestamp into microseconds since the epoch.
func parseTime(s string, extra []string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	for _, layout := range builtinLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), true
		}
	}
	for _, layout := range extra {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), true
		}
	}
	return 0, false
}

// parseTimeUnit parses a timestamp that may be a count of epoch units: with
// a unit, a number is read as such and anything else falls back to the
// textual layouts.
func parseTimeUnit(s string, unit TimeUnit, extra []string) (int64, bool) {
	if unit != NoUnit {
		t := strings.TrimSpace(s)
		if v, err := strconv.ParseInt(t, 10, 64); err == nil {
			return unit.micros(v)
		}
		if f, ok := parseNumber(t); ok {
			return unit.microsFloat(f)
		}
	}
	return parseTime(s, extra)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "1", "yes", "y":
		return true, true
	case "false", "f", "0", "no", "n":
		return false, true
	}
	return false, false
}

// splitList splits a delimited list: "|" first, then ";" and ",".
func splitList(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	sep := "|"
	if !strings.Contains(s, "|") {
		switch {
		case strings.Contains(s, ";"):
			sep = ";"
		case strings.Contains(s, ","):
			sep = ","
		}
	}
	parts := strings.Split(s, sep)
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func formatMicros(us int64) string {
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}

// parseNumber parses a decimal number as data exports write it: an
// optional sign, digits with at most one decimal point, an optional
// exponent ("-12.50", ".5", "1e3", "2.5E-4"), or NaN, Inf or Infinity in
// any case. strconv.ParseFloat also takes Go's own syntax — "1_000",
// "0x1p4" — which no export writes and which a value meant as something
// else can match by accident; such text is not a number here. Thousands
// separators ("1,000") are not accepted either. s has no surrounding
// spaces.
func parseNumber(s string) (float64, bool) {
	if !decimalSyntax(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // beyond float64 ("1e400"), as before
		return 0, false
	}
	return f, true
}

// decimalSyntax reports whether s is a plain decimal number (see
// parseNumber).
func decimalSyntax(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s != "" && (s[0] == 'n' || s[0] == 'N' || s[0] == 'i' || s[0] == 'I') {
		switch strings.ToLower(s) {
		case "nan", "inf", "infinity":
			return true
		}
		return false
	}
	digits, dot := 0, false
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			goto exponent
		}
	}
exponent:
	if digits == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != 'e' && s[i] != 'E' {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
