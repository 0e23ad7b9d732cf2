package holdout

// Audience is an audience's campaign settings as the draw needs them:
// config.AudienceCampaign implements it (HoldoutKey: the campaign, the
// control share, and whether there is a control group at all). An
// interface, not the config type, so that this package imports nothing
// of the pipeline's.
type Audience interface {
	HoldoutKey() (campaign string, share float64, ok bool)
}

// InControl reports whether the customer with this raw id (as read, after
// the input's id normalisation, before any pseudonymisation) is in the
// control group of audience a (a config.AudienceCampaign): a has a
// campaign and a control group, and the customer's draw for the campaign
// is below the control share. It is the one decision every output uses —
// the audience table's group column, and the channel files, which leave
// the control group out — so that they cannot disagree.
func InControl(a Audience, rawID string) bool {
	campaign, share, ok := a.HoldoutKey()
	return ok && Draw(campaign, rawID) < share
}

// GroupOf is InControl as the audience table's group column spells it:
// Control or Treatment.
func GroupOf(a Audience, rawID string) string {
	if InControl(a, rawID) {
		return Control
	}
	return Treatment
}
