package features

import (
	"math"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
)

func us(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

// A hand-computed fixture: as of 2024-06-30 (UTC).
//
//	a: signed up 2024-01-01; orders 2024-03-01 10:00 (10), 2024-03-01 18:00 (5), 2024-05-01 (20)
//	   → frequency 3, purchase days 2, monetary 35, avg 35/3, max 20, recency 60, tenure 181
//	b: no signup known; order 2024-06-30 23:00 (8), refund 2024-06-30 (−3)
//	   → frequency 1, monetary 5, avg 8, recency 0, tenure 0
//	c: signed up 2024-06-01, no orders → no recency, tenure 29
func fixture() *extract.Dataset {
	return &extract.Dataset{
		AsOf:     time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC),
		Location: time.UTC,
		IDs:      []string{"a", "b", "c"},
		Signup:   []int64{us("2024-01-01T00:00:00Z"), extract.NoTime, us("2024-06-01T00:00:00Z")},
		Known:    []bool{true, false, true},
		// Deliberately out of time order: grouping must sort.
		TxCust:   []int32{0, 1, 0, 1, 0},
		TxTime:   []int64{us("2024-05-01T00:00:00Z"), us("2024-06-30T23:00:00Z"), us("2024-03-01T18:00:00Z"), us("2024-06-30T12:00:00Z"), us("2024-03-01T10:00:00Z")},
		TxAmount: []float64{20, 8, 5, -3, 10},
		TxRefund: []bool{false, false, false, true, false},
	}
}

func TestBehaviourHandComputed(t *testing.T) {
	b := ComputeBehaviour(fixture())
	type row struct {
		has                  bool
		rec, freq, days, ten int32
		mon, avg, max        float64
		hasTen               bool
		first, last          int64
	}
	want := []row{
		{true, 60, 3, 2, 181, 35, 35.0 / 3, 20, true, us("2024-03-01T10:00:00Z"), us("2024-05-01T00:00:00Z")},
		{true, 0, 1, 1, 0, 5, 8, 8, true, us("2024-06-30T23:00:00Z"), us("2024-06-30T23:00:00Z")},
		{false, 0, 0, 0, 29, 0, 0, 0, true, extract.NoTime, extract.NoTime},
	}
	for c, w := range want {
		got := row{b.HasOrders[c], b.RecencyDays[c], b.Frequency[c], b.PurchaseDays[c], b.TenureDays[c],
			b.Monetary[c], b.AvgOrder[c], b.MaxOrder[c], b.HasTenure[c], b.FirstOrder[c], b.LastOrder[c]}
		if math.Abs(got.avg-w.avg) > 1e-12 {
			t.Errorf("customer %d avg %v, want %v", c, got.avg, w.avg)
		}
		got.avg = w.avg
		if got != w {
			t.Errorf("customer %d:\n got %+v\nwant %+v", c, got, w)
		}
	}
	// Each customer's transactions are grouped and in time order.
	for c := 0; c < b.N; c++ {
		txs := b.Tx[b.Offsets[c]:b.Offsets[c+1]]
		for i := 1; i < len(txs); i++ {
			if fixture().TxTime[txs[i-1]] > fixture().TxTime[txs[i]] {
				t.Errorf("customer %d transactions out of order", c)
			}
		}
	}
}

func TestDayNumberInZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 2024-07-01 02:00 UTC is still June 30 in New York.
	x := us("2024-07-01T02:00:00Z")
	if got, want := DayNumber(x, ny), DayNumber(us("2024-06-30T12:00:00Z"), time.UTC); got != want {
		t.Errorf("day %d, want %d", got, want)
	}
	// Before the epoch, days floor rather than truncate.
	if got := DayNumber(-1, time.UTC); got != -1 {
		t.Errorf("day of -1µs = %d, want -1", got)
	}
}
