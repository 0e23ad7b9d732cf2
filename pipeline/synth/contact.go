package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Contact fields and consent of the generated customers: an email on a
// domain reserved for documentation (RFC 2606: example.com, .net, .org), a
// phone number from a range each country keeps for fiction (Ofcom's drama
// numbers 07700 900000-900999; the NANP's 555-0100 to 555-0199; ARCEP's
// 06 39 98 xx xx; ACMA's 0491 570 006-159; Berlin's 030 23125 xxx), a name
// from short lists, and an SMS opt-in.
//
// They are drawn from a stream of their own (streamContact), after every
// other draw of the customer, so adding them changed none of the other
// columns: a configuration that does not map them publishes what it did
// before.

const streamContact uint64 = 0x636f6e7461000006

var (
	firstNames = []string{"Ava", "Ben", "Chloé", "Daniel", "Emma", "Finn", "Grace", "Hugo", "Isla", "Jack",
		"Karin", "Liam", "Mia", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sofia", "Tom", "Uma", "Victor",
		"Wendy", "Xavier", "Yara", "Zoë", "Jürgen", "Amélie", "Seán", "Léa"}
	lastNames = []string{"Smith", "Jones", "Müller", "Martin", "Brown", "Taylor", "Schmidt", "Bernard",
		"Wilson", "Roy", "Nguyen", "Dubois", "Williams", "Schneider", "O'Brien", "Lefèvre", "Campbell",
		"Fischer", "Singh", "Walker", "Thompson", "Weber", "Moreau", "Tremblay", "Kelly", "Becker", "White",
		"Lee", "Garcia", "Anderson"}
	exampleDomains = []string{"example.com", "example.net", "example.org"}
)

// fictionPhone returns a number of country code in E.164 from its range for
// fiction; n picks one.
func fictionPhone(code string, r *rand.Rand) string {
	switch code {
	case "US", "CA":
		return fmt.Sprintf("+1%03d5550%03d", 201+r.IntN(700), 100+r.IntN(100))
	case "GB":
		return fmt.Sprintf("+447700900%03d", r.IntN(1000))
	case "FR":
		return fmt.Sprintf("+33639980%03d", r.IntN(1000))
	case "AU":
		return fmt.Sprintf("+61491570%03d", 6+r.IntN(154))
	case "DE":
		return fmt.Sprintf("+493023125%03d", r.IntN(1000))
	}
	return ""
}

// contact fills cust's contact fields and SMS opt-in; idx is the
// customer's index, which seeds the stream.
func (g *generator) contact(cust *customerRecord, idx int) {
	seedStream(&g.srcK, g.p.cfg.Seed, streamContact, idx)
	r := g.rK
	cust.FirstName = firstNames[r.IntN(len(firstNames))]
	cust.LastName = lastNames[r.IntN(len(lastNames))]
	switch u := r.Float64(); {
	case u < 0.04: // no email
	default:
		local := strings.ToLower(asciiName(cust.FirstName) + "." + asciiName(cust.LastName))
		cust.Email = fmt.Sprintf("%s.%d@%s", local, 10_000+r.IntN(90_000), exampleDomains[r.IntN(len(exampleDomains))])
		switch {
		case u < 0.07: // as typed into a form: case and spaces a tool must normalise
			cust.Email = " " + strings.ToUpper(cust.Email[:1]) + cust.Email[1:] + " "
		case u < 0.08: // unusable
			cust.Email = strings.Replace(cust.Email, "@", " at ", 1)
		}
	}
	if r.Float64() < 0.7 {
		cust.Phone = fictionPhone(cust.Country, r)
	}
	cust.SMSOptIn = r.Float64() < 0.35
}

// asciiName folds the few accented letters of the name lists for an
// email's local part.
func asciiName(s string) string {
	return strings.NewReplacer("é", "e", "ë", "e", "è", "e", "ü", "u", "á", "a", "'", "").Replace(s)
}
