package measure

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Customers is the earlier run's segments table, one row per customer.
// Null doubles are NaN.
type Customers struct {
	ID          []string
	RFMSegment  []string
	Clustered   []bool   // cluster_id not null
	ClusterID   []int32  // read where Clustered
	ClusterName []string // read where Clustered
	Frequency   []int32  // orders before the earlier run

	ExpectedPurchases []float64
	CLV               []float64
}

func (c *Customers) validate() error {
	n := len(c.ID)
	for name, l := range map[string]int{
		"rfm_segment": len(c.RFMSegment), "clustered": len(c.Clustered), "cluster_id": len(c.ClusterID),
		"cluster_name": len(c.ClusterName), "frequency": len(c.Frequency),
		"expected_purchases": len(c.ExpectedPurchases), "clv": len(c.CLV),
	} {
		if l != n {
			return fmt.Errorf("customers: column %s has %d rows, customer_id %d", name, l, n)
		}
	}
	seen := make(map[string]struct{}, n)
	for _, id := range c.ID {
		if _, dup := seen[id]; dup {
			return fmt.Errorf("customers: customer %q appears twice", id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// Audience is one audience of the earlier run with its campaign's start
// date: its customers and their group.
type Audience struct {
	Name       string
	Start      time.Time // the campaign's start date; its time of day is ignored
	CustomerID []string
	Group      []string // GroupTreated or GroupControl
}

// The values of the audience table's group column.
const (
	GroupControl = "control"
	GroupTreated = "treatment" // holdout.Treatment: the audience table's value
)

func (a *Audience) validate() error {
	if len(a.Group) != len(a.CustomerID) {
		return fmt.Errorf("audience %s: %d groups for %d customers", a.Name, len(a.Group), len(a.CustomerID))
	}
	seen := make(map[string]struct{}, len(a.CustomerID))
	for i, id := range a.CustomerID {
		if a.Group[i] != GroupControl && a.Group[i] != GroupTreated {
			return fmt.Errorf("audience %s: customer %q has group %q, want %s or %s", a.Name, id, a.Group[i], GroupTreated, GroupControl)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("audience %s: customer %q appears twice", a.Name, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// Orders are the orders after the earlier run, as cleaned by the
// pipeline (duplicates dropped, refunds negative).
type Orders struct {
	CustomerID []string
	At         []time.Time
	Net        []float64
}

// order is one order of a customer's history.
type order struct {
	at  time.Time
	net float64
}

func (o order) purchase() bool { return o.net >= 0 }

// History is the orders grouped by customer, each customer's in time
// order, and the time zone where the pipeline's days end.
type History struct {
	by  map[string][]order
	loc *time.Location
}

// NewHistory groups the orders by customer. Days start and end at
// midnight in loc (the run's configured time zone; UTC when nil).
func NewHistory(o Orders, loc *time.Location) (*History, error) {
	if len(o.At) != len(o.CustomerID) || len(o.Net) != len(o.CustomerID) {
		return nil, fmt.Errorf("orders: columns of %d, %d and %d rows", len(o.CustomerID), len(o.At), len(o.Net))
	}
	if loc == nil {
		loc = time.UTC
	}
	h := &History{by: make(map[string][]order), loc: loc}
	for i, id := range o.CustomerID {
		if math.IsNaN(o.Net[i]) || math.IsInf(o.Net[i], 0) {
			return nil, fmt.Errorf("orders: row %d (customer %q) has net amount %v", i, id, o.Net[i])
		}
		h.by[id] = append(h.by[id], order{o.At[i], o.Net[i]})
	}
	for _, list := range h.by {
		// Net breaks ties so that sums run in one order whatever the input's.
		slices.SortFunc(list, func(a, b order) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			switch {
			case a.net < b.net:
				return -1
			case a.net > b.net:
				return 1
			}
			return 0
		})
	}
	return h, nil
}

// span is what a customer did in [from, to).
type span struct {
	purchases int
	revenue   float64
}

func (h *History) span(id string, from, to time.Time) span {
	var s span
	for _, o := range h.by[id] {
		if o.at.Before(from) {
			continue
		}
		if !o.at.Before(to) {
			break
		}
		s.revenue += o.net
		if o.purchase() {
			s.purchases++
		}
	}
	return s
}

// day is the midnight starting the day of the instant t.
func (h *History) day(t time.Time) time.Time {
	y, m, d := t.In(h.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, h.loc)
}

// Midnight is the midnight starting the calendar date of date (as written,
// in date's own location: a date parsed as UTC midnight stays that date).
func (h *History) Midnight(date time.Time) time.Time {
	y, m, d := date.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, h.loc)
}

// Cutoff is the first instant after the as-of date.
func (h *History) Cutoff(asOf time.Time) time.Time { return h.Midnight(asOf).AddDate(0, 0, 1) }

// DefaultWindows returns the windows measured when none are given, in
// days.
func DefaultWindows() []int { return []int{7, 30, 90} }

func windows(w []int) ([]int, error) {
	if len(w) == 0 {
		w = DefaultWindows()
	}
	w = slices.Clone(w)
	slices.Sort(w)
	w = slices.Compact(w)
	if w[0] <= 0 {
		return nil, fmt.Errorf("window of %d days: windows must be positive", w[0])
	}
	return w, nil
}

// elapsed reports whether the window of days from start has fully passed
// by the cutoff. Days are calendar days where the days end: 23 or 25
// hours across a daylight-saving change.
func elapsed(start time.Time, days int, cutoff time.Time) bool {
	return !start.AddDate(0, 0, days).After(cutoff)
}
