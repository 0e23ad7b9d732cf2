package measure

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The values of segment_kpis' segment_type.
const (
	SegmentRFM     = "rfm"
	SegmentCluster = "cluster"
)

// SegmentRow is one row of segment_kpis.
type SegmentRow struct {
	SegmentType string
	Segment     string // RFM segment or cluster name
	ClusterID   *int32 // cluster rows only
	WindowDays  int

	Customers, Converters int
	ConversionRate        float64
	Revenue               float64
	RevenuePerCustomer    float64
	Buyers, Retained      int
	Retention, Churn      float64 // NaN without buyers
}

type segKey struct {
	typ     string
	name    string
	cluster int32
}

// Segments measures the earlier run's RFM segments and clusters over
// each window (DefaultWindows when none) after the earlier run's cutoff
// that has fully elapsed by the cutoff of asOf.
func Segments(ctx context.Context, c *Customers, h *History, earlierAsOf, asOf time.Time, windowDays []int) ([]SegmentRow, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	ws, err := windows(windowDays)
	if err != nil {
		return nil, err
	}
	start, cutoff := h.Cutoff(earlierAsOf), h.Cutoff(asOf)
	order := byID(c.ID)
	var rows []SegmentRow
	for _, w := range ws {
		if !elapsed(start, w, cutoff) {
			continue
		}
		end := start.AddDate(0, 0, w)
		acc := map[segKey]*SegmentRow{}
		add := func(k segKey, s span, buyer bool) {
			r := acc[k]
			if r == nil {
				r = &SegmentRow{SegmentType: k.typ, Segment: k.name, WindowDays: w}
				if k.typ == SegmentCluster {
					id := k.cluster
					r.ClusterID = &id
				}
				acc[k] = r
			}
			r.Customers++
			r.Revenue += s.revenue
			if s.purchases > 0 {
				r.Converters++
			}
			if buyer {
				r.Buyers++
				if s.purchases > 0 {
					r.Retained++
				}
			}
		}
		for n, i := range order {
			if n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("measure segments over %d days: %w", w, err)
				}
			}
			s := h.span(c.ID[i], start, end)
			buyer := c.Frequency[i] > 0
			add(segKey{typ: SegmentRFM, name: c.RFMSegment[i]}, s, buyer)
			if c.Clustered[i] {
				add(segKey{typ: SegmentCluster, name: c.ClusterName[i], cluster: c.ClusterID[i]}, s, buyer)
			}
		}
		for _, r := range acc {
			r.ConversionRate = float64(r.Converters) / float64(r.Customers)
			r.RevenuePerCustomer = r.Revenue / float64(r.Customers)
			r.Retention, r.Churn = math.NaN(), math.NaN()
			if r.Buyers > 0 {
				r.Retention = float64(r.Retained) / float64(r.Buyers)
				r.Churn = 1 - r.Retention
			}
			rows = append(rows, *r)
		}
	}
	slices.SortFunc(rows, func(x, y SegmentRow) int {
		if x.SegmentType != y.SegmentType {
			if x.SegmentType == SegmentRFM {
				return -1
			}
			return 1
		}
		if x.ClusterID != nil && y.ClusterID != nil {
			if c := cmp.Compare(*x.ClusterID, *y.ClusterID); c != 0 {
				return c
			}
		}
		if c := strings.Compare(x.Segment, y.Segment); c != 0 {
			return c
		}
		return x.WindowDays - y.WindowDays
	})
	return rows, nil
}

// byID returns the row indices of ids in id order, so that every sum runs
// in one order whatever the order of the input rows.
func byID(ids []string) []int {
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return strings.Compare(ids[i], ids[j]) })
	return idx
}
