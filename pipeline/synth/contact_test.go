package synth

import (
	"regexp"
	"testing"

	"github.com/strata-oss/strata/pipeline/channel"
)

// TestContactFields: every customer has a name; emails are on the
// documentation domains, phones E.164 in their country's range for
// fiction; a customer's versions share their contact fields; and a few
// emails are as a form would take them (spaces, capitals) or unusable,
// for the channel writers' normalisation to meet.
func TestContactFields(t *testing.T) {
	b, _ := generate(t, Config{Customers: 3000, Seed: 5})
	rows := readTable[customerRecord](t, b, "customers/")
	fiction := map[string]*regexp.Regexp{
		"US": regexp.MustCompile(`^\+1[2-9]\d{2}5550(1\d{2})$`), "CA": regexp.MustCompile(`^\+1[2-9]\d{2}5550(1\d{2})$`),
		"GB": regexp.MustCompile(`^\+447700900\d{3}$`), "FR": regexp.MustCompile(`^\+33639980\d{3}$`),
		"AU": regexp.MustCompile(`^\+61491570(00[6-9]|0[1-9]\d|1[0-5]\d)$`), "DE": regexp.MustCompile(`^\+493023125\d{3}$`),
	}
	domain := regexp.MustCompile(`@example\.(com|net|org)$`)
	first := map[string]customerRecord{}
	var emails, untidy, unusable, phones, smsOptIn int
	for _, r := range rows {
		if f, ok := first[r.CustomerID]; ok {
			if f.Email != r.Email || f.Phone != r.Phone || f.FirstName != r.FirstName || f.LastName != r.LastName || f.SMSOptIn != r.SMSOptIn {
				t.Errorf("%s: versions differ in contact fields", r.CustomerID)
			}
			continue
		}
		first[r.CustomerID] = r
		if r.FirstName == "" || r.LastName == "" {
			t.Errorf("%s: no name", r.CustomerID)
		}
		if r.Email != "" {
			emails++
			e, ok := channel.MetaEmail(r.Email)
			switch {
			case !ok:
				unusable++
			case !domain.MatchString(e):
				t.Errorf("%s: email %q is not on a documentation domain", r.CustomerID, r.Email)
			case e != r.Email:
				untidy++
			}
		}
		if r.Phone != "" {
			phones++
			re := fiction[r.Country]
			if re == nil || !re.MatchString(r.Phone) {
				t.Errorf("%s (%s): phone %q is not from the fiction range", r.CustomerID, r.Country, r.Phone)
			}
			if p, problem := channel.E164(r.Phone, r.Country); problem != "" || p != r.Phone {
				t.Errorf("%s: phone %q normalises to %q (%s)", r.CustomerID, r.Phone, p, problem)
			}
		}
		if r.SMSOptIn {
			smsOptIn++
		}
	}
	n := len(first)
	share := func(k int) float64 { return float64(k) / float64(n) }
	if share(emails) < 0.9 || share(phones) < 0.6 || share(phones) > 0.8 || untidy == 0 || unusable == 0 || share(smsOptIn) < 0.25 || share(smsOptIn) > 0.45 {
		t.Errorf("%d customers: %d emails (%d untidy, %d unusable), %d phones, %d SMS opt-ins", n, emails, untidy, unusable, phones, smsOptIn)
	}
}
