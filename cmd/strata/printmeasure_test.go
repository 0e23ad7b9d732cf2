package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/strata-oss/strata/pipeline/holdout"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/stages"
)

// TestPrintCampaigns: `strata show` prints an audience's groups and
// balance, a measured campaign's lift per window (the treatment row's),
// why a campaign is not measured, and nothing for a run without them.
func TestPrintCampaigns(t *testing.T) {
	k, _ := holdout.NewCounter(0.2)
	k.AddCounts("Champions", 100, 19)
	b := k.Balance()
	treat, control := 81, 19
	mm := stages.MeasureModel{Windows: []int{7}, Campaigns: []stages.MeasuredCampaign{
		{Audience: "wb", Campaign: "spring", Starts: "2025-06-01", EarlierAsOf: "2025-05-31", Status: stages.StatusMeasured,
			Windows: []int{7}, Rows: []stages.CampaignRow{
				{WindowDays: 7, Group: "control", Lift: stages.Num(math.NaN())},
				{WindowDays: 7, Group: "treatment", Lift: 0.0125, LiftLo: -0.001, LiftHi: 0.03, PConversion: 0.04}}},
		{Audience: "later", Campaign: "autumn", Starts: "2025-10-01", Status: stages.StatusWaiting},
	}}
	data, err := json.Marshal(map[string]any{"measure": mm})
	if err != nil {
		t.Fatal(err)
	}
	var sections map[string]any
	if err := json.Unmarshal(data, &sections); err != nil {
		t.Fatal(err)
	}
	m := &output.Model{Stages: sections, Audiences: []output.AudienceResult{
		{Name: "wb", Customers: 100, Campaign: "spring", Starts: "2025-06-01", Treatment: &treat, Control: &control, Balance: &b},
		{Name: "plain", Customers: 5}}}
	var out strings.Builder
	printCampaigns(&out, m)
	got := out.String()
	for _, want := range []string{
		"audience wb, campaign spring from 2025-06-01: 81 treatment, 19 control (balance p = 0.8",
		"campaign spring (wb, audience of 2025-05-31):  7d lift +1.25 pts [-0.10, +3.00] p=0.04\n",
		"campaign autumn (later): " + stages.StatusWaiting + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "plain") || strings.Count(got, "\n") != 3 {
		t.Errorf("printed\n%s", got)
	}
	out.Reset()
	printCampaigns(&out, &output.Model{})
	if out.Len() != 0 {
		t.Errorf("a run without campaigns printed %q", out.String())
	}
}
