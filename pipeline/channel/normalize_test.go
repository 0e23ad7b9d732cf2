package channel

import "testing"

// The platforms' own worked examples. Sources:
//
//	[G-DM]  Google Data Manager API, "Format user data",
//	        https://developers.google.com/data-manager/api/devguides/concepts/formatting
//	[G-CM]  Google Ads Customer Match data file template (linked from
//	        support.google.com/google-ads/answer/7659867), https://g.co/wudy8r
//	[G-API] Google Ads API Team on E.164 for Customer Match,
//	        https://groups.google.com/g/adwords-api/c/GLqSCji7Hx0
//	[M-CIP] Meta, "Customer Information Parameters",
//	        https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
//	[M-CSV] Meta's example CSV of raw and normalised values,
//	        https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences#example_sha256

func TestGoogleEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"cloudy.sanfrancisco+shopping@gmail.com", "cloudysanfrancisco@gmail.com"}, // [G-DM]
		{"user.name+NYC@Example.com", "user.name+nyc@example.com"},                 // [G-DM]
		{"  Test@Gmail.com ", "test@gmail.com"},                                    // [G-CM] row 1, trimmed and lower-cased
		{"a.b.c@googlemail.com", "abc@googlemail.com"},                             // [G-DM] googlemail.com like gmail.com
		{"jo hn@example.com", "john@example.com"},                                  // [G-DM] intermediate whitespace removed
		{"first.last@gmail.com.au", "first.last@gmail.com.au"},                     // not gmail.com: dots kept
		{"not-an-email", ""}, {"a@b", ""}, {"@example.com", ""}, {"a@@b.com", ""}, {"+x@gmail.com", ""}, {"a@b.", ""},
	} {
		got, ok := GoogleEmail(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("GoogleEmail(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestMetaEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"John_Smith@gmail.com", "john_smith@gmail.com"},          // [M-CIP]
		{"     John_Smith@gmail.com    ", "john_smith@gmail.com"}, // [M-CSV]
		{"NICK@EMAIL.com", "nick@email.com"},                      // [M-CSV]
		{"    SomeOne@domain.com  ", "someone@domain.com"},        // [M-CSV]
		{"first.last+tag@gmail.com", "first.last+tag@gmail.com"},  // Meta folds nothing
		{"jo hn@example.com", ""},
	} {
		got, ok := MetaEmail(tc.in)
		if ok != (tc.want != "") || (ok && got != tc.want) {
			t.Errorf("MetaEmail(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestE164(t *testing.T) {
	for _, tc := range []struct{ phone, country, want, problem string }{
		{"(800)555-0100", "US", "+18005550100", ""},      // [G-DM]
		{"1-800-888-8888", "us", "+18008888888", ""},     // [G-CM] row 1
		{"1(800)888-8888", "US", "+18008888888", ""},     // [G-CM] row 3
		{"18008888899", "US", "+18008888899", ""},        // [G-CM] row 3 (its customer is in SG: see E164)
		{"18008888899", "SG", "+6518008888899", ""},      // read as national: the documented trade-off
		{"+442070313000", "", "+442070313000", ""},       // [G-API]
		{"(650)555-1212", "US", "+16505551212", ""},      // [M-CIP]
		{"+1 (616) 954-78 88", "", "+16169547888", ""},   // [M-CSV]
		{"+001 (616) 954-78 88", "", "+16169547888", ""}, // [M-CSV]
		{"1(650)123-4567", "US", "+16501234567", ""},     // [M-CSV]
		{"01(650)123-4567", "US", "+16501234567", ""},    // [M-CSV]
		{"4792813113", "US", "+14792813113", ""},         // [M-CSV] lists it bare; the country code is added
		{"020 7031 3000", "GB", "+442070313000", ""},     // national, trunk 0 dropped
		{"44 20 7031 3000", "GB", "+442070313000", ""},   // international without +
		{"0049 30 1234567", "FR", "+49301234567", ""},    // 00 is international whatever the country
		{"030 1234567", "de", "+49301234567", ""},        //
		{"06 30 123 4567", "HU", "+36301234567", ""},     // Hungary's trunk prefix is 06
		{"06 1234 5678", "IT", "+390612345678", ""},      // Italy keeps its leading 0
		{"8 (912) 345-67-89", "RU", "+79123456789", ""},  // Russia's trunk prefix is 8
		{"0412 345 678", "AU", "+61412345678", ""},       //
		{"8 612 34567", "LT", "+37061234567", ""},        // Lithuania's old trunk prefix 8,
		{"0 612 34567", "LT", "+37061234567", ""},        // and its new one, 0
		{"612 345 678", "ES", "+34612345678", ""},        // no trunk prefix
		{"34 612 345 678", "ES", "+34612345678", ""},     // the country code already there
		{"555-0100", "ZZ", "", phoneNoCountry},           // national, unknown country
		{"555-0100", "", "", phoneNoCountry},             //
		{"12", "US", "", phoneInvalid},                   // too short
		{"+1234567890123456", "", "", phoneInvalid},      // 16 digits
		{"n/a", "US", "", phoneInvalid},                  // no digits
	} {
		got, problem := E164(tc.phone, tc.country)
		if got != tc.want || problem != tc.problem {
			t.Errorf("E164(%q, %q) = %q, %q; want %q, %q", tc.phone, tc.country, got, problem, tc.want, tc.problem)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ in, google, meta string }{
		{"Mary", "mary", "mary"},                                  // [M-CIP]
		{"Valéry", "valéry", "valéry"},                            // [M-CIP], [M-CSV]
		{"정", "정", "정"},                                           // [M-CIP], [M-CSV]
		{"    Na'than-Boile    ", "na'than-boile", "nathanboile"}, // [M-CSV]
		{"    Doe-Doe    ", "doe-doe", "doedoe"},                  // [M-CSV]
		{"zoë", "zoë", "zoë"},                                     // [G-CM] row 3
		{" PÉREZ ", "pérez", "pérez"},                             // [G-CM] row 3, lower-cased
	} {
		if got := GoogleName(tc.in); got != tc.google {
			t.Errorf("GoogleName(%q) = %q, want %q", tc.in, got, tc.google)
		}
		if got := MetaName(tc.in); got != tc.meta {
			t.Errorf("MetaName(%q) = %q, want %q", tc.in, got, tc.meta)
		}
	}
}

func TestZipAndCountry(t *testing.T) {
	for _, tc := range []struct{ zip, country, google, meta string }{
		{"37221-3312", "US", "37221-3312", "37221"}, // [M-CSV]
		{"94035", "us", "94035", "94035"},           // [M-CIP]
		{"M1 1AE", "GB", "M1 1AE", "m11ae"},         // [M-CIP] UK example
		{"75018", "FR", "75018", "75018"},           // [M-CIP]
		{" WC2H 8LG ", "sg", "WC2H 8LG", "wc2h8lg"}, // [G-CM] row 3: zip as written, unhashed
	} {
		if got := GoogleZip(tc.zip); got != tc.google {
			t.Errorf("GoogleZip(%q) = %q, want %q", tc.zip, got, tc.google)
		}
		if got := MetaZip(tc.zip, tc.country); got != tc.meta {
			t.Errorf("MetaZip(%q, %q) = %q, want %q", tc.zip, tc.country, got, tc.meta)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{" US ", "us"}, {"us", "us"}, {"Sg", "sg"}, // [M-CIP] lower-case alpha-2; [G-CM] "us", "cn", "sg"
		{"United States", ""}, {"U", ""}, {"1A", ""},
	} {
		got, ok := Country(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Country(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// TestMetaDocumentedHashes: Meta's page gives the SHA-256 of each
// example's normalised value [M-CIP]; the whole path, raw value in, hash
// out, must reproduce them.
func TestMetaDocumentedHashes(t *testing.T) {
	em, _ := MetaEmail("John_Smith@gmail.com")
	ph, _ := E164("(650)555-1212", "US")
	cc, _ := Country("US")
	for _, tc := range []struct{ what, normalised, want string }{
		{"em John_Smith@gmail.com", em, "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"},
		{"ph (650)555-1212", ph[1:], "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"},
		{"fn Mary", MetaName("Mary"), "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"},
		{"fn 정", MetaName("정"), "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"},
		{"fn Valéry", MetaName("Valéry"), "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"},
		{"country US", cc, "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"},
	} {
		if got := sha256Hex(tc.normalised); got != tc.want {
			t.Errorf("%s: normalised %q hashes to %s, Meta documents %s", tc.what, tc.normalised, got, tc.want)
		}
	}
}
