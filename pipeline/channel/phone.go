package channel

import "strings"

// dialing is how a country's numbers are dialled: its country calling
// code (ITU-T E.164 assignments) and the trunk prefix its national numbers
// carry, which an international number drops.
type dialing struct {
	code  string
	trunk string // "" when national numbers have none (or keep it, as Italy's 0 is kept)
}

// dialingPlans covers the markets Strata's users sell to most; a national
// number from a country not listed cannot be made E.164 and is reported as
// phone_no_country (a number written with + or 00 needs no table).
// Sources: ITU-T E.164 list of assigned country codes (2016 edition and
// later annexes) for codes; national numbering plans for trunk prefixes.
var dialingPlans = map[string]dialing{
	// North American Numbering Plan: trunk 1 is also the country code.
	"US": {"1", "1"}, "CA": {"1", "1"}, "PR": {"1", "1"},
	// Europe.
	"GB": {"44", "0"}, "IE": {"353", "0"}, "DE": {"49", "0"}, "FR": {"33", "0"},
	"NL": {"31", "0"}, "BE": {"32", "0"}, "LU": {"352", ""}, "AT": {"43", "0"},
	"CH": {"41", "0"}, "LI": {"423", ""}, "IT": {"39", ""}, "SM": {"378", ""},
	"ES": {"34", ""}, "PT": {"351", ""}, "GR": {"30", ""}, "CY": {"357", ""},
	"MT": {"356", ""}, "DK": {"45", ""}, "NO": {"47", ""}, "SE": {"46", "0"},
	"FI": {"358", "0"}, "IS": {"354", ""}, "EE": {"372", ""}, "LV": {"371", ""},
	"LT": {"370", "8"}, "PL": {"48", ""}, "CZ": {"420", ""}, "SK": {"421", "0"},
	"HU": {"36", "06"}, "SI": {"386", "0"}, "HR": {"385", "0"}, "RO": {"40", "0"},
	"BG": {"359", "0"}, "RS": {"381", "0"}, "UA": {"380", "0"}, "TR": {"90", "0"},
	"RU": {"7", "8"}, "KZ": {"7", "8"},
	// Asia-Pacific.
	"AU": {"61", "0"}, "NZ": {"64", "0"}, "JP": {"81", "0"}, "KR": {"82", "0"},
	"CN": {"86", "0"}, "HK": {"852", ""}, "TW": {"886", "0"}, "SG": {"65", ""},
	"MY": {"60", "0"}, "TH": {"66", "0"}, "VN": {"84", "0"}, "PH": {"63", "0"},
	"ID": {"62", "0"}, "IN": {"91", "0"}, "PK": {"92", "0"},
	// Middle East and Africa.
	"IL": {"972", "0"}, "AE": {"971", "0"}, "SA": {"966", "0"}, "EG": {"20", "0"},
	"ZA": {"27", "0"}, "NG": {"234", "0"}, "KE": {"254", "0"}, "MA": {"212", "0"},
	// Latin America.
	"MX": {"52", ""}, "BR": {"55", "0"}, "AR": {"54", "0"}, "CL": {"56", ""},
	"CO": {"57", ""}, "PE": {"51", "0"},
}

// Phone problems, as counted in a Summary.
const (
	phoneNoCountry = "phone_no_country" // a national number, and no known country to dial it from
	phoneInvalid   = "phone_invalid"    // not 7 to 15 digits once normalised, or no digits at all
)

// E164 returns the number in E.164 form ("+" and 7 to 15 digits, the first
// not 0), or a problem. country is the customer's ISO 3166-1 alpha-2 code
// (any case), used only for a number written nationally:
//
//   - a number starting with + is international: its digits are kept, less
//     any leading zeros ("+001 (616) 954-78 88" is +16169547888, as Meta's
//     example CSV normalises it);
//   - one starting with 00 (the international prefix of most countries) is
//     too;
//   - otherwise the number is national unless it already starts with the
//     country's calling code (Google's example "(800)555-0100" in the US is
//     +18005550100; "1 (800) 555-0100" is the same number): the country's
//     trunk prefix is dropped and its calling code put in front.
//
// The guess is wrong both ways now and then: a national number that
// happens to begin with its own country's calling code (an Italian mobile
// 393…) is read as international, and a foreign number stored with its
// country code but without + or 00 is read as national (Google's template
// has "18008888899" for a customer in Singapore; here it becomes
// +6518008888899). Numbers stored in E.164, with their +, avoid the guess.
func E164(phone, country string) (string, string) {
	s := strings.TrimSpace(phone)
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) == 0 {
		return "", phoneInvalid
	}
	var full string
	switch d := string(digits); {
	case strings.HasPrefix(s, "+"):
		full = strings.TrimLeft(d, "0")
	case strings.HasPrefix(d, "00"):
		full = strings.TrimLeft(d, "0")
	default:
		plan, ok := dialingPlans[strings.ToUpper(strings.TrimSpace(country))]
		if !ok {
			return "", phoneNoCountry
		}
		if plan.code == "1" {
			// No NANP number starts with 0: leading zeros are noise, as
			// Meta's "01(650)123-4567" example has them.
			d = strings.TrimLeft(d, "0")
		}
		switch {
		case plan.trunk != "" && strings.HasPrefix(d, plan.trunk) && !(plan.trunk == plan.code && len(d) <= 10):
			// A NANP number's 1 is its trunk prefix and its country
			// code at once: 1 and ten digits is international already.
			full = plan.code + d[len(plan.trunk):]
		case strings.HasPrefix(d, plan.code) && plan.trunk != plan.code:
			full = d
		default:
			full = plan.code + d
		}
	}
	if len(full) < 7 || len(full) > 15 || full[0] == '0' {
		return "", phoneInvalid
	}
	return "+" + full, ""
}
