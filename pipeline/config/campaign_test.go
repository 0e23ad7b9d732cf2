package config

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/strata-oss/strata/pipeline/holdout"
)

// campaignDoc is how the sections will sit in a config once wired in.
type campaignDoc struct {
	Customers struct {
		Contact ContactFields `yaml:"contact"`
		Consent Consent       `yaml:"consent"`
	} `yaml:"customers"`
	Audiences []AudienceCampaign `yaml:"audiences"`
}

func parseCampaign(t *testing.T, src string) (campaignDoc, []string) {
	t.Helper()
	var d campaignDoc
	dec := yaml.NewDecoder(bytes.NewReader([]byte(src)))
	dec.KnownFields(true) // as Parse is strict
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var probs []string
	add := func(path, msg string, args ...any) { probs = append(probs, path+": "+fmt.Sprintf(msg, args...)) }
	ValidateCustomerContact("input.customers", d.Customers.Contact, d.Customers.Consent, add)
	for i, a := range d.Audiences {
		a.Validate(fmt.Sprintf("audiences[%d]", i), d.Customers.Contact, add)
	}
	return d, probs
}

const campaignOK = `
customers:
  contact: {email: email_address, phone: mobile, first_name: given, last_name: family, country_code: country, postal_code: zip}
  consent: {email_opt_in: newsletter, sms_opt_in: sms_ok}
audiences:
  - formats: [parquet, csv, google_ads, meta, email]
    campaign: winback-2025-10
    starts: 2025-10-01
    ends: 2025-12-31
    control: {share: 0.2, stratify: rfm_segment}
  - {}
  - campaign: open-ended
    starts: 2025-10-01
    control: {}
`

func TestCampaignValid(t *testing.T) {
	d, probs := parseCampaign(t, campaignOK)
	if len(probs) > 0 {
		t.Fatalf("valid config: %v", probs)
	}
	if got := d.Customers.Contact.Columns(); len(got) != 6 || got["first_name"] != "given" || got["postal_code"] != "zip" {
		t.Errorf("contact columns %v", got)
	}
	if got := d.Customers.Consent.Columns(); got["email_opt_in"] != "newsletter" || got["sms_opt_in"] != "sms_ok" {
		t.Errorf("consent columns %v", got)
	}
	a, def, open := d.Audiences[0], d.Audiences[1], d.Audiences[2]
	if a.Control.ShareOr() != 0.2 || a.Control.Stratify != "rfm_segment" {
		t.Errorf("control %+v", a.Control)
	}
	if got := open.Control.ShareOr(); got != DefaultControlShare {
		t.Errorf("default share %v, want %v", got, DefaultControlShare)
	}
	if got := strings.Join(def.FormatsOr(), ","); got != "parquet,csv" {
		t.Errorf("default formats %s", got)
	}
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d.Add(15 * time.Hour) }
	for _, tc := range []struct {
		a    AudienceCampaign
		day  string
		want bool
	}{
		{a, "2025-09-30", false}, {a, "2025-10-01", true}, {a, "2025-12-31", true}, {a, "2026-01-01", false},
		{open, "2030-01-01", true}, {open, "2025-09-30", false}, {def, "2025-10-01", false},
	} {
		if got := tc.a.Active(day(tc.day)); got != tc.want {
			t.Errorf("%s active on %s: %v, want %v", tc.a.Campaign, tc.day, got, tc.want)
		}
	}
}

func TestCampaignResolved(t *testing.T) {
	def := DefaultControlShare
	other := 0.2
	spelled := AudienceCampaign{Formats: []string{"parquet", "csv"}, Campaign: "c", Control: &Control{Share: &def, Stratify: "rfm_segment"}}
	r := spelled.Resolved()
	if r.Formats != nil || r.Control.Share != nil || r.Control.Stratify != "rfm_segment" || r.Campaign != "c" {
		t.Errorf("resolved %+v (control %+v): defaults not cleared", r, r.Control)
	}
	if spelled.Control.Share == nil {
		t.Error("Resolved changed its receiver's control")
	}
	kept := AudienceCampaign{Formats: []string{"csv", "parquet"}, Control: &Control{Share: &other}}.Resolved()
	if len(kept.Formats) != 2 || kept.Control.Share == nil || *kept.Control.Share != 0.2 {
		t.Errorf("non-defaults changed: %+v", kept)
	}
}

func TestCampaignProblems(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown format", "audiences:\n  - formats: [xlsx]\n",
			[]string{`audiences[0].formats[0]: must be one of parquet, csv, google_ads, meta, email, not "xlsx"`}},
		{"format twice", "audiences:\n  - formats: [csv, csv]\n", []string{`audiences[0].formats[1]: "csv" is listed twice`}},
		{"email without an email column", "customers:\n  contact: {phone: p}\naudiences:\n  - formats: [email, meta]\n",
			[]string{"audiences[0].formats[0]: the email format needs input.customers.contact.email mapped"}},
		{"ad platform without identifiers", "customers:\n  contact: {first_name: f, last_name: l}\naudiences:\n  - formats: [google_ads]\n",
			[]string{"audiences[0].formats[0]: the google_ads format needs input.customers.contact to map email, phone"}},
		{"control without campaign", "audiences:\n  - control: {share: 0.1}\n",
			[]string{"audiences[0].control: needs a campaign"}},
		{"dates without campaign", "audiences:\n  - starts: 2025-10-01\n", []string{"audiences[0].campaign: is required with starts and ends"}},
		{"campaign without starts", "audiences:\n  - campaign: c\n", []string{"audiences[0].starts: is required with a campaign"}},
		{"bad campaign name", "audiences:\n  - {campaign: Win Back, starts: 2025-10-01}\n",
			[]string{`audiences[0].campaign: must be 1-63 lower-case letters, digits, _ or -, starting with a letter or digit; got "Win Back"`}},
		{"bad dates", "audiences:\n  - {campaign: c, starts: 10/01/2025, ends: 2025-13-01}\n",
			[]string{`audiences[0].starts: must be a date YYYY-MM-DD, got "10/01/2025"`, `audiences[0].ends: must be a date YYYY-MM-DD, got "2025-13-01"`}},
		{"ends before starts", "audiences:\n  - {campaign: c, starts: 2025-10-01, ends: 2025-09-30}\n",
			[]string{"audiences[0].ends: 2025-09-30 is before starts (2025-10-01)"}},
		{"share out of range", "audiences:\n  - {campaign: c, starts: 2025-10-01, control: {share: 1}}\n  - {campaign: c, starts: 2025-10-01, control: {share: 0}}\n",
			[]string{"audiences[0].control.share: must be between 0 and 1 (exclusive), got 1", "audiences[1].control.share: must be between 0 and 1 (exclusive), got 0"}},
		{"column mapped twice", "customers:\n  contact: {email: e, phone: e}\n  consent: {email_opt_in: ' e'}\n",
			[]string{`input.customers.contact.phone: column "e" is already mapped as contact.email`, `input.customers.consent.email_opt_in: column name " e" has surrounding spaces`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := parseCampaign(t, tc.yaml)
			all := strings.Join(probs, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems\n%s\nlack %q", all, w)
				}
			}
			if len(probs) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(probs), len(tc.want), all)
			}
		})
	}
}

// TestCampaignKeysParse: the campaign keys sit inline in audiences[] and
// Parse's unknown-key check knows them (it once rejected every one), while
// still naming a misspelt one.
func TestCampaignKeysParse(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	cases := []struct {
		name, audience, problem string
	}{
		{"every key", "{name: a, filter: 'frequency > 1', formats: [parquet, csv], campaign: c1, starts: 2025-10-01, ends: 2025-12-31, control: {share: 0.2, stratify: rfm_segment}}", ""},
		{"misspelt", "{name: a, filter: 'frequency > 1', formts: [parquet]}", `audiences[0].formts (line`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(valid+"audiences:\n  - "+tc.audience+"\n"), noEnv)
			switch {
			case tc.problem == "" && err != nil:
				t.Fatalf("parse: %v", err)
			case tc.problem == "" && (cfg.Audiences[0].Campaign != "c1" || cfg.Audiences[0].Control.ShareOr() != 0.2):
				t.Errorf("audience %+v", cfg.Audiences[0])
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem) || !strings.Contains(err.Error(), `did you mean "formats"`)):
				t.Errorf("parse: %v, want %s", err, tc.problem)
			}
		})
	}
}

// TestInControl: the one decision everything uses is holdout.Draw below
// the share, of the campaign's name, with the default share when unset,
// and false without a control group or a campaign.
func TestInControl(t *testing.T) {
	share := func(s float64) *float64 { return &s }
	cases := []struct {
		name string
		a    AudienceCampaign
		// share is the control share the audience should draw against;
		// negative: nobody is in control.
		share float64
	}{
		{"no control", AudienceCampaign{Campaign: "spring"}, -1},
		{"no campaign", AudienceCampaign{Control: &Control{Share: share(0.5)}}, -1},
		{"default share", AudienceCampaign{Campaign: "spring", Control: &Control{}}, 0.1},
		{"share 0.3", AudienceCampaign{Campaign: "spring", Control: &Control{Share: share(0.3)}}, 0.3},
		{"other campaign", AudienceCampaign{Campaign: "autumn", Control: &Control{Share: share(0.3)}}, 0.3},
	}
	const n = 20_000
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var in int
			for i := range n {
				id := fmt.Sprintf("C%08d", i)
				got := tc.a.InControl(id)
				if want := tc.share >= 0 && holdout.Draw(tc.a.Campaign, id) < tc.share; got != want {
					t.Fatalf("customer %s: InControl %v, want %v", id, got, want)
				}
				if got {
					in++
				}
			}
			// Binomial(n, s): within 5 standard deviations.
			if tc.share > 0 {
				mean, sd := n*tc.share, math.Sqrt(n*tc.share*(1-tc.share))
				if float64(in) < mean-5*sd || float64(in) > mean+5*sd {
					t.Errorf("%d of %d in control, want about %.0f", in, n, mean)
				}
			} else if in != 0 {
				t.Errorf("%d in control without a control group", in)
			}
		})
	}
}
