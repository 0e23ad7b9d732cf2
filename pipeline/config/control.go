package config

// HoldoutKey is what the control group's draw (pipeline/holdout) needs of
// the audience: the campaign keying it and the control share; ok is false
// when the audience has no control group. It lets holdout.InControl take
// an AudienceCampaign without package holdout importing this one (which
// would make an import cycle through the generator's tests).
func (a AudienceCampaign) HoldoutKey() (campaign string, share float64, ok bool) {
	if a.Campaign == "" || a.Control == nil {
		return "", 0, false
	}
	return a.Campaign, a.Control.ShareOr(), true
}
