package holdout

import "github.com/strata-oss/strata/pipeline/config"

// InControl reports whether the customer with raw id rawID (as read,
// before any pseudonymisation) is in the control group of audience a's
// campaign: a has a control group and the customer's Draw for its
// campaign is below the control share. Every user of the decision (the
// channel files, the audience table's group column, the measurement)
// calls this one function, so they cannot disagree. An audience without
// control has no control group.
//
// The decision ignores the run date: a customer is held back for as long
// as the audience's campaign and share stay the same (see the package
// doc).
func InControl(a config.AudienceCampaign, rawID string) bool {
	if a.Control == nil || a.Campaign == "" {
		return false
	}
	return Draw(a.Campaign, rawID) < a.Control.ShareOr()
}
