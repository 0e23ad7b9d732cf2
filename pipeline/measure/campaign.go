package measure

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/strata-oss/strata/models/lift"
)

// CampaignRow is one row of campaign_results. The comparison fields are
// set on the treated row only; NaN elsewhere.
type CampaignRow struct {
	Audience   string
	Start      time.Time // campaign start date
	WindowDays int
	Group      string

	Customers, Converters int
	ConversionRate        float64
	Orders                int
	Revenue               float64
	RevenuePerCustomer    float64

	Lift                           float64 // conversion rate difference, treated − control
	LiftLo, LiftHi                 float64 // Newcombe 95 % interval
	RelativeLift                   float64 // treated/control − 1
	RelativeLiftLo, RelativeLiftHi float64 // Katz 95 % interval
	PConversion                    float64 // pooled z-test, two-sided
	RevenueLift                    float64 // revenue per customer difference
	RevenueLiftLo, RevenueLiftHi   float64 // Welch 95 % interval
	PRevenue                       float64 // Welch t-test, two-sided
}

// Campaigns measures every audience over each window (DefaultWindows when
// none) that has fully elapsed by the cutoff of asOf.
func Campaigns(ctx context.Context, audiences []Audience, h *History, asOf time.Time, windowDays []int) ([]CampaignRow, error) {
	ws, err := windows(windowDays)
	if err != nil {
		return nil, err
	}
	cutoff := h.Cutoff(asOf)
	var rows []CampaignRow
	for _, a := range audiences {
		if err := a.validate(); err != nil {
			return nil, err
		}
		start := h.Midnight(a.Start)
		for _, w := range ws {
			if !elapsed(start, w, cutoff) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("measure audience %s: %w", a.Name, err)
			}
			r, err := campaignWindow(a, h, start, w)
			if err != nil {
				return nil, fmt.Errorf("measure audience %s over %d days: %w", a.Name, w, err)
			}
			rows = append(rows, r...)
		}
	}
	slices.SortStableFunc(rows, func(x, y CampaignRow) int {
		if c := strings.Compare(x.Audience, y.Audience); c != 0 {
			return c
		}
		if c := x.WindowDays - y.WindowDays; c != 0 {
			return c
		}
		return strings.Compare(x.Group, y.Group)
	})
	return rows, nil
}

func campaignWindow(a Audience, h *History, start time.Time, w int) ([]CampaignRow, error) {
	end := start.AddDate(0, 0, w)
	idx := byID(a.CustomerID)
	var rev [2][]float64 // per group (0 control, 1 treated): each customer's window revenue
	rows := [2]CampaignRow{}
	for g, name := range []string{GroupControl, GroupTreated} {
		rows[g] = CampaignRow{Audience: a.Name, Start: start, WindowDays: w, Group: name}
	}
	for _, i := range idx {
		g := 0
		if a.Group[i] == GroupTreated {
			g = 1
		}
		s := h.span(a.CustomerID[i], start, end)
		r := &rows[g]
		r.Customers++
		if s.purchases > 0 {
			r.Converters++
		}
		r.Orders += s.purchases
		r.Revenue += s.revenue
		rev[g] = append(rev[g], s.revenue)
	}
	nan := math.NaN()
	for g := range rows {
		r := &rows[g]
		r.ConversionRate, r.RevenuePerCustomer = nan, nan
		if r.Customers > 0 {
			r.ConversionRate = float64(r.Converters) / float64(r.Customers)
			r.RevenuePerCustomer = r.Revenue / float64(r.Customers)
		}
		r.Lift, r.LiftLo, r.LiftHi = nan, nan, nan
		r.RelativeLift, r.RelativeLiftLo, r.RelativeLiftHi, r.PConversion = nan, nan, nan, nan
		r.RevenueLift, r.RevenueLiftLo, r.RevenueLiftHi, r.PRevenue = nan, nan, nan, nan
	}
	c, t := &rows[0], &rows[1]
	if c.Customers > 0 && t.Customers > 0 {
		conv, err := lift.CompareConversion(lift.Counts{Converted: t.Converters, N: t.Customers},
			lift.Counts{Converted: c.Converters, N: c.Customers})
		if err != nil {
			return nil, fmt.Errorf("compare conversion: %w", err)
		}
		t.Lift, t.LiftLo, t.LiftHi = conv.Diff, conv.DiffCI.Lo, conv.DiffCI.Hi
		t.RelativeLift, t.RelativeLiftLo, t.RelativeLiftHi = conv.Relative, conv.RelativeCI.Lo, conv.RelativeCI.Hi
		t.PConversion = conv.P
	}
	if c.Customers >= 2 && t.Customers >= 2 {
		m, err := lift.Welch(lift.Summarize(rev[1]), lift.Summarize(rev[0]))
		if err != nil {
			return nil, fmt.Errorf("compare revenue: %w", err)
		}
		t.RevenueLift, t.RevenueLiftLo, t.RevenueLiftHi, t.PRevenue = m.Diff, m.CI.Lo, m.CI.Hi, m.P
	}
	return rows[:], nil
}
