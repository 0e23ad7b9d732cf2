package measure

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// plantedCampaign is an audience of n customers, a 10 % control group; in
// the 30 days after the start each control customer buys with probability
// pc and each treated one with pt, and everyone may also buy before the
// start and after the window (orders that must not count).
func plantedCampaign(seed uint64, n int, pc, pt float64) (Audience, *History, error) {
	start := date("2026-10-05")
	rng := rand.New(rand.NewPCG(seed, 7))
	a := Audience{Name: "win-back", Start: start}
	var o Orders
	add := func(id string, at time.Time) {
		o.CustomerID = append(o.CustomerID, id)
		o.At = append(o.At, at)
		o.Net = append(o.Net, 20+float64(rng.IntN(4000))/100)
	}
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		g, p := GroupTreated, pt
		if rng.Float64() < 0.1 {
			g, p = GroupControl, pc
		}
		a.CustomerID = append(a.CustomerID, id)
		a.Group = append(a.Group, g)
		if rng.Float64() < p {
			add(id, start.Add(time.Duration(rng.Int64N(int64(30*24*time.Hour)))))
		}
		if rng.Float64() < 0.3 {
			add(id, start.Add(-time.Duration(1+rng.Int64N(int64(60*24*time.Hour)))))
		}
		if rng.Float64() < 0.3 {
			add(id, start.AddDate(0, 0, 30).Add(time.Duration(rng.Int64N(int64(60*24*time.Hour)))))
		}
	}
	h, err := NewHistory(o, nil)
	return a, h, err
}

// A planted uplift measured end to end, over 40 seeds: the 30-day lift's
// 95 % interval (4,000 customers, 5 % control against 8 % treated
// conversion) must cover the planted 0.03 in at least 36, and the relative
// lift's the planted 0.6. The test prints how far the estimates missed.
func TestPlantedUplift(t *testing.T) {
	const (
		pc, pt = 0.05, 0.08
		seeds  = 40
	)
	var cover, relCover int
	var sumMiss, worst float64
	for seed := range uint64(seeds) {
		a, h, err := plantedCampaign(seed, 4000, pc, pt)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := Campaigns(context.Background(), []Audience{a}, h, date("2026-11-20"), []int{30})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[1].Group != GroupTreated {
			t.Fatalf("rows %+v, want control and treated over 30 days", rows)
		}
		r := rows[1]
		miss := r.Lift - (pt - pc)
		sumMiss += miss
		if math.Abs(miss) > math.Abs(worst) {
			worst = miss
		}
		if r.LiftLo <= pt-pc && pt-pc <= r.LiftHi {
			cover++
		} else {
			t.Logf("seed %d: lift %.4f [%.4f, %.4f] misses the planted %.4f (control %d of %d)",
				seed, r.Lift, r.LiftLo, r.LiftHi, pt-pc, rows[0].Converters, rows[0].Customers)
		}
		if r.RelativeLiftLo <= pt/pc-1 && pt/pc-1 <= r.RelativeLiftHi {
			relCover++
		}
	}
	t.Logf("planted lift %.4f: over %d seeds the estimate missed by %+.4f on average, %+.4f at worst; covered %d times, the relative lift %.2f %d times",
		pt-pc, seeds, sumMiss/seeds, worst, cover, pt/pc-1, relCover)
	if cover < 36 || relCover < 36 {
		t.Errorf("planted effect covered %d (relative %d) times of %d, want at least 36", cover, relCover, seeds)
	}
}
