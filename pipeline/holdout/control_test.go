package holdout

import (
	"math"
	"testing"

	"github.com/strata-oss/strata/pipeline/config"
)

// TestInControl: the one decision everything uses is Draw below the
// share, of the campaign's name, with the default share when unset, and
// false without a control group or a campaign.
func TestInControl(t *testing.T) {
	share := func(s float64) *float64 { return &s }
	cases := []struct {
		name string
		a    config.AudienceCampaign
		// share is the control share the audience should draw against;
		// negative: nobody is in control.
		share float64
	}{
		{"no control", config.AudienceCampaign{Campaign: "spring"}, -1},
		{"no campaign", config.AudienceCampaign{Control: &config.Control{Share: share(0.5)}}, -1},
		{"default share", config.AudienceCampaign{Campaign: "spring", Control: &config.Control{}}, 0.1},
		{"share 0.3", config.AudienceCampaign{Campaign: "spring", Control: &config.Control{Share: share(0.3)}}, 0.3},
		{"other campaign", config.AudienceCampaign{Campaign: "autumn", Control: &config.Control{Share: share(0.3)}}, 0.3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n int
			for i := range 20_000 {
				got := InControl(tc.a, id(i))
				want := tc.share >= 0 && Draw(tc.a.Campaign, id(i)) < tc.share
				if got != want {
					t.Fatalf("customer %s: InControl %v, want %v", id(i), got, want)
				}
				if got {
					n++
				}
			}
			// Binomial(20000, s): within 5 standard deviations.
			if tc.share > 0 {
				mean, sd := 20_000*tc.share, math.Sqrt(20_000*tc.share*(1-tc.share))
				if float64(n) < mean-5*sd || float64(n) > mean+5*sd {
					t.Errorf("%d of 20000 in control, want about %.0f", n, mean)
				}
			} else if n != 0 {
				t.Errorf("%d in control without a control group", n)
			}
		})
	}
}
