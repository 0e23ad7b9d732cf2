package channel

import "strings"

// dialing is how a country's numbers are dialled: its country calling
// code (ITU-T E.164 assignments) and the trunk prefix its national numbers
// carry, which an international number drops.
type dialing struct {
	code   string
	trunks []string // none when national numbers have none (or keep it, as Italy's 0 is kept)
}

func plan(code string, trunks ...string) dialing { return dialing{code, trunks} }

// dialingPlans covers the markets Strata's users sell to most; a national
// number from a country not listed cannot be made E.164 and is reported as
// phone_no_country (a number written with + or 00 needs no table).
// Sources: ITU-T E.164 list of assigned country codes (2016 edition and
// later annexes) for codes; national numbering plans for trunk prefixes.
var dialingPlans = map[string]dialing{
	// North American Numbering Plan: trunk 1 is also the country code.
	"US": plan("1", "1"), "CA": plan("1", "1"), "PR": plan("1", "1"),
	// Europe.
	"GB": plan("44", "0"), "IE": plan("353", "0"), "DE": plan("49", "0"), "FR": plan("33", "0"),
	"NL": plan("31", "0"), "BE": plan("32", "0"), "LU": plan("352"), "AT": plan("43", "0"),
	"CH": plan("41", "0"), "LI": plan("423"), "IT": plan("39"), "SM": plan("378"),
	"ES": plan("34"), "PT": plan("351"), "GR": plan("30"), "CY": plan("357"),
	"MT": plan("356"), "DK": plan("45"), "NO": plan("47"), "SE": plan("46", "0"),
	"FI": plan("358", "0"), "IS": plan("354"), "EE": plan("372"), "LV": plan("371"),
	"LT": plan("370", "8", "0"), "PL": plan("48"), "CZ": plan("420"), "SK": plan("421", "0"),
	"HU": plan("36", "06"), "SI": plan("386", "0"), "HR": plan("385", "0"), "RO": plan("40", "0"),
	"BG": plan("359", "0"), "RS": plan("381", "0"), "UA": plan("380", "0"), "TR": plan("90", "0"),
	"RU": plan("7", "8"), "KZ": plan("7", "8"),
	// Asia-Pacific.
	"AU": plan("61", "0"), "NZ": plan("64", "0"), "JP": plan("81", "0"), "KR": plan("82", "0"),
	"CN": plan("86", "0"), "HK": plan("852"), "TW": plan("886", "0"), "SG": plan("65"),
	"MY": plan("60", "0"), "TH": plan("66", "0"), "VN": plan("84", "0"), "PH": plan("63", "0"),
	"ID": plan("62", "0"), "IN": plan("91", "0"), "PK": plan("92", "0"),
	// Middle East and Africa.
	"IL": plan("972", "0"), "AE": plan("971", "0"), "SA": plan("966", "0"), "EG": plan("20", "0"),
	"ZA": plan("27", "0"), "NG": plan("234", "0"), "KE": plan("254", "0"), "MA": plan("212", "0"),
	// Latin America.
	"MX": plan("52"), "BR": plan("55", "0"), "AR": plan("54", "0"), "CL": plan("56"),
	"CO": plan("57"), "PE": plan("51", "0"),
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
		pl, ok := dialingPlans[strings.ToUpper(strings.TrimSpace(country))]
		if !ok {
			return "", phoneNoCountry
		}
		if pl.code == "1" {
			// NANP: no number starts with 0, so leading zeros are noise
			// (Meta's "01(650)123-4567"), and the trunk prefix 1 is the
			// country code too: 1 and ten digits is international already.
			d = strings.TrimLeft(d, "0")
			if len(d) == 11 && d[0] == '1' {
				d = d[1:]
			}
			full = "1" + d
			break
		}
		full = pl.code + d
		for _, t := range pl.trunks {
			if strings.HasPrefix(d, t) {
				full = pl.code + d[len(t):]
				break
			}
		}
		if full == pl.code+d && strings.HasPrefix(d, pl.code) {
			full = d // no trunk prefix, and the country code is there already
		}
	}
	if len(full) < 7 || len(full) > 15 || full[0] == '0' {
		return "", phoneInvalid
	}
	return "+" + full, ""
}
