package config

import (
	"strings"
	"testing"
)

// TestAudienceCampaignYAML: the campaign keys inlined in an audience are
// read from YAML (they were refused as unknown keys), and a misspelt one
// is still refused.
func TestAudienceCampaignYAML(t *testing.T) {
	const aud = `audiences:
  - name: winback
    filter: frequency > 0
    campaign: winback-2025-06
    starts: 2025-06-01
    formats: [parquet]
    control: {share: 0.2, stratify: rfm_segment}
`
	cfg, err := Parse([]byte(valid+aud), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Audiences[0]
	campaign, share, ok := a.HoldoutKey()
	if campaign != "winback-2025-06" || share != 0.2 || !ok || a.Starts != "2025-06-01" || a.Control.Stratify != "rfm_segment" {
		t.Errorf("read %+v, control %+v", a, a.Control)
	}
	_, err = Parse([]byte(valid+strings.Replace(aud, "starts:", "start:", 1)), noEnv)
	if err == nil || !strings.Contains(err.Error(), `audiences[0].start (line 14): unknown key; did you mean "starts"?`) {
		t.Errorf("a misspelt campaign key: %v", err)
	}
}
