package pipeline

import (
	"fmt"
	"testing"

	"github.com/strata-oss/strata/internal/racetest"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/stages"
)

// TestCampaignAA: forty campaigns on the same audience, each with its own
// name and so its own random split, none of them planted (the shop's
// planted campaign has another name, so its extra purchases fall in both
// groups alike). Each 90-day conversion lift's 95 % interval should cover
// zero; at least 36 of 40 must.
func TestCampaignAA(t *testing.T) {
	racetest.Skip(t, "a statistical check of 40 campaigns' intervals")
	s := newCampaignShop(t, 5_000, "parquet")
	share := 0.3
	cfg := campaignConfig(t, "")
	cfg.Audiences = cfg.Audiences[:len(cfg.Audiences)-1]
	const seeds = 40
	for i := range seeds {
		cfg.Audiences = append(cfg.Audiences, config.Audience{Name: fmt.Sprintf("aa-%02d", i),
			Filter: "recency_days >= 60 and recency_days <= 180", Columns: []string{"customer_id"},
			AudienceCampaign: config.AudienceCampaign{Campaign: fmt.Sprintf("aa-%02d", i), Starts: plantedStart,
				Control: &config.Control{Share: &share}}})
	}
	const before, after = "2025-05-31", "2025-09-01"
	runOn(t, cfg, s.in, s.out, before)
	runOn(t, cfg, s.in, s.out, after)
	var sec struct {
		Measure stages.MeasureModel `json:"measure"`
	}
	if _, err := jsonRoundTrip(modelOf(t, s.out, after).Stages, &sec); err != nil {
		t.Fatal(err)
	}
	covered, measuredN := 0, 0
	for _, c := range sec.Measure.Campaigns {
		for _, r := range c.Rows {
			if r.Group != "treatment" || r.WindowDays != 90 {
				continue
			}
			measuredN++
			if r.LiftLo <= 0 && 0 <= r.LiftHi {
				covered++
			}
		}
	}
	t.Logf("A/A: the 90-day lift's interval covers 0 in %d of %d campaigns", covered, measuredN)
	if measuredN != seeds || covered < 36 {
		t.Errorf("the interval covers 0 in %d of %d campaigns, want at least 36 of %d", covered, measuredN, seeds)
	}
}
