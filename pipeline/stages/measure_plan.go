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
	StatusNoGroups  = "the run before the start published the audience without a group column"
	StatusNoControl = "the audience has no control group"
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

// planCampaigns lists the campaigns of cfg's audiences that a run as of
// asOf measures, with the earlier runs' commit records it reads (the
// inputs that enter its attempt id).
func planCampaigns(ctx context.Context, cfg *config.Config, out objstore.Bucket, asOf string) ([]campaignPlan, []extract.Input, error) {
	day, err := time.Parse(time.DateOnly, asOf)
	if err != nil {
		return nil, nil, fmt.Errorf("measure: as-of date %q: %w", asOf, err)
	}
	loc := cfg.Location()
	cutoff := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
	windows := cfg.Measurement.WindowsOr()
	var plans []campaignPlan
	var dates []string
	listed := false
	var inputs []extract.Input
	seen := map[string]bool{}
	for _, a := range cfg.Audiences {
		if a.Campaign == "" {
			continue
		}
		p := campaignPlan{audience: a}
		s, _, err := a.Window()
		if err != nil {
			return nil, nil, &ConfigError{Err: fmt.Errorf("audience %s: %w", a.Name, err)}
		}
		p.start = time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, loc)
		for _, w := range windows {
			if !p.start.AddDate(0, 0, w).After(cutoff) {
				p.windows = append(p.windows, w)
			}
		}
		switch {
		case a.Control == nil:
			p.status = StatusNoControl
		case len(p.windows) == 0:
			p.status = StatusWaiting
		}
		if p.status != "" {
			plans = append(plans, p)
			continue
		}
		if !listed {
			if dates, err = publish.Dates(ctx, out); err != nil {
				return nil, nil, fmt.Errorf("measure: %w", err)
			}
			listed = true
		}
		// The latest date before both the start and this run.
		last := min(a.Starts, asOf)
		i := sort.SearchStrings(dates, last)
		if i == 0 {
			p.status = StatusNoRun
			plans = append(plans, p)
			continue
		}
		date := dates[i-1]
		if p.earlier, err = publish.ReadManifest(ctx, out, date); err != nil {
			return nil, nil, fmt.Errorf("measure audience %s: the run of %s: %w", a.Name, date, err)
		}
		if _, ok := p.earlier.Tables[audienceTable(a.Name)]; !ok {
			p.status = StatusNoTable
		}
		if !seen[date] {
			seen[date] = true
			key := publish.SuccessKey(date)
			attrs, err := out.Attributes(ctx, key)
			if err != nil {
				return nil, nil, fmt.Errorf("measure: the run of %s: %w", date, err)
			}
			inputs = append(inputs, extract.Input{Table: "measured_run", Key: key, Size: attrs.Size, ETag: attrs.ETag})
		}
		plans = append(plans, p)
	}
	return plans, inputs, nil
}

// audienceTable is the published table of audience name.
func audienceTable(name string) string { return "audiences/name=" + name }
