package output

import (
	"errors"
	"strings"
	"testing"

	"github.com/strata-oss/strata/configs"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/stages"
)

// demoWith is the embedded demo configuration with its audiences replaced
// by audiences (YAML list items).
func demoWith(t *testing.T, audiences ...string) *config.Config {
	t.Helper()
	y := string(configs.Demo)
	y = y[:strings.Index(y, "\naudiences:")+1] + "audiences:\n"
	for _, a := range audiences {
		y += "  - " + a + "\n"
	}
	cfg, err := config.Parse([]byte(y), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestControlConfigErrors: an audience with a control group must publish
// customer_id, and stratify by a column of the segments table.
func TestControlConfigErrors(t *testing.T) {
	cases := []struct {
		name, want string
		edit       func(a *config.Audience)
	}{
		{"no customer_id", "must publish customer_id", func(a *config.Audience) { a.Columns = []string{"rfm_segment"} }},
		{"unknown stratum column", `control.stratify: the segments table has no column "segmnet"`, func(a *config.Audience) { a.Control.Stratify = "segmnet" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := demoWith(t, "{name: held, filter: 'frequency >= 1', columns: [customer_id, rfm_segment], campaign: spring-test, starts: '2025-07-01', control: {share: 0.3, stratify: rfm_segment}}")
			if err := CheckAudiences(cfg, stages.Default()); err != nil {
				t.Fatalf("the audience as written: %v", err)
			}
			c.edit(&cfg.Audiences[len(cfg.Audiences)-1])
			err := CheckAudiences(cfg, stages.Default())
			var ce *stages.ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want a configuration error saying %q", err, c.want)
			}
		})
	}
}

// TestAudienceContactHints: a filter on consent without the consent
// mapped, or a contact field among an audience's columns, is a
// configuration error that says what to do instead.
func TestAudienceContactHints(t *testing.T) {
	cases := []struct {
		name, audience, want string
	}{
		{"consent unmapped", "{name: a, filter: 'email_opt_in = true'}", "map the consent column as input.customers.consent.email_opt_in"},
		{"contact as a column", "{name: a, filter: 'frequency > 1', columns: [customer_id, email]}", "contact fields are written only to channel files"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckAudiences(demoWith(t, tc.audience), stages.Default())
			var ce *stages.ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckAudiences: %v, want a configuration error saying %q", err, tc.want)
			}
		})
	}
}
