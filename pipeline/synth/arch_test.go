package synth

import (
	"math"
	"testing"

	"github.com/strata-oss/strata/internal/racetest"
)

// TestArchetypesDiffer checks, on the default mix, that each planted
// segment shows its own spend and loyalty, so a segmentation has clearly
// different groups to recover.
func TestArchetypesDiffer(t *testing.T) {
	racetest.Skip(t, "a statistical check of the generator's output")
	b, _ := generate(t, Config{Customers: 20_000, Seed: 5, BadRowRate: -1, DuplicateRate: -1, RefundRate: -1})
	truth := readTable[truthRecord](t, b, "truth/")
	orders := readTable[orderRecord](t, b, "orders/")

	type agg struct {
		customers, buyers, oneAndDone, orders int
		amount                                float64
	}
	byName := map[string]*agg{}
	arch := map[string]string{}
	for _, tr := range truth {
		a := byName[tr.Archetype]
		if a == nil {
			a = &agg{}
			byName[tr.Archetype] = a
		}
		arch[tr.CustomerID] = tr.Archetype
		a.customers++
		if tr.Purchases > 0 {
			a.buyers++
			if tr.Purchases == 1 && tr.DropoutAt != 0 {
				a.oneAndDone++
			}
		}
	}
	for _, o := range orders {
		a := byName[arch[o.CustomerID]]
		a.orders++
		a.amount += o.NetAmount
	}
	for _, def := range DefaultArchetypes() {
		a := byName[def.Name]
		if a == nil {
			t.Errorf("archetype %s: no customers", def.Name)
			continue
		}
		spend := a.amount / float64(a.orders)
		dropFirst := float64(a.oneAndDone) / float64(a.buyers)
		t.Logf("%-24s customers %5d  orders/buyer %5.1f  mean order $%6.2f (model %6.2f)  one-and-done %.3f (model %.3f)",
			def.Name, a.customers, float64(a.orders)/float64(a.buyers), spend, def.MeanSpend(), dropFirst, def.MeanDropout())
		if rel := math.Abs(spend-def.MeanSpend()) / def.MeanSpend(); rel > 0.15 {
			t.Errorf("%s: mean order $%.2f, model $%.2f", def.Name, spend, def.MeanSpend())
		}
		se := math.Sqrt(def.MeanDropout() * (1 - def.MeanDropout()) / float64(a.buyers))
		if math.Abs(dropFirst-def.MeanDropout()) > 4*se {
			t.Errorf("%s: one-and-done share %.3f, model %.3f ± %.3f", def.Name, dropFirst, def.MeanDropout(), 4*se)
		}
	}
}
