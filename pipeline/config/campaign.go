package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/strata-oss/strata/pipeline/holdout"
)

// Campaign settings: how customers are reached (contact fields, consent),
// in which files an audience is published, and the campaign an audience
// feeds, with its control group: ContactFields and Consent are
// input.customers' contact and consent, AudienceCampaign is inline in
// audiences[].
//
//	input:
//	  customers:
//	    contact: {email: email_address, phone: mobile, first_name: given_name,
//	              last_name: family_name, country_code: country, postal_code: zip}
//	    consent: {email_opt_in: newsletter, sms_opt_in: sms_ok}
//	audiences:
//	  - name: winback
//	    filter: rfm_segment in ["At Risk", "Can't Lose Them"] and email_opt_in
//	    formats: [parquet, csv, google_ads, meta, email]
//	    campaign: winback-2025-10
//	    starts: 2025-10-01
//	    ends: 2025-12-31
//	    control: {share: 0.1, stratify: rfm_segment}

// ContactFields maps the contact fields to columns of the customers table.
// They are read for the channel exports of audiences only: never for
// segments, features, reports, logs or model.json. Every field is
// optional; a channel file needs at least one identifier (see
// pipeline/channel).
type ContactFields struct {
	Email       string `yaml:"email" json:",omitempty"`
	Phone       string `yaml:"phone" json:",omitempty"`
	FirstName   string `yaml:"first_name" json:",omitempty"`
	LastName    string `yaml:"last_name" json:",omitempty"`
	CountryCode string `yaml:"country_code" json:",omitempty"`
	PostalCode  string `yaml:"postal_code" json:",omitempty"`
}

// ContactFieldNames are the contact fields, in file order.
var ContactFieldNames = []string{"email", "phone", "first_name", "last_name", "country_code", "postal_code"}

// Columns maps each mapped contact field to its column.
func (c ContactFields) Columns() map[string]string {
	m := map[string]string{}
	for i, col := range []string{c.Email, c.Phone, c.FirstName, c.LastName, c.CountryCode, c.PostalCode} {
		if col != "" {
			m[ContactFieldNames[i]] = col
		}
	}
	return m
}

// Matchable reports whether the mapping gives an ad platform something to
// match on: an email, a phone, or a whole name and address.
func (c ContactFields) Matchable() bool {
	return c.Email != "" || c.Phone != "" ||
		(c.FirstName != "" && c.LastName != "" && c.CountryCode != "" && c.PostalCode != "")
}

// Consent names the customers table's consent columns (boolean, or
// true/false text). Audiences filter on them as email_opt_in and
// sms_opt_in; nothing is filtered on consent unless a filter says so.
type Consent struct {
	EmailOptIn string `yaml:"email_opt_in" json:",omitempty"`
	SMSOptIn   string `yaml:"sms_opt_in" json:",omitempty"`
}

// Columns maps each mapped consent field to its column.
func (c Consent) Columns() map[string]string {
	m := map[string]string{}
	if c.EmailOptIn != "" {
		m["email_opt_in"] = c.EmailOptIn
	}
	if c.SMSOptIn != "" {
		m["sms_opt_in"] = c.SMSOptIn
	}
	return m
}

// ValidateCustomerContact checks the contact and consent mappings of the
// customers table at path (input.customers): no empty or padded column
// names, and no column given two roles.
func ValidateCustomerContact(path string, contact ContactFields, consent Consent, add func(path, msg string, args ...any)) {
	owner := map[string]string{}
	check := func(section string, fields map[string]string) {
		names := make([]string, 0, len(fields))
		for f := range fields {
			names = append(names, f)
		}
		slices.Sort(names) // problems in a stable order
		for _, f := range names {
			col, p := fields[f], path+"."+section+"."+f
			switch {
			case strings.TrimSpace(col) != col:
				add(p, "column name %q has surrounding spaces", col)
			case owner[col] != "":
				add(p, "column %q is already mapped as %s", col, owner[col])
			default:
				owner[col] = section + "." + f
			}
		}
	}
	check("contact", contact.Columns())
	check("consent", consent.Columns())
}

// AudienceFormats are the files an audience may be published as; the
// first two, today's, are the default.
//
//	parquet, csv  the audience table (customer_id, the group, the columns)
//	google_ads    Google Ads Customer Match file, hashed
//	meta          Meta custom audience file, hashed
//	email         email-tool CSV: email, first_name, last_name
//
// The channel files (google_ads, meta, email) never hold the control
// group: its customers are published in the audience table only.
var AudienceFormats = []string{"parquet", "csv", "google_ads", "meta", "email"}

// ChannelFormats are the AudienceFormats that need contact fields.
var ChannelFormats = []string{"google_ads", "meta", "email"}

// DefaultControlShare is control.share's default.
const DefaultControlShare = 0.1

// AudienceCampaign is what an audience adds for campaigns (inline in
// Audience).
type AudienceCampaign struct {
	// Formats the audience is published in; default [parquet, csv].
	Formats []string `yaml:"formats" json:",omitempty"`
	// Campaign names the campaign the audience feeds: lower-case letters,
	// digits, "_" and "-". It keys the control group's draw
	// (pipeline/holdout), so renaming a campaign reassigns its groups.
	Campaign string `yaml:"campaign" json:",omitempty"`
	// Starts and Ends (YYYY-MM-DD, inclusive) bound the campaign; Starts
	// is required with a campaign, Ends may be left open.
	Starts string `yaml:"starts" json:",omitempty"`
	Ends   string `yaml:"ends" json:",omitempty"`
	// Control holds back a random share of the audience from every
	// channel file, to measure the campaign against.
	Control *Control `yaml:"control" json:",omitempty"`
}

// Control is a campaign's holdout.
type Control struct {
	// Share of the audience held back; in (0, 1), default 0.1.
	Share *float64 `yaml:"share" json:",omitempty"`
	// Stratify names a segments-table column (rfm_segment, cluster, ...)
	// whose values the balance check reports on one by one. The draw
	// itself ignores it: see pipeline/holdout for why.
	Stratify string `yaml:"stratify" json:",omitempty"`
}

// ShareOr returns the control share with its default.
func (c Control) ShareOr() float64 {
	if c.Share == nil {
		return DefaultControlShare
	}
	return *c.Share
}

// FormatsOr returns Formats with its default.
func (a AudienceCampaign) FormatsOr() []string {
	if len(a.Formats) == 0 {
		return AudienceFormats[:2]
	}
	return a.Formats
}

// Resolved is the audience's campaign settings as Config.Hash should see
// them: a default spelled out (formats [parquet, csv], control share 0.1)
// hashes as if left unset.
func (a AudienceCampaign) Resolved() AudienceCampaign {
	if slices.Equal(a.Formats, AudienceFormats[:2]) {
		a.Formats = nil
	}
	if a.Control != nil && a.Control.Share != nil && *a.Control.Share == DefaultControlShare {
		c := *a.Control
		c.Share = nil
		a.Control = &c
	}
	return a
}

// Window returns the campaign's first day and its last (zero when open),
// as dates at midnight UTC. Validate reports what makes it fail.
func (a AudienceCampaign) Window() (starts, ends time.Time, err error) {
	if starts, err = time.Parse(time.DateOnly, a.Starts); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("starts: want a date YYYY-MM-DD, got %q", a.Starts)
	}
	if a.Ends == "" {
		return starts, time.Time{}, nil
	}
	if ends, err = time.Parse(time.DateOnly, a.Ends); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("ends: want a date YYYY-MM-DD, got %q", a.Ends)
	}
	return starts, ends, nil
}

// Active reports whether day (a date; its clock is ignored) is within the
// campaign.
func (a AudienceCampaign) Active(day time.Time) bool {
	s, e, err := a.Window()
	if err != nil {
		return false
	}
	d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	return !d.Before(s) && (e.IsZero() || !d.After(e))
}

var campaignName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate checks the campaign settings of the audience at path
// (audiences[i]); contact is input.customers.contact, which the channel
// formats need.
func (a AudienceCampaign) Validate(path string, contact ContactFields, add func(path, msg string, args ...any)) {
	seen := map[string]bool{}
	for i, f := range a.Formats {
		p := fmt.Sprintf("%s.formats[%d]", path, i)
		switch {
		case !slices.Contains(AudienceFormats, f):
			add(p, "must be one of %s, not %q", strings.Join(AudienceFormats, ", "), f)
		case seen[f]:
			add(p, "%q is listed twice", f)
		case f == "email" && contact.Email == "":
			add(p, "the email format needs input.customers.contact.email mapped")
		case (f == "google_ads" || f == "meta") && !contact.Matchable():
			add(p, "the %s format needs input.customers.contact to map email, phone, or all of first_name, last_name, country_code and postal_code", f)
		}
		seen[f] = true
	}
	if a.Campaign == "" {
		switch {
		case a.Control != nil:
			add(path+".control", "needs a campaign: the campaign's name keys who is held back")
		case a.Starts != "" || a.Ends != "":
			add(path+".campaign", "is required with starts and ends")
		}
	} else if !campaignName.MatchString(a.Campaign) {
		add(path+".campaign", "must be 1-63 lower-case letters, digits, _ or -, starting with a letter or digit; got %q", a.Campaign)
	}
	if a.Campaign != "" || a.Starts != "" || a.Ends != "" {
		a.validateWindow(path, add)
	}
	if c := a.Control; c != nil {
		if s := c.ShareOr(); !(s > 0 && s < 1) {
			add(path+".control.share", "must be between 0 and 1 (exclusive), got %v", s)
		}
		if c.Stratify != "" && strings.TrimSpace(c.Stratify) != c.Stratify {
			add(path+".control.stratify", "column name %q has surrounding spaces", c.Stratify)
		}
	}
}

func (a AudienceCampaign) validateWindow(path string, add func(path, msg string, args ...any)) {
	var starts, ends time.Time
	var err error
	if a.Starts == "" {
		add(path+".starts", "is required with a campaign: the date its first message goes out (YYYY-MM-DD)")
	} else if starts, err = time.Parse(time.DateOnly, a.Starts); err != nil {
		add(path+".starts", "must be a date YYYY-MM-DD, got %q", a.Starts)
	}
	if a.Ends != "" {
		if ends, err = time.Parse(time.DateOnly, a.Ends); err != nil {
			add(path+".ends", "must be a date YYYY-MM-DD, got %q", a.Ends)
		}
	}
	if !starts.IsZero() && !ends.IsZero() && ends.Before(starts) {
		add(path+".ends", "%s is before starts (%s)", a.Ends, a.Starts)
	}
}

// InControl reports whether the customer with raw id rawID (as read,
// before any pseudonymisation) is in the control group of the audience's
// campaign: it has a control group and the customer's holdout.Draw for
// its campaign is below the control share. Every user of the decision
// (the channel files, the audience table's group column, the measurement)
// calls this one method, so they cannot disagree. An audience without
// control has no control group.
//
// The decision ignores the run date: a customer is held back for as long
// as the campaign's name and share stay the same (see pipeline/holdout).
// It lives here, not in package holdout, because holdout is imported by
// the generator, which the feature engine's tests import, and config
// imports the feature engine.
func (a AudienceCampaign) InControl(rawID string) bool {
	if a.Control == nil || a.Campaign == "" {
		return false
	}
	return holdout.Draw(a.Campaign, rawID) < a.Control.ShareOr()
}
