package stages

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
)

// What a run says of a campaign it does not measure (yet).
const (
	StatusMeasured  = "measured"
	StatusWaiting   = "waiting: no window has elapsed"
	StatusNoRun     = "no run was published before the campaign's start"
	StatusNoTable   = "the run before the start did not publish the audience"
	StatusNoGroups  = "the run before the start published the audience without a group or customer_id column"
	StatusNoControl = "the audience has no control group"
	// The audience of the run before the start was drawn for another
	// campaign name (or none): its groups are not this campaign's.
	StatusOtherCampaign = "the run before the start published the audience for another campaign"
)

// campaignPlan is one campaign a run measures, decided before any order
// is read.
//
// The audience measured is the one the campaign was sent to: the one the
// latest run published before the campaign's start (as of start − 1 day
// when the runs are daily). Its windows start at the midnight starting
// the start date, and a window is measured once it has fully elapsed by
// the end of this run's as-of day; the earlier runs, and so what is
// measured, depend only on the configuration, the as-of date and the runs
// published before it: re-running a date measures the same.
type campaignPlan struct {
	audience config.Audience
	start    time.Time // the start date, midnight in the run's zone
	windows  []int     // the elapsed windows, ascending
	earlier  *publish.Manifest
	status   string
}

// planner decides what a run measures: it lists the published dates once
// and notes the commit record of every earlier run it reads, the inputs
// that enter the run's attempt id.
type planner struct {
	cfg    *config.Config
	out    objstore.Bucket
	asOf   string
	loc    *time.Location
	cutoff time.Time // the end of the as-of day
	dates  []string  // published dates before asOf; nil until listed
	listed bool
	inputs []extract.Input
	read   map[string]*publish.Manifest
}

func newPlanner(cfg *config.Config, out objstore.Bucket, asOf string) (*planner, error) {
	day, err := time.Parse(time.DateOnly, asOf)
	if err != nil {
		return nil, fmt.Errorf("measure: as-of date %q: %w", asOf, err)
	}
	loc := cfg.Location()
	return &planner{cfg: cfg, out: out, asOf: asOf, loc: loc, read: map[string]*publish.Manifest{},
		cutoff: time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)}, nil
}

// latest returns the latest date published before this run for which ok
// holds (dates are tried newest first), "" when none.
func (p *planner) latest(ctx context.Context, ok func(date string) bool) (string, error) {
	if !p.listed {
		dates, err := publish.Dates(ctx, p.out)
		if err != nil {
			return "", fmt.Errorf("measure: %w", err)
		}
		p.dates, p.listed = dates[:sort.SearchStrings(dates, p.asOf)], true
	}
	for i := len(p.dates) - 1; i >= 0; i-- {
		if ok(p.dates[i]) {
			return p.dates[i], nil
		}
	}
	return "", nil
}

// manifest reads the commit record of the run of date, once, and notes it
// as an input.
func (p *planner) manifest(ctx context.Context, date string) (*publish.Manifest, error) {
	if m, ok := p.read[date]; ok {
		return m, nil
	}
	m, err := publish.ReadManifest(ctx, p.out, date)
	if err != nil {
		return nil, fmt.Errorf("measure: the run of %s: %w", date, err)
	}
	key := publish.SuccessKey(date)
	attrs, err := p.out.Attributes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("measure: the run of %s: %w", date, err)
	}
	p.inputs = append(p.inputs, extract.Input{Table: "measured_run", Key: key, Size: attrs.Size, ETag: attrs.ETag})
	p.read[date] = m
	return m, nil
}

// midnight is the midnight starting date in the run's zone.
func (p *planner) midnight(date string) time.Time {
	d, _ := time.Parse(time.DateOnly, date)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, p.loc)
}

// measurePlan is everything a run measures.
type measurePlan struct {
	campaigns []campaignPlan
	segments  []segmentPlan
}

// planMeasure decides what a run as of asOf measures, and returns the
// earlier runs' commit records it reads.
func planMeasure(ctx context.Context, cfg *config.Config, out objstore.Bucket, asOf string) (*measurePlan, []extract.Input, error) {
	p, err := newPlanner(cfg, out, asOf)
	if err != nil {
		return nil, nil, err
	}
	mp := &measurePlan{}
	if mp.campaigns, err = p.campaigns(ctx); err != nil {
		return nil, nil, err
	}
	if mp.segments, err = p.segments(ctx); err != nil {
		return nil, nil, err
	}
	return mp, p.inputs, nil
}

// campaigns plans the campaigns of the configuration's audiences.
func (p *planner) campaigns(ctx context.Context) ([]campaignPlan, error) {
	windows := p.cfg.Measurement.WindowsOr()
	var plans []campaignPlan
	for _, a := range p.cfg.Audiences {
		if a.Campaign == "" {
			continue
		}
		c := campaignPlan{audience: a}
		if _, _, err := a.Window(); err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("audience %s: %w", a.Name, err)}
		}
		c.start = p.midnight(a.Starts)
		for _, w := range windows {
			if !c.start.AddDate(0, 0, w).After(p.cutoff) {
				c.windows = append(c.windows, w)
			}
		}
		switch {
		case a.Control == nil:
			c.status = StatusNoControl
		case len(c.windows) == 0:
			c.status = StatusWaiting
		}
		if c.status != "" {
			plans = append(plans, c)
			continue
		}
		date, err := p.latest(ctx, func(d string) bool { return d < a.Starts })
		if err != nil {
			return nil, err
		}
		if date == "" {
			c.status = StatusNoRun
			plans = append(plans, c)
			continue
		}
		if c.earlier, err = p.manifest(ctx, date); err != nil {
			return nil, err
		}
		if _, ok := c.earlier.Tables[audienceTable(a.Name)]; !ok {
			c.status = StatusNoTable
		} else if campaign, err := earlierCampaign(ctx, p.out, c.earlier, a.Name); err != nil {
			return nil, err
		} else if campaign != a.Campaign {
			c.status = StatusOtherCampaign
		}
		plans = append(plans, c)
	}
	return plans, nil
}

// audienceTable is the published table of audience name.
func audienceTable(name string) string { return "audiences/name=" + name }
