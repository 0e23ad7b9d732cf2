package holdout_test

import (
	"fmt"
	"testing"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/holdout"
)

// TestInControl: the decision is the draw against the audience's share
// (default 0.1), and nobody is in control without a campaign or a control
// group.
func TestInControl(t *testing.T) {
	half, tenth := 0.5, 0.1
	cases := []struct {
		name string
		a    config.AudienceCampaign
		// share is the threshold the draw is held to; < 0: never control.
		share float64
	}{
		{"no campaign", config.AudienceCampaign{Control: &config.Control{Share: &half}}, -1},
		{"no control group", config.AudienceCampaign{Campaign: "c"}, -1},
		{"default share", config.AudienceCampaign{Campaign: "c", Control: &config.Control{}}, 0.1},
		{"explicit 0.1", config.AudienceCampaign{Campaign: "c", Control: &config.Control{Share: &tenth}}, 0.1},
		{"half", config.AudienceCampaign{Campaign: "winback", Control: &config.Control{Share: &half}}, 0.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			control := 0
			for i := range 2000 {
				id := fmt.Sprint(i)
				want := c.share >= 0 && holdout.Draw(c.a.Campaign, id) < c.share
				got := holdout.InControl(c.a, id)
				if got != want {
					t.Fatalf("customer %s: InControl %v, draw %v against share %v", id, got, holdout.Draw(c.a.Campaign, id), c.share)
				}
				if g := holdout.GroupOf(c.a, id); (g == holdout.Control) != got {
					t.Fatalf("customer %s: GroupOf %q, InControl %v", id, g, got)
				}
				if got {
					control++
				}
			}
			if c.share < 0 && control != 0 || c.share > 0 && (control < int(2000*c.share*0.8) || control > int(2000*c.share*1.2)) {
				t.Errorf("%d of 2000 in control at share %v", control, c.share)
			}
		})
	}
}
