package synth

import (
	"errors"
	"fmt"
	"math"
)

// Categories are the product categories an order can fall in, in the fixed
// order used for sampling. Archetype.Categories keys must be among them.
func Categories() []string {
	return []string{"electronics", "fashion", "home", "beauty", "sports", "books", "grocery", "toys"}
}

// Channels are the sales channels an order can come through, in the fixed
// order used for sampling. Archetype.Channels keys must be among them.
func Channels() []string {
	return []string{"web", "app", "store", "marketplace"}
}

// Archetype is one planted behavioural segment. Every customer belongs to
// exactly one; a segmentation that works should find them again.
//
// Purchasing follows BG/NBD: while alive, a customer buys as a Poisson
// process with rate λ ~ Gamma(R, Alpha) (shape, rate; per day), and right
// after every purchase, the first one included, drops out for good with
// probability p ~ Beta(A, B). Spend follows Gamma-Gamma: a customer's spend
// rate ν ~ Gamma(Q, Gamma) (shape, rate) and each order's net amount
// z ~ Gamma(P, ν), so E[z] = P·Gamma/(Q-1) across customers.
type Archetype struct {
	Name  string  `json:"name"`
	Share float64 `json:"share"` // relative weight among archetypes; need not sum to 1

	R     float64 `json:"r"`     // shape of λ ~ Gamma(R, Alpha)
	Alpha float64 `json:"alpha"` // rate of λ, in days: E[λ] = R/Alpha purchases per day
	A     float64 `json:"a"`     // p ~ Beta(A, B): E[p] = A/(A+B)
	B     float64 `json:"b"`
	P     float64 `json:"p"`     // shape of each order's amount z ~ Gamma(P, ν)
	Q     float64 `json:"q"`     // shape of ν ~ Gamma(Q, Gamma); must be > 1 for a finite mean spend
	Gamma float64 `json:"gamma"` // rate of ν

	// Categories and Channels are the archetype's mean preferences (relative
	// weights; missing keys weigh 0). Each customer draws their own mix from
	// a Dirichlet centred on these with total concentration Concentration,
	// so customers of one archetype resemble each other without being clones.
	Categories    map[string]float64 `json:"categories"`
	Channels      map[string]float64 `json:"channels"`
	Concentration float64            `json:"concentration"`

	// Demographic tilts: weak, on purpose, so that attributes help a
	// segmentation without giving the answer away.
	AgeMean      float64 `json:"age_mean"`      // years at signup, normal, clipped to 18..85
	AgeSD        float64 `json:"age_sd"`        //
	IncomeMedian float64 `json:"income_median"` // annual, log-normal with σ=0.5
	FemaleShare  float64 `json:"female_share"`  // among customers who state F or M
	MobileShare  float64 `json:"mobile_share"`  // probability the main device is a phone
	EmailOptIn   float64 `json:"email_opt_in"`  // probability of email_opt_in
	Engagement   float64 `json:"engagement"`    // engagement events per day while alive
}

// MeanLambda is E[λ], the mean purchase rate per day of a live customer.
func (a Archetype) MeanLambda() float64 { return a.R / a.Alpha }

// MeanDropout is E[p], the mean probability of dropping out after a purchase.
func (a Archetype) MeanDropout() float64 { return a.A / (a.A + a.B) }

// MeanSpend is E[z], the mean order amount across the archetype's customers.
func (a Archetype) MeanSpend() float64 { return a.P * a.Gamma / (a.Q - 1) }

// DefaultArchetypes returns the six segments the demo plants. Rates are per
// day; the comments give the implied means.
func DefaultArchetypes() []Archetype {
	return []Archetype{
		{
			// Buys about every 15 days, rarely leaves, ~$120 a basket.
			Name: "loyal_high_spender", Share: 0.12,
			R: 4, Alpha: 60, A: 1, B: 30, P: 6, Q: 8, Gamma: 140,
			Categories:    map[string]float64{"electronics": 4, "home": 3, "fashion": 1, "sports": 1, "books": 0.5, "beauty": 0.5},
			Channels:      map[string]float64{"app": 6, "web": 3, "store": 1},
			Concentration: 20,
			AgeMean:       44, AgeSD: 10, IncomeMedian: 95_000, FemaleShare: 0.45,
			MobileShare: 0.75, EmailOptIn: 0.8, Engagement: 0.10,
		},
		{
			// Buys every ~10 days, ~$20 a basket, chases deals on marketplaces.
			Name: "bargain_hunter", Share: 0.22,
			R: 3, Alpha: 30, A: 2, B: 25, P: 3, Q: 10, Gamma: 60,
			Categories:    map[string]float64{"fashion": 5, "beauty": 4, "toys": 1, "grocery": 1, "home": 0.5},
			Channels:      map[string]float64{"marketplace": 6, "app": 2, "web": 2},
			Concentration: 15,
			AgeMean:       31, AgeSD: 9, IncomeMedian: 42_000, FemaleShare: 0.65,
			MobileShare: 0.8, EmailOptIn: 0.65, Engagement: 0.08,
		},
		{
			// Buys every ~4 months, ~$200 a basket.
			Name: "occasional_big_spender", Share: 0.12,
			R: 2, Alpha: 240, A: 1, B: 12, P: 4, Q: 6, Gamma: 250,
			Categories:    map[string]float64{"electronics": 5, "home": 4, "sports": 1},
			Channels:      map[string]float64{"web": 5, "store": 4, "app": 1},
			Concentration: 15,
			AgeMean:       50, AgeSD: 11, IncomeMedian: 110_000, FemaleShare: 0.4,
			MobileShare: 0.35, EmailOptIn: 0.4, Engagement: 0.02,
		},
		{
			// Two in three never come back after the first order.
			Name: "one_and_done", Share: 0.20,
			R: 1, Alpha: 60, A: 6, B: 3, P: 3, Q: 5, Gamma: 60,
			Categories:    map[string]float64{"electronics": 1, "fashion": 1, "home": 1, "beauty": 1, "sports": 1, "books": 1, "grocery": 1, "toys": 1},
			Channels:      map[string]float64{"web": 4, "marketplace": 4, "app": 1, "store": 1},
			Concentration: 4,
			AgeMean:       38, AgeSD: 14, IncomeMedian: 52_000, FemaleShare: 0.5,
			MobileShare: 0.55, EmailOptIn: 0.3, Engagement: 0.015,
		},
		{
			// Monthly groceries and household, ~$50, very sticky.
			Name: "steady_regular", Share: 0.24,
			R: 5, Alpha: 150, A: 1, B: 20, P: 5, Q: 9, Gamma: 80,
			Categories:    map[string]float64{"grocery": 5, "home": 3, "books": 2, "beauty": 1},
			Channels:      map[string]float64{"web": 4, "app": 4, "store": 2},
			Concentration: 20,
			AgeMean:       46, AgeSD: 13, IncomeMedian: 65_000, FemaleShare: 0.55,
			MobileShare: 0.5, EmailOptIn: 0.7, Engagement: 0.05,
		},
		{
			// Were keen (every ~2 weeks) but one in five orders is their last.
			Name: "lapsed", Share: 0.10,
			R: 3, Alpha: 45, A: 3, B: 12, P: 4, Q: 7, Gamma: 60,
			Categories:    map[string]float64{"sports": 4, "toys": 3, "fashion": 2, "electronics": 1},
			Channels:      map[string]float64{"app": 4, "web": 3, "marketplace": 2},
			Concentration: 12,
			AgeMean:       35, AgeSD: 10, IncomeMedian: 58_000, FemaleShare: 0.45,
			MobileShare: 0.65, EmailOptIn: 0.6, Engagement: 0.06,
		},
	}
}

// compiled is an Archetype turned into what sampling needs: Dirichlet
// parameters in the fixed category and channel order, so map iteration
// order can never leak into the output.
type compiled struct {
	Archetype
	catAlpha  []float64
	chanAlpha []float64
}

func compileArchetypes(as []Archetype) ([]compiled, []float64, error) {
	if len(as) == 0 {
		return nil, nil, errors.New("no archetypes")
	}
	out := make([]compiled, len(as))
	cum := make([]float64, len(as))
	var total float64
	seen := map[string]bool{}
	for i, a := range as {
		if a.Name == "" {
			return nil, nil, fmt.Errorf("archetype %d: empty name", i)
		}
		if seen[a.Name] {
			return nil, nil, fmt.Errorf("archetype %q: duplicate name", a.Name)
		}
		seen[a.Name] = true
		for _, v := range []struct {
			name string
			v    float64
		}{{"Share", a.Share}, {"R", a.R}, {"Alpha", a.Alpha}, {"A", a.A}, {"B", a.B}, {"P", a.P}, {"Q", a.Q}, {"Gamma", a.Gamma}, {"AgeSD", a.AgeSD}, {"IncomeMedian", a.IncomeMedian}} {
			if !(v.v > 0) || math.IsInf(v.v, 0) {
				return nil, nil, fmt.Errorf("archetype %q: %s must be positive and finite, got %v", a.Name, v.name, v.v)
			}
		}
		for _, v := range []struct {
			name string
			v    float64
		}{{"FemaleShare", a.FemaleShare}, {"MobileShare", a.MobileShare}, {"EmailOptIn", a.EmailOptIn}} {
			if !(v.v >= 0 && v.v <= 1) {
				return nil, nil, fmt.Errorf("archetype %q: %s must be in [0,1], got %v", a.Name, v.name, v.v)
			}
		}
		if !(a.Engagement >= 0) || math.IsInf(a.Engagement, 0) {
			return nil, nil, fmt.Errorf("archetype %q: Engagement must be non-negative, got %v", a.Name, a.Engagement)
		}
		conc := a.Concentration
		if conc <= 0 {
			conc = 10
		}
		catAlpha, err := dirichletParams(a.Categories, Categories(), conc)
		if err != nil {
			return nil, nil, fmt.Errorf("archetype %q: categories: %w", a.Name, err)
		}
		chanAlpha, err := dirichletParams(a.Channels, Channels(), conc)
		if err != nil {
			return nil, nil, fmt.Errorf("archetype %q: channels: %w", a.Name, err)
		}
		out[i] = compiled{Archetype: a, catAlpha: catAlpha, chanAlpha: chanAlpha}
		total += a.Share
		cum[i] = total
	}
	for i := range cum {
		cum[i] /= total
	}
	cum[len(cum)-1] = 1 // guard against rounding leaving a gap at the top
	return out, cum, nil
}

// dirichletParams scales weights to sum to conc, in names order. Zero
// weights stay zero: the customer then never picks that value.
func dirichletParams(w map[string]float64, names []string, conc float64) ([]float64, error) {
	idx := make(map[string]int, len(names))
	for i, n := range names {
		idx[n] = i
	}
	out := make([]float64, len(names))
	var total float64
	for k, v := range w {
		i, ok := idx[k]
		if !ok {
			return nil, fmt.Errorf("unknown value %q (want one of %v)", k, names)
		}
		if !(v >= 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("weight of %q must be non-negative, got %v", k, v)
		}
		out[i] = v
	}
	for _, v := range out {
		total += v
	}
	if total == 0 {
		return nil, errors.New("all weights are zero")
	}
	for i := range out {
		out[i] *= conc / total
	}
	return out, nil
}
