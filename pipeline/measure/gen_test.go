package measure

import (
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// shop is a generated earlier run and the orders around it.
type shop struct {
	earlier, asOf time.Time
	customers     Customers
	audiences     []Audience
	orders        Orders
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

var segmentNames = []string{"Champions", "Loyal", "At Risk", "Hibernating", "New", "No Purchases"}

// genShop builds n customers of an earlier run on 2026-09-30 and their
// orders from July 2026 to February 2027, past the measuring run's as-of
// date 2026-12-31, so that a leak would show. Audiences start on dates
// whose windows end before, exactly at and after the measuring cutoff;
// some orders fall exactly on window bounds; the treated of win-back buy
// more (a planted uplift); a few orders are refunds or same-day repeats.
func genShop(seed uint64, n int) *shop {
	rng := rand.New(rand.NewPCG(seed, 2026))
	s := &shop{earlier: date("2026-09-30"), asOf: date("2026-12-31")}
	c := &s.customers
	from, to := date("2026-07-01"), date("2027-02-15")
	span := to.Sub(from)
	auds := []Audience{
		{Name: "win-back", Start: date("2026-10-05")},
		{Name: "vip", Start: date("2026-08-01")},
		{Name: "edge", Start: date("2026-12-25")}, // 7 days end exactly at the cutoff
		{Name: "late", Start: date("2026-12-28")}, // no window has elapsed
	}
	addOrder := func(id string, at time.Time, net float64) {
		s.orders.CustomerID = append(s.orders.CustomerID, id)
		s.orders.At = append(s.orders.At, at)
		s.orders.Net = append(s.orders.Net, net)
	}
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		seg := segmentNames[rng.IntN(len(segmentNames))]
		c.ID = append(c.ID, id)
		c.RFMSegment = append(c.RFMSegment, seg)
		buyer := seg != "No Purchases"
		freq, cl := int32(0), int32(0)
		if buyer {
			freq = 1 + int32(rng.IntN(12))
			cl = int32(rng.IntN(4))
		}
		c.Frequency = append(c.Frequency, freq)
		c.Clustered = append(c.Clustered, buyer)
		c.ClusterID = append(c.ClusterID, cl)
		name := ""
		if buyer {
			name = []string{"Frequent", "Lapsed", "Big spenders", "One-time"}[cl]
		}
		c.ClusterName = append(c.ClusterName, name)
		rate := 0.3 + rng.ExpFloat64()*1.5 // purchases a month
		ep, clv := math.NaN(), math.NaN()
		if buyer && rng.Float64() > 0.05 {
			ep = rate * 2 * (0.5 + rng.Float64())
			clv = ep * 12 * (0.5 + rng.Float64())
		}
		c.ExpectedPurchases = append(c.ExpectedPurchases, ep)
		c.CLV = append(c.CLV, clv)

		treated := false
		for k := range auds {
			a := &auds[k]
			in := (k == 0 && (seg == "At Risk" || seg == "Hibernating")) || (k == 1 && seg == "Champions") || (k >= 2 && i%5 == k)
			if !in {
				continue
			}
			g := GroupTreated
			if rng.Float64() < 0.2 {
				g = GroupControl
			}
			if k == 0 {
				treated = g == GroupTreated
			}
			a.CustomerID = append(a.CustomerID, id)
			a.Group = append(a.Group, g)
		}
		orders := rng.IntN(1 + int(rate*8))
		if treated {
			orders += rng.IntN(2)
		}
		for range orders {
			at := from.Add(time.Duration(rng.Int64N(int64(span/time.Second))) * time.Second)
			net := math.Round(rng.ExpFloat64()*4000) / 100
			if rng.Float64() < 0.05 {
				net = -net
			}
			addOrder(id, at, net)
			if rng.Float64() < 0.1 { // same day, again
				addOrder(id, at.Add(time.Minute), math.Round(rng.Float64()*2000)/100)
			}
		}
		switch i % 97 { // exactly on bounds
		case 1:
			addOrder(id, date("2026-10-05"), 11.5) // win-back start: inside
		case 2:
			addOrder(id, date("2026-10-12"), 12.25) // win-back start + 7 days: outside the 7-day window
		case 3:
			addOrder(id, s.earlier.AddDate(0, 0, 1), 13) // first instant after the earlier run
		case 4:
			addOrder(id, date("2027-01-01"), 14) // the measuring cutoff: never counted
		case 5:
			addOrder(id, s.earlier.AddDate(0, 0, 1).Add(time.Duration(DaysPerMonth*24*float64(time.Hour))), 15) // month 2 begins
		}
	}
	s.audiences = auds
	return s
}

// writeCSV writes the shop's inputs as customers.csv, audiences.csv and
// orders.csv (nulls empty) into a temporary directory.
func (s *shop) writeCSV(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	write := func(name string, rows [][]string) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		w := csv.NewWriter(f)
		if err := w.WriteAll(rows); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c := s.customers
	rows := [][]string{{"customer_id", "rfm_segment", "cluster_id", "cluster_name", "frequency", "expected_purchases", "clv"}}
	for i, id := range c.ID {
		cid, cname := "", ""
		if c.Clustered[i] {
			cid, cname = strconv.Itoa(int(c.ClusterID[i])), c.ClusterName[i]
		}
		rows = append(rows, []string{id, c.RFMSegment[i], cid, cname, strconv.Itoa(int(c.Frequency[i])),
			num(c.ExpectedPurchases[i]), num(c.CLV[i])})
	}
	write("customers.csv", rows)
	rows = [][]string{{"audience", "starts", "customer_id", "grp"}}
	for _, a := range s.audiences {
		for i, id := range a.CustomerID {
			rows = append(rows, []string{a.Name, a.Start.Format(time.DateOnly), id, a.Group[i]})
		}
	}
	write("audiences.csv", rows)
	rows = [][]string{{"customer_id", "ordered_at", "net_amount"}}
	for i, id := range s.orders.CustomerID {
		rows = append(rows, []string{id, s.orders.At[i].UTC().Format(time.RFC3339Nano), num(s.orders.Net[i])})
	}
	write("orders.csv", rows)
	return dir
}
