package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestMeasurementSettings: the windows' default, order and repeats do not
// change the hash; turning segments on or other windows do; a window out
// of range is refused.
func TestMeasurementSettings(t *testing.T) {
	base, err := Parse([]byte(valid), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		yaml    string
		same    bool
		windows string
		problem string // "" when valid
	}{
		{"unset", valid, true, "[7 30 90]", ""},
		{"default spelled out", valid + "measurement: {windows: [7, 30, 90]}\n", true, "[7 30 90]", ""},
		{"default in another order, repeated", valid + "measurement: {windows: [90, 7, 30, 7]}\n", true, "[7 30 90]", ""},
		{"other windows", valid + "measurement: {windows: [14, 60]}\n", false, "[14 60]", ""},
		{"segments", valid + "measurement: {segments: true}\n", false, "[7 30 90]", ""},
		{"zero days", valid + "measurement: {windows: [0, 7]}\n", false, "", "measurement.windows"},
		{"too long", valid + "measurement: {windows: [4000]}\n", false, "", "measurement.windows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(c.yaml), noEnv)
			if c.problem != "" {
				if err == nil || !strings.Contains(err.Error(), c.problem) {
					t.Fatalf("error %v, want one about %s", err, c.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Hash() == base.Hash(); got != c.same {
				t.Errorf("same hash = %v, want %v", got, c.same)
			}
			if got := fmt.Sprint(cfg.Measurement.WindowsOr()); got != c.windows {
				t.Errorf("windows %s, want %s", got, c.windows)
			}
		})
	}
}
