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
		if f, err := strconv.ParseFloat(t, 64); err == nil {
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
