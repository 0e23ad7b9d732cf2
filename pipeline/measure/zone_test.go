package measure

import (
	"context"
	"testing"
	"time"
)

// Days end where the run's days end. In Europe/Berlin (CEST, UTC+2, until
// 2026-10-25; CET, UTC+1, after) the 7 days from 2026-10-20 run from
// 10-19 22:00Z to 10-26 23:00Z, 169 hours across the clock change; in UTC
// from 10-20 00:00Z to 10-27 00:00Z. Customer a's order (10-26 22:30Z)
// is inside both (a window of 168 hours would lose it in Berlin), c's
// (10-19 23:00Z) only in Berlin, d's (10-26 23:30Z) only in UTC. Two
// orders of e at 10-05 21:30Z and 22:30Z are one day in UTC, two in
// Berlin (23:30 and 00:30).
func TestTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	o := Orders{
		CustomerID: []string{"a", "c", "d", "e", "e"},
		At: []time.Time{at("2026-10-26T22:30:00Z"), at("2026-10-19T23:00:00Z"), at("2026-10-26T23:30:00Z"),
			at("2026-10-05T21:30:00Z"), at("2026-10-05T22:30:00Z")},
		Net: []float64{1, 10, 100, 5, 5},
	}
	aud := []Audience{{Name: "x", Start: date("2026-10-20"),
		CustomerID: []string{"a", "b", "c", "d"}, Group: []string{GroupTreated, GroupControl, GroupTreated, GroupTreated}}}
	cust := Customers{ID: []string{"e"}, RFMSegment: []string{"Loyal"}, Clustered: []bool{false}, ClusterID: []int32{0},
		ClusterName: []string{""}, Frequency: []int32{3}, ExpectedPurchases: []float64{1.5}, CLV: []float64{20}}
	for _, c := range []struct {
		name      string
		loc       *time.Location
		revenue   float64
		converted int
		days      float64
	}{
		{"UTC", nil, 101, 2, 1},
		{"Berlin", berlin, 11, 2, 2},
	} {
		h, err := NewHistory(o, c.loc)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := Campaigns(context.Background(), aud, h, date("2026-12-31"), []int{7})
		if err != nil {
			t.Fatal(err)
		}
		if tr := rows[1]; tr.Revenue != c.revenue || tr.Converters != c.converted {
			t.Errorf("%s: treated revenue %v from %d converters, want %v from %d", c.name, tr.Revenue, tr.Converters, c.revenue, c.converted)
		}
		bt, err := Backtest(context.Background(), &cust, h, date("2026-09-30"), date("2026-12-31"), Horizon{Months: 1, Margin: 1})
		if err != nil {
			t.Fatal(err)
		}
		if bt[0].Metric != MetricPurchases || bt[0].ActualSum != c.days {
			t.Errorf("%s: %s actual %v purchase days, want %v", c.name, bt[0].Metric, bt[0].ActualSum, c.days)
		}
	}
}
