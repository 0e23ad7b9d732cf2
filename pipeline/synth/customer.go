package synth

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

const (
	secondMicros = int64(time.Second / time.Microsecond)
	dayMicros    = 86400 * secondMicros
)

// plan is everything Generate derives from Config once; workers share it
// read-only.
type plan struct {
	cfg       Config
	arch      []compiled
	archCum   []float64
	geo       *geography
	start     int64 // µs since the epoch
	end       int64 // exclusive
	signupEnd int64 // exclusive end of signups: End - signupMargin

	// campaigns[i] names the email campaign of month i counted from
	// January of Start's year, e.g. "2024-11-black-friday".
	campaigns []string
	startYear int
}

func newPlan(cfg Config) (*plan, error) {
	arch, cum, err := compileArchetypes(cfg.Archetypes)
	if err != nil {
		return nil, err
	}
	p := &plan{
		cfg: cfg, arch: arch, archCum: cum, geo: newGeography(),
		start:     cfg.Start.UnixMicro(),
		end:       cfg.End.UnixMicro(),
		signupEnd: cfg.End.Add(-signupMargin).UnixMicro(),
		startYear: cfg.Start.Year(),
	}
	themes := [12]string{"new-year-sale", "valentines", "spring-refresh", "easter", "mothers-day", "summer-kickoff",
		"mid-year-sale", "back-to-school", "fall-preview", "halloween", "black-friday", "holiday-gifts"}
	for y := p.startYear; y <= cfg.End.Year(); y++ {
		for m := range 12 {
			p.campaigns = append(p.campaigns, fmt.Sprintf("%d-%02d-%s", y, m+1, themes[m]))
		}
	}
	return p, nil
}

func (p *plan) campaignAt(us int64) string {
	t := time.UnixMicro(us).UTC()
	return p.campaigns[(t.Year()-p.startYear)*12+int(t.Month())-1]
}

// Fixed vocabularies of the attribute columns.
var (
	educations = [...]string{"high_school", "bachelor", "master", "doctorate", "other"}
	// Base education mix and how strongly each level follows log income.
	educationBase   = [...]float64{0.30, 0.38, 0.18, 0.04, 0.10}
	educationIncome = [...]float64{-1.2, 0.3, 1.0, 1.5, -0.4}

	occupations  = [...]string{"engineer", "teacher", "nurse", "sales", "manager", "self_employed", "service", "admin", "student", "retired", "other"}
	occupationW  = [...]float64{0.12, 0.10, 0.08, 0.12, 0.10, 0.08, 0.14, 0.12, 0, 0, 0.14}
	occupationHi = [...]float64{2.5, 0.8, 0.9, 1.0, 2.5, 1.5, 0.4, 0.7, 0, 0, 0.8} // multiplier when income is high

	interestList = [...]string{"tech", "gaming", "fashion", "beauty", "fitness", "outdoors", "cooking", "travel",
		"reading", "music", "movies", "parenting", "home_decor", "pets", "finance"}
	// categoryInterests lists, per category in Categories() order, the
	// interests that go with it.
	categoryInterests = [...][]int{{0, 1}, {2}, {12, 6}, {3}, {4, 5}, {8}, {6}, {11, 1}}
)

// purchase is one genuine order in the story, before noise.
type purchase struct {
	at       int64
	amount   float64
	qty      int32
	category int
	channel  int
}

// orderRow is an order row with the time it sorts by, which survives even
// when the row's own timestamp is blanked out as noise.
type orderRow struct {
	sortAt int64
	rec    orderRecord
	dup    bool
}

// generator produces customers; one per worker, reusing its buffers.
type generator struct {
	p                      *plan
	srcA, srcS, srcN, srcE rand.PCG
	rA, rS, rN, rE         *rand.Rand
	srcC                   rand.PCG // a planted campaign's stream
	rC                     *rand.Rand
	srcK                   rand.PCG // contact fields' stream (contact.go)
	rK                     *rand.Rand

	catCum, chanCum []float64
	purchases       []purchase
	rows            []orderRow
	events          []eventRecord
	weights         []float64
}

func newGenerator(p *plan) *generator {
	g := &generator{p: p}
	g.rA, g.rS, g.rN, g.rE = rand.New(&g.srcA), rand.New(&g.srcS), rand.New(&g.srcN), rand.New(&g.srcE)
	g.rC = rand.New(&g.srcC)
	g.rK = rand.New(&g.srcK)
	g.catCum = make([]float64, len(Categories()))
	g.chanCum = make([]float64, len(Channels()))
	return g
}

// chunk appends customers [lo, hi) to c.
func (g *generator) chunk(c *chunk, lo, hi int) {
	for idx := lo; idx < hi; idx++ {
		g.customer(idx, c)
	}
}

func (g *generator) customer(idx int, c *chunk) {
	p := g.p
	seed := p.cfg.Seed
	seedStream(&g.srcA, seed, streamAttrs, idx)
	seedStream(&g.srcS, seed, streamStory, idx)
	seedStream(&g.srcN, seed, streamNoise, idx)
	seedStream(&g.srcE, seed, streamEvent, idx)
	id := customerID(idx)

	// Attributes.
	r := g.rA
	k := pick(r, p.archCum)
	a := &p.arch[k]
	signup := p.start + int64(r.Float64()*float64((p.signupEnd-p.start)/secondMicros))*secondMicros
	cust := g.attributes(id, a, signup)
	g.contact(&cust, idx)
	c.customers = append(c.customers, cust)
	if r.Float64() < secondVersionRate {
		c.customers = append(c.customers, g.secondVersion(cust))
	}

	// Story: BG/NBD purchases and Gamma-Gamma spend.
	r = g.rS
	prospect := r.Float64() < prospectRate
	lambda := gammaRate(r, a.R, a.Alpha)
	pDrop := beta(r, a.A, a.B)
	nu := gammaRate(r, a.Q, a.Gamma)
	g.catCum = dirichletCum(r, a.catAlpha, g.catCum)
	g.chanCum = dirichletCum(r, a.chanAlpha, g.chanCum)
	g.purchases = g.purchases[:0]
	var dropout int64
	if !prospect {
		t := signup + int64(r.Float64()*3*86400)*secondMicros
		for {
			z := gammaRate(r, a.P, nu)
			amount := max(math.Round(z*100)/100, 0.01)
			// Bigger baskets hold more items, capped at five.
			qty := 1 + min(4, poisson(r, min(z/100, 3)))
			g.purchases = append(g.purchases, purchase{
				at: t, amount: amount, qty: int32(qty),
				category: pick(r, g.catCum), channel: pick(r, g.chanCum),
			})
			if r.Float64() < pDrop {
				dropout = t
				break
			}
			// Compare in days before converting: a tiny λ gives gaps
			// that overflow int64 microseconds.
			gap := r.ExpFloat64() / lambda
			if gap >= float64(p.end-t)/float64(dayMicros) {
				break
			}
			t += max(int64(gap*86400), 1) * secondMicros
			if t >= p.end {
				break
			}
		}
	}
	tr := truthRecord{
		CustomerID: id, Archetype: a.Name, Prospect: prospect,
		Lambda: lambda, PDropout: pDrop, Nu: nu,
		Purchases: int32(len(g.purchases)), DropoutAt: dropout,
	}
	if len(g.purchases) > 0 {
		tr.FirstPurchaseAt = g.purchases[0].at
	}
	c.truth = append(c.truth, tr)
	if p.cfg.Campaign != nil && !prospect {
		// After the truth record: its purchases are the model's draws,
		// without the campaign's extra ones.
		g.campaign(idx, id, a, lambda, nu, dropout, c)
	}

	g.orders(id, c)
	g.engagement(id, a, cust.EmailOptIn, signup, dropout, prospect, c)
}

// attributes draws the customer's demographics and, for a few, a second
// later version of the row.
func (g *generator) attributes(id string, a *compiled, signup int64) customerRecord {
	r, p := g.rA, g.p
	age := min(max(a.AgeMean+a.AgeSD*r.NormFloat64(), 18), 85)
	birth := signup - int64(age*365.2425*float64(dayMicros))
	cust := customerRecord{
		CustomerID: id,
		SignupAt:   signup,
		BirthDate:  int32(math.Floor(float64(birth) / float64(dayMicros))),
		UpdatedAt:  signup,
	}
	switch u := r.Float64(); {
	case u < 0.02: // not stated: null
	case u < 0.04:
		cust.Gender = "X"
	case r.Float64() < a.FemaleShare:
		cust.Gender = "F"
	default:
		cust.Gender = "M"
	}
	income := math.Round(a.IncomeMedian*math.Exp(0.5*r.NormFloat64())/100) * 100
	if age < 23 {
		income = math.Round(income*0.5/100) * 100 // students and first jobs
	}
	income = max(income, 1000)
	if r.Float64() >= 0.05 {
		cust.AnnualIncome = income
	}
	logInc := math.Log(income / 60_000)

	g.weights = g.weights[:0]
	for i, w := range educationBase {
		g.weights = append(g.weights, w*math.Exp(educationIncome[i]*logInc))
	}
	cust.Education = educations[pick(r, cumulative(g.weights))]

	switch {
	case age < 25 && r.Float64() < 0.5:
		cust.Occupation = "student"
	case age >= 63 && r.Float64() < min(1, (age-58)/12):
		cust.Occupation = "retired"
	default:
		g.weights = g.weights[:0]
		for i, w := range occupationW {
			if income > 90_000 {
				w *= occupationHi[i]
			}
			g.weights = append(g.weights, w)
		}
		cust.Occupation = occupations[pick(r, cumulative(g.weights))]
	}

	geo := p.geo
	country := pick(r, geo.countryCum)
	city := pick(r, geo.cityCum[country])
	cust.Country = geo.countries[country]
	cust.City, cust.Region = geo.cityName[country][city], geo.cityRegion[country][city]
	cust.PostalCode = geo.postal[country](r, city)

	switch {
	case r.Float64() < a.MobileShare:
		cust.Device = "mobile"
		cust.OS = "android"
		if r.Float64() < 0.35+0.15*math.Tanh(logInc) {
			cust.OS = "ios"
		}
	case r.Float64() < 0.75:
		cust.Device = "desktop"
		cust.OS = [...]string{"windows", "macos", "linux"}[pick(r, []float64{0.65, 0.93, 1})]
	default:
		cust.Device = "tablet"
		cust.OS = [...]string{"ios", "android"}[pick(r, []float64{0.6, 1})]
	}

	// Interests lean towards the archetype's categories, with a floor so
	// every interest occurs in every archetype.
	g.weights = g.weights[:0]
	for range interestList {
		g.weights = append(g.weights, 0.3)
	}
	for ci, alpha := range a.catAlpha {
		for _, ii := range categoryInterests[ci] {
			g.weights[ii] += alpha / a.Concentration * 3
		}
	}
	if n := r.IntN(5); n > 0 {
		cust.Interests = make([]string, 0, n)
		for range n {
			i := pick(r, cumulative(g.weights))
			cust.Interests = append(cust.Interests, interestList[i])
			g.weights[i] = 0 // without replacement
		}
	}
	cust.EmailOptIn = r.Float64() < a.EmailOptIn
	return cust
}

// secondVersion returns a later row for the same customer: moved within the
// country, or a changed income, or both.
func (g *generator) secondVersion(cust customerRecord) customerRecord {
	r, geo, p := g.rA, g.p.geo, g.p
	v := cust
	v.UpdatedAt = cust.SignupAt + (1+int64(r.Float64()*float64((p.end-cust.SignupAt)/secondMicros-1)))*secondMicros
	moved := r.Float64() < 0.7
	if moved {
		country := slices.Index(geo.countries, cust.Country)
		for range 8 { // redraw until the city differs; gives up on a one-city country
			city := pick(r, geo.cityCum[country])
			if name := geo.cityName[country][city]; name != cust.City {
				v.City, v.Region = name, geo.cityRegion[country][city]
				v.PostalCode = geo.postal[country](r, city)
				break
			}
		}
	}
	if !moved || r.Float64() < 0.4 {
		base := cust.AnnualIncome
		if base == 0 {
			base = 50_000
		}
		v.AnnualIncome = math.Round(base*(0.85+0.5*r.Float64())/100) * 100
	}
	return v
}

// orders turns the purchases into order rows and plants noise: malformed
// rows, refunds and exact duplicates, all drawn from the noise stream.
func (g *generator) orders(id string, c *chunk) {
	r, p := g.rN, g.p
	bad, dup, refund := rate(p.cfg.BadRowRate), rate(p.cfg.DuplicateRate), rate(p.cfg.RefundRate)
	cats, chans := Categories(), Channels()
	g.rows = g.rows[:0]
	for _, pu := range g.purchases {
		rec := orderRecord{
			CustomerID: id, OrderedAt: pu.at,
			Category: cats[pu.category], Channel: chans[pu.channel],
			Quantity: pu.qty, NetAmount: pu.amount, Currency: "USD",
		}
		if r.Float64() < bad {
			switch r.IntN(4) {
			case 0:
				rec.CustomerID = ""
			case 1:
				rec.OrderedAt = 0
			case 2:
				rec.NetAmount = math.NaN()
			case 3:
				rec.NetAmount = -rec.NetAmount
			}
			c.bad++
			g.rows = append(g.rows, orderRow{sortAt: pu.at, rec: rec})
			continue
		}
		row := orderRow{sortAt: pu.at, rec: rec, dup: r.Float64() < dup}
		if row.dup {
			c.dups++
		}
		g.rows = append(g.rows, row)
		if r.Float64() < refund {
			// Refunds come an hour to a few weeks later; those that
			// would land after End never happen.
			at := pu.at + (3600+int64(r.ExpFloat64()*7*86400))*secondMicros
			if at >= p.end {
				continue
			}
			ref := rec
			ref.OrderedAt, ref.IsRefund = at, true
			if r.Float64() < 0.5 {
				ref.NetAmount = -rec.NetAmount
			} else {
				ref.NetAmount = -max(math.Round(rec.NetAmount*(20+70*r.Float64()))/100, 0.01)
				ref.Quantity = 1
			}
			c.refunds++
			g.rows = append(g.rows, orderRow{sortAt: at, rec: ref})
		}
	}
	slices.SortStableFunc(g.rows, func(x, y orderRow) int { return cmp.Compare(x.sortAt, y.sortAt) })
	for _, row := range g.rows {
		c.orders = append(c.orders, row.rec)
		c.orderSeq = append(c.orderSeq, c.orderIDs)
		if row.dup {
			c.orders = append(c.orders, row.rec)
			c.orderSeq = append(c.orderSeq, c.orderIDs)
		}
		c.orderIDs++
	}
}

// engagement draws the customer's events: a Poisson stream at the
// archetype's rate while alive that fades after dropout, email clicks
// following some opens, and a session shortly before many web and app
// orders.
func (g *generator) engagement(id string, a *compiled, optIn bool, signup, dropout int64, prospect bool, c *chunk) {
	r, p := g.rE, g.p
	const fade = 45.0 // days: engagement e-folding time after dropout
	appShare := 0.5
	// chanCum is cumulative over Channels(): web first, app second.
	if web, app := g.chanCum[0], g.chanCum[1]-g.chanCum[0]; web+app > 0 {
		appShare = app / (web + app)
	}
	rateDay := a.Engagement
	if prospect {
		rateDay *= 0.3
	}
	g.events = g.events[:0]
	if rateDay > 0 {
		t := signup
		for {
			gap := r.ExpFloat64() / rateDay
			if gap >= float64(p.end-t)/float64(dayMicros) {
				break
			}
			t += max(int64(gap*86400), 1) * secondMicros
			if t >= p.end {
				break
			}
			if dropout != 0 && t > dropout {
				if r.Float64() >= math.Exp(-float64(t-dropout)/float64(dayMicros)/fade) {
					continue // thinned: the customer is fading away
				}
			}
			if optIn && r.Float64() < 0.45 {
				camp := p.campaignAt(t)
				g.events = append(g.events, eventRecord{CustomerID: id, EventAt: t, EventType: "email_open", Channel: "email", Campaign: camp})
				if r.Float64() < 0.3 {
					if at := t + (60+int64(r.Float64()*7200))*secondMicros; at < p.end {
						g.events = append(g.events, eventRecord{CustomerID: id, EventAt: at, EventType: "email_click", Channel: "email", Campaign: camp})
					}
				}
				continue
			}
			ev := eventRecord{CustomerID: id, EventAt: t, EventType: "web_session", Channel: "web"}
			if r.Float64() < appShare {
				ev.EventType, ev.Channel = "app_session", "app"
			}
			if r.Float64() < 0.15 { // arrived through a campaign link
				ev.Campaign = p.campaignAt(t)
			}
			g.events = append(g.events, ev)
		}
	}
	chans := Channels()
	for _, pu := range g.purchases {
		ch := chans[pu.channel]
		if (ch != "web" && ch != "app") || r.Float64() >= 0.5 {
			continue
		}
		at := max(pu.at-(60+int64(r.Float64()*1800))*secondMicros, signup)
		ev := eventRecord{CustomerID: id, EventAt: at, EventType: ch + "_session", Channel: ch}
		if r.Float64() < 0.2 {
			ev.Campaign = p.campaignAt(at)
		}
		g.events = append(g.events, ev)
	}
	slices.SortStableFunc(g.events, func(x, y eventRecord) int { return cmp.Compare(x.EventAt, y.EventAt) })
	c.events = append(c.events, g.events...)
}
