package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratePlantsCampaign: the generate flags reach the generator, and
// a campaign without its date is a usage error.
func TestGeneratePlantsCampaign(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "in")
	code, stdout, stderr := strata(t, "generate", "--dir", dir, "--customers", "3000", "--log-level", "error",
		"--campaign", "winback", "--campaign-start", "2025-06-01", "--campaign-control", "0.25")
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "planted campaign winback:") {
		t.Errorf("stdout does not report the campaign:\n%s", stdout)
	}
	f, err := os.Open(filepath.Join(dir, "truth", "campaign.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	control := 0
	for _, r := range recs[1:] {
		if r[1] == "control" {
			control++
		}
	}
	// 25% of a few hundred: far from the default 10% whatever the draw.
	if n := len(recs) - 1; n < 200 || float64(control) < 0.18*float64(n) {
		t.Errorf("%d in control of %d: --campaign-control 0.25 not applied", control, n)
	}
	if code, _, stderr := strata(t, "generate", "--dir", filepath.Join(t.TempDir(), "x"), "--campaign", "winback"); code != 2 || !strings.Contains(stderr, "--campaign-start") {
		t.Errorf("campaign without a date: exit %d, %s", code, stderr)
	}
}
