package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
)

// publishRun commits a fake run of date: a manifest naming an audience
// table for each name, and a model.json giving each audience's campaign.
func publishRun(t *testing.T, out objstore.Bucket, date string, audiences map[string]string) {
	t.Helper()
	ctx := context.Background()
	m := publish.Manifest{Format: 1, AsOf: date, Attempt: "a", Tables: map[string]publish.TableFiles{},
		Objects: map[string]string{"model": "models/dt=" + date + "/model-a.json"}}
	type aud struct {
		Name     string `json:"name"`
		Campaign string `json:"campaign,omitempty"`
	}
	var model struct {
		Audiences []aud `json:"audiences"`
	}
	for name, campaign := range audiences {
		m.Tables[audienceTable(name)] = publish.TableFiles{}
		model.Audiences = append(model.Audiences, aud{name, campaign})
	}
	for key, v := range map[string]any{publish.SuccessKey(date): m, m.Objects["model"]: model} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := out.Upload(ctx, key, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPlanCampaigns: which earlier run a campaign is measured against,
// which windows have elapsed (a window ending at the end of the as-of
// day has), and why a campaign is not measured.
func TestPlanCampaigns(t *testing.T) {
	out := objstore.NewMem()
	publishRun(t, out, "2025-05-20", map[string]string{"a": "spring"})
	publishRun(t, out, "2025-05-31", map[string]string{"a": "spring", "b": "other"})
	publishRun(t, out, "2025-06-01", map[string]string{"a": "spring"}) // on the start: not the audience sent
	publishRun(t, out, "2025-06-08", map[string]string{"a": "spring"}) // this run itself, published before: ignored
	share := 0.2
	aud := func(name, campaign, starts string, control bool) config.Audience {
		a := config.Audience{Name: name, Filter: "frequency > 0", AudienceCampaign: config.AudienceCampaign{Campaign: campaign, Starts: starts}}
		if control {
			a.Control = &config.Control{Share: &share}
		}
		return a
	}
	cases := []struct {
		name, asOf string
		audience   config.Audience
		want       string // status earlier windows
	}{
		{"day before the 7-day window ends", "2025-06-06", aud("a", "spring", "2025-06-01", true), StatusWaiting + "  []"},
		{"7-day window ends with the as-of day", "2025-06-07", aud("a", "spring", "2025-06-01", true), "  2025-05-31 [7]"},
		{"re-run of a published date", "2025-06-08", aud("a", "spring", "2025-06-01", true), "  2025-05-31 [7]"},
		{"every window", "2025-09-01", aud("a", "spring", "2025-06-01", true), "  2025-05-31 [7 30 90]"},
		{"no control group", "2025-09-01", aud("a", "spring", "2025-06-01", false), StatusNoControl + "  [7 30 90]"},
		{"no run before the start", "2025-09-01", aud("a", "spring", "2025-05-01", true), StatusNoRun + "  [7 30 90]"},
		{"not published then", "2025-09-01", aud("c", "spring", "2025-06-01", true), StatusNoTable + " 2025-05-31 [7 30 90]"},
		{"another campaign", "2025-09-01", aud("b", "spring", "2025-06-01", true), StatusOtherCampaign + " 2025-05-31 [7 30 90]"},
		{"an earlier start", "2025-09-01", aud("a", "spring", "2025-05-25", true), "  2025-05-20 [7 30 90]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := &config.Config{Audiences: []config.Audience{c.audience}}
			plan, inputs, err := planMeasure(context.Background(), cfg, out, c.asOf)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.campaigns) != 1 {
				t.Fatalf("%d campaigns planned", len(plan.campaigns))
			}
			p := plan.campaigns[0]
			earlier := ""
			if p.earlier != nil {
				earlier = p.earlier.AsOf
			}
			got := fmt.Sprintf("%s %s %v", p.status, earlier, p.windows)
			if strings.TrimSpace(got) != strings.TrimSpace(c.want) {
				t.Errorf("planned %q, want %q", got, c.want)
			}
			// The inputs are the commit records read: the measured run's.
			if (earlier == "") != (len(inputs) == 0) || earlier != "" && inputs[0].Key != publish.SuccessKey(earlier) {
				t.Errorf("inputs %+v for the run of %q", inputs, earlier)
			}
		})
	}
}

// TestPlanSegments: each segment window is measured on the latest run
// whose window has elapsed, the backtest on the latest whose CLV horizon
// has; none without measurement.segments.
func TestPlanSegments(t *testing.T) {
	out := objstore.NewMem()
	for _, d := range []string{"2025-05-20", "2025-05-31", "2025-06-01", "2025-06-08"} {
		publishRun(t, out, d, nil)
	}
	cases := []struct {
		name string
		cfg  *config.Config
		want string
	}{
		{"off", &config.Config{CLV: config.CLV{HorizonMonths: 1}}, ""},
		{"on", &config.Config{Measurement: &config.Measurement{Segments: true}, CLV: config.CLV{HorizonMonths: 1}},
			// 7 days: ≤ 06-23; 30: ≤ 05-31; 90: none. A month of 30.44
			// days from the cutoff ends by 07-01 for runs up to 05-30.
			"2025-05-20 [] true; 2025-05-31 [30] false; 2025-06-08 [7] false; "},
		{"windows", &config.Config{Measurement: &config.Measurement{Segments: true, Windows: []int{22, 1}}, CLV: config.CLV{HorizonMonths: 1}},
			"2025-05-20 [] true; 2025-06-08 [1 22] false; "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, _, err := planMeasure(context.Background(), c.cfg, out, "2025-06-30")
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, p := range plan.segments {
				fmt.Fprintf(&b, "%s %v %v; ", p.earlier.AsOf, p.windows, p.backtest)
				if p.horizon != nil {
					t.Errorf("the run of %s has no CLV, but a horizon %+v", p.earlier.AsOf, p.horizon)
				}
			}
			if b.String() != c.want {
				t.Errorf("planned %q, want %q", b.String(), c.want)
			}
		})
	}
}
