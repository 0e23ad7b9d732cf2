package extract

import (
	"math"
	"slices"
	"time"
)

// Clock turns instants into calendar day numbers — days since 1970-01-01,
// counted in a time zone — at the cost of a division: it remembers the
// zone's offset periods (between daylight-saving changes) it has met,
// instead of asking the time package for every row. A Clock is not safe
// for concurrent use; each goroutine makes its own.
type Clock struct {
	loc     *time.Location
	utc     bool
	periods []period // sorted by start, disjoint
	last    int
}

type period struct {
	start, end int64 // µs, [start, end)
	off        int64 // µs east of UTC
}

// NewClock returns a clock for loc (UTC when nil).
func NewClock(loc *time.Location) *Clock {
	if loc == nil {
		loc = time.UTC
	}
	c := &Clock{loc: loc, utc: loc == time.UTC}
	if !c.utc {
		if _, off := time.Unix(0, 0).In(loc).Zone(); off == 0 {
			// A zone that never leaves UTC (Etc/UTC) is UTC.
			s, e := time.Unix(0, 0).In(loc).ZoneBounds()
			c.utc = s.IsZero() && e.IsZero()
		}
	}
	return c
}

const dayMicros = 86_400_000_000

// Day is the day number of instant us (µs since the epoch).
func (c *Clock) Day(us int64) int32 {
	if c.utc {
		return int32(floorDiv(us, dayMicros))
	}
	if c.last < len(c.periods) {
		if p := c.periods[c.last]; us >= p.start && us < p.end {
			return int32(floorDiv(us+p.off, dayMicros))
		}
	}
	i, found := slices.BinarySearchFunc(c.periods, us, func(p period, us int64) int {
		switch {
		case us < p.start:
			return 1
		case us >= p.end:
			return -1
		}
		return 0
	})
	if !found {
		t := time.UnixMicro(us).In(c.loc)
		_, off := t.Zone()
		s, e := t.ZoneBounds()
		p := period{start: math.MinInt64, end: math.MaxInt64, off: int64(off) * 1_000_000}
		if !s.IsZero() {
			p.start = s.UnixMicro()
		}
		if !e.IsZero() {
			p.end = e.UnixMicro()
		}
		c.periods = slices.Insert(c.periods, i, p)
	}
	c.last = i
	return int32(floorDiv(us+c.periods[i].off, dayMicros))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
