package config

import (
	"fmt"
	"regexp"

	"github.com/strata-oss/strata/pipeline/audience"
)

// Audience is a named filter over the segments table, published every run
// as a customer list for email and ad tools.
type Audience struct {
	// Name is lower-case letters, digits, "_" and "-"; it names the
	// audience's partition (audiences/name=<name>/dt=D/).
	Name string `yaml:"name"`
	// Filter selects customers, e.g.
	// `rfm_segment in ["At Risk", "Can't Lose Them"] and clv > 200`.
	Filter string `yaml:"filter"`
	// Columns are published with each customer; default customer_id and
	// the columns the filter reads.
	Columns []string `yaml:"columns"`
	// The campaign settings: formats, campaign, window, control group.
	AudienceCampaign `yaml:",inline"`
}

var audienceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func validateAudiences(as []Audience, contact ContactFields, add func(path, msg string, args ...any)) {
	seen := map[string]bool{}
	for i, a := range as {
		p := fmt.Sprintf("audiences[%d]", i)
		if !audienceName.MatchString(a.Name) {
			add(p+".name", "must be 1-63 lower-case letters, digits, _ or -, starting with a letter or digit; got %q", a.Name)
		} else if seen[a.Name] {
			add(p+".name", "%q is used twice", a.Name)
		}
		seen[a.Name] = true
		if a.Filter == "" {
			add(p+".filter", "is required")
		} else if err := audience.Check(a.Filter); err != nil {
			add(p+".filter", "%v", err)
		}
		a.AudienceCampaign.Validate(p, contact, add)
	}
}
