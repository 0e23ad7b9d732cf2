package holdout

import "github.com/strata-oss/strata/pipeline/config"

// InControl reports whether the customer with this raw id (as read, after
// the input's id normalisation, before any pseudonymisation) is in the
// control group of audience a: a has a campaign and a control group, and
// the customer's draw for the campaign is below the control share. It is
// the one decision every output uses — the audience table's group column,
// and the channel files, which leave the control group out — so that they
// cannot disagree.
func InControl(a config.AudienceCampaign, rawID string) bool {
	if a.Campaign == "" || a.Control == nil {
		return false
	}
	return Draw(a.Campaign, rawID) < a.Control.ShareOr()
}

// GroupOf is InControl as the audience table's group column spells it:
// Control or Treatment.
func GroupOf(a config.AudienceCampaign, rawID string) string {
	if InControl(a, rawID) {
		return Control
	}
	return Treatment
}
