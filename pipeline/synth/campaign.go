package synth

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/strata-oss/strata/pipeline/holdout"
)

// Campaign plants a campaign with a known effect, so that measuring a
// campaign has something true to find.
//
// The audience is every customer with at least one purchase before Start
// whose recency the day before Start — that day minus the (UTC) day of the
// last purchase, as a run's recency_days counts it — is between
// MinRecencyDays and MaxRecencyDays: the lapsing customers a win-back
// email is for. A run as of Start − 1 day (timezone UTC) selects the same
// customers with `recency_days >= 60 and recency_days <= 180`, but for
// noise: the audience is decided on the genuine purchases, so a customer
// whose last order was written as a malformed row (about 0.1% of rows) may
// fall outside the run's audience though planted in it.
//
// Its customers are split into control and treatment by
// holdout.Draw(Name, customer_id) < ControlShare, the same draw a run
// uses, so a run with the same campaign name and share publishes the same
// groups.
//
// The effect is multiplicative on the purchase rate: while alive, a
// treated customer buys at rate (1+Uplift)·λ instead of λ during
// [Start, Start+WindowDays). It is planted as extra purchases from a
// Poisson process of rate Uplift·λ over that window, cut at the
// customer's dropout (the campaign changes no one's lifetime: the extra
// purchases draw no dropout) and at End; their amounts, categories and
// channels are the customer's own Gamma-Gamma and Dirichlet draws, and
// they go through the same noise as any order. Control customers, and
// everyone outside the audience, get exactly the purchases they would
// have without the campaign (the extra purchases come from a random
// stream of their own), so their orders are those of the same seed
// without a campaign, order ids aside (ids are numbered across the whole
// table, so the treated customers' extra orders shift later ids).
//
// Who was treated, and what the campaign added, is written to
// truth/campaign.csv (see campaignRecord), apart from the tables a run
// reads.
type Campaign struct {
	Name           string    `json:"name"`
	Start          time.Time `json:"start"`            // the campaign's date, midnight UTC
	ControlShare   float64   `json:"control_share"`    // in (0, 1); default 0.1
	Uplift         float64   `json:"uplift"`           // ≥ 0: treated purchase rate ×(1+Uplift)
	WindowDays     int       `json:"window_days"`      // default 90
	MinRecencyDays int       `json:"min_recency_days"` // default 60
	MaxRecencyDays int       `json:"max_recency_days"` // default 180
}

// Defaults of Campaign's zero fields.
const (
	DefaultCampaignControlShare = 0.1
	DefaultCampaignWindowDays   = 90
	DefaultCampaignMinRecency   = 60
	DefaultCampaignMaxRecency   = 180
)

// CampaignTruthKey is where the campaign's truth is written.
const CampaignTruthKey = "truth/campaign.csv"

var campaignNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// normalize fills c's defaults and checks it against the shop's window.
func (c Campaign) normalize(start, end time.Time) (Campaign, error) {
	if !campaignNameRE.MatchString(c.Name) {
		return c, fmt.Errorf("campaign name must be 1-63 lower-case letters, digits, _ or -, got %q", c.Name)
	}
	if c.ControlShare == 0 {
		c.ControlShare = DefaultCampaignControlShare
	}
	if !(c.ControlShare > 0 && c.ControlShare < 1) {
		return c, fmt.Errorf("campaign control share must be in (0, 1), got %v", c.ControlShare)
	}
	if !(c.Uplift >= 0) || math.IsInf(c.Uplift, 0) {
		return c, fmt.Errorf("campaign uplift must be a finite number ≥ 0 (a rate multiplied by 1+uplift), got %v", c.Uplift)
	}
	if c.WindowDays == 0 {
		c.WindowDays = DefaultCampaignWindowDays
	}
	if c.MinRecencyDays == 0 && c.MaxRecencyDays == 0 {
		c.MinRecencyDays, c.MaxRecencyDays = DefaultCampaignMinRecency, DefaultCampaignMaxRecency
	}
	if c.WindowDays < 0 || c.MinRecencyDays < 0 || c.MaxRecencyDays < c.MinRecencyDays {
		return c, fmt.Errorf("campaign window %d days and recency %d..%d days: want a positive window and 0 ≤ min ≤ max",
			c.WindowDays, c.MinRecencyDays, c.MaxRecencyDays)
	}
	c.Start = c.Start.UTC().Truncate(24 * time.Hour)
	if !c.Start.After(start) || !c.Start.Before(end) {
		return c, fmt.Errorf("campaign start %s must be inside the shop's window %s..%s",
			c.Start.Format(time.DateOnly), start.Format(time.DateOnly), end.Format(time.DateOnly))
	}
	return c, nil
}

// campaignRecord is one audience member's truth.
type campaignRecord struct {
	CustomerID string
	Group      string  // treatment or control
	Draw       float64 // holdout.Draw(name, id)
	LastBefore int64   // last genuine purchase before Start, µs
	// Baseline counts the genuine purchases in the window the customer
	// made (or would have made) without the campaign; Extra those the
	// campaign added (0 for control). A treated customer converted
	// because of the campaign iff Baseline == 0 and Extra > 0.
	Baseline, Extra int
	// AliveDays is how long, in days, the customer was alive within the
	// window (cut at dropout and End): E[Extra] = Uplift·λ·AliveDays.
	AliveDays float64
	Lambda    float64
}

var campaignHeader = []string{"customer_id", "group", "draw", "last_purchase_before_start", "baseline_purchases", "extra_purchases", "alive_days", "lambda"}

func (r *campaignRecord) appendCSV(dst []string) []string {
	return append(dst, r.CustomerID, r.Group, strconv.FormatFloat(r.Draw, 'g', -1, 64), fmtTime(r.LastBefore),
		strconv.Itoa(r.Baseline), strconv.Itoa(r.Extra), strconv.FormatFloat(r.AliveDays, 'g', -1, 64),
		strconv.FormatFloat(r.Lambda, 'g', -1, 64))
}

// campaign plants the campaign for the customer whose story g.purchases
// holds: records them if in the audience and, if treated, appends the
// extra purchases (out of time order; orders() sorts). dropout is the
// time of the purchase the customer dropped out after, 0 if alive at End.
func (g *generator) campaign(idx int, id string, a *compiled, lambda, nu float64, dropout int64, c *chunk) {
	p := g.p
	cp := p.cfg.Campaign
	start := cp.Start.UnixMicro()
	var last int64
	for _, pu := range g.purchases {
		if pu.at >= start {
			break
		}
		last = pu.at
	}
	if last == 0 {
		return
	}
	// start is a midnight UTC; purchases are after the epoch.
	if rec := start/dayMicros - 1 - last/dayMicros; rec < int64(cp.MinRecencyDays) || rec > int64(cp.MaxRecencyDays) {
		return
	}
	wEnd := min(start+int64(cp.WindowDays)*dayMicros, p.end)
	if dropout != 0 {
		wEnd = min(wEnd, max(dropout, start))
	}
	r := &campaignRecord{CustomerID: id, Draw: holdout.Draw(cp.Name, id), LastBefore: last,
		AliveDays: float64(wEnd-start) / float64(dayMicros), Lambda: lambda}
	winEnd := min(start+int64(cp.WindowDays)*dayMicros, p.end)
	for _, pu := range g.purchases {
		if pu.at >= start && pu.at < winEnd {
			r.Baseline++
		}
	}
	r.Group = holdout.Treatment
	if r.Draw < cp.ControlShare {
		r.Group = holdout.Control
	}
	if r.Group == holdout.Treatment && cp.Uplift > 0 {
		seedStream(&g.srcC, p.cfg.Seed, streamCampaign, idx)
		rc := g.rC
		rate := cp.Uplift * lambda
		for t := start; ; {
			gap := rc.ExpFloat64() / rate
			if gap >= float64(wEnd-t)/float64(dayMicros) {
				break
			}
			t += max(int64(gap*86400), 1) * secondMicros
			if t >= wEnd {
				break
			}
			z := gammaRate(rc, a.P, nu)
			amount := max(math.Round(z*100)/100, 0.01)
			g.purchases = append(g.purchases, purchase{
				at: t, amount: amount, qty: int32(1 + min(4, poisson(rc, min(z/100, 3)))),
				category: pick(rc, g.catCum), channel: pick(rc, g.chanCum),
			})
			r.Extra++
		}
	}
	c.campaign = append(c.campaign, *r)
}
