package channel

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// Value problems, as counted in a Summary.
const (
	emailInvalid   = "email_invalid"   // no single @ between a local part and a dotted domain
	countryInvalid = "country_invalid" // not a two-letter ISO 3166-1 alpha-2 code
)

// sha256Hex is the lower-case hex SHA-256 of s's UTF-8 bytes, as both
// platforms take it.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// plausibleEmail accepts local@domain with a dot inside the domain and no
// whitespace: enough to drop what no platform could match, without
// pretending to validate RFC 5322.
func plausibleEmail(e string) bool {
	at := strings.IndexByte(e, '@')
	if at <= 0 || at != strings.LastIndexByte(e, '@') || len(e) > 254 {
		return false
	}
	dom := e[at+1:]
	dot := strings.IndexByte(dom, '.')
	if dot <= 0 || strings.HasSuffix(dom, ".") {
		return false
	}
	return !strings.ContainsFunc(e, unicode.IsSpace)
}

// GoogleEmail normalises an email address as Google's Data Manager API
// documents for Customer Match ("Format user data",
// developers.google.com/data-manager/api/devguides/concepts/formatting):
// lower-cased, leading, trailing and intermediate whitespace removed; for
// gmail.com and googlemail.com addresses every "." of the local part and
// any "+" with what follows it removed ("cloudy.sanfrancisco+shopping@gmail.com"
// is "cloudysanfrancisco@gmail.com"), other domains left alone
// ("user.name+NYC@Example.com" is "user.name+nyc@example.com"). ok is false
// for what cannot be an address.
func GoogleEmail(s string) (string, bool) {
	e := strings.ToLower(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s))
	if !plausibleEmail(e) {
		return "", false
	}
	at := strings.IndexByte(e, '@')
	local, dom := e[:at], e[at+1:]
	if dom == "gmail.com" || dom == "googlemail.com" {
		if plus := strings.IndexByte(local, '+'); plus >= 0 {
			local = local[:plus]
		}
		local = strings.ReplaceAll(local, ".", "")
		if local == "" {
			return "", false
		}
		e = local + "@" + dom
	}
	return e, true
}

// MetaEmail normalises an email address as Meta documents ("Customer
// Information Parameters", em: "Trim any leading and trailing spaces.
// Convert all characters to lowercase."): "John_Smith@gmail.com" is
// "john_smith@gmail.com". Meta does not fold Gmail's dots.
func MetaEmail(s string) (string, bool) {
	e := strings.ToLower(strings.TrimSpace(s))
	return e, plausibleEmail(e)
}

// GoogleName lower-cases a first or last name and trims its surrounding
// whitespace (Data Manager API, given_name and family_name). Prefixes and
// suffixes (Mrs., Jr.), which Google asks to leave out, are not detected.
func GoogleName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// MetaName lower-cases a first or last name and removes punctuation and
// spaces, keeping letters of any script in UTF-8 ("Customer Information
// Parameters", fn: "Lowercase only with no punctuation. If using special
// characters, the text must be encoded in UTF-8 format."; "Valéry" is
// "valéry", "정" stays "정", and Meta's example CSV has "Na'than-Boile" as
// "nathanboile"). Text is not Unicode-normalised: a decomposed "é" keeps
// its combining mark, and hashes differently from a precomposed one.
func MetaName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r):
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// Country returns the lower-case ISO 3166-1 alpha-2 code of s (any case,
// surrounding spaces ignored), or ok false when s is not two ASCII letters.
// Both platforms take the two-letter code: Google unhashed ("us" in its
// Customer Match template), Meta lower-cased and hashed.
func Country(s string) (string, bool) {
	c := strings.ToLower(strings.TrimSpace(s))
	if len(c) != 2 || c[0] < 'a' || c[0] > 'z' || c[1] < 'a' || c[1] > 'z' {
		return "", false
	}
	return c, true
}

// GoogleZip is the postal code as Google takes it, unhashed: surrounding
// whitespace trimmed, otherwise as written.
func GoogleZip(s string) string { return strings.TrimSpace(s) }

// MetaZip normalises a postal code as Meta documents (zp: "Use lowercase
// with no spaces and no dash. Use only the first 5 digits for U.S. zip
// codes."; its UK example is "m11ae"): a US ZIP+4 "37221-3312" is "37221".
func MetaZip(s, country string) string {
	z := strings.ToLower(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return r
	}, s))
	if c, _ := Country(country); c == "us" && len(z) > 5 {
		z = z[:5]
	}
	return z
}
