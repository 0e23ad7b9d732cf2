package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// country is one market of the demo shop. Cities are listed by rough size;
// a customer's city is drawn Zipf-like by rank, so a few cities dominate and
// a long tail keeps the column high-cardinality.
type country struct {
	code   string
	weight float64
	cities []string // "City/Region"
	postal func(r *rand.Rand, city int) string
}

// geography is the parsed, read-only country table. It is built once per
// Generate call (not a package variable) so nothing global is mutable.
type geography struct {
	countries   []string
	countryCum  []float64
	cityName    [][]string
	cityRegion  [][]string
	cityCum     [][]float64
	postal      []func(r *rand.Rand, city int) string
	totalCities int
}

func digits(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	return b.String()
}

func letter(r *rand.Rand) byte { return byte('A' + r.IntN(26)) }

func countries() []country {
	return []country{
		{code: "US", weight: 0.42, postal: func(r *rand.Rand, city int) string {
			return fmt.Sprintf("%03d", 100+(city*37)%899) + digits(r, 2)
		}, cities: []string{
			"New York/NY", "Los Angeles/CA", "Chicago/IL", "Houston/TX", "Phoenix/AZ", "Philadelphia/PA",
			"San Antonio/TX", "San Diego/CA", "Dallas/TX", "San Jose/CA", "Austin/TX", "Jacksonville/FL",
			"Fort Worth/TX", "Columbus/OH", "Charlotte/NC", "Indianapolis/IN", "San Francisco/CA", "Seattle/WA",
			"Denver/CO", "Washington/DC", "Nashville/TN", "Oklahoma City/OK", "El Paso/TX", "Boston/MA",
			"Portland/OR", "Las Vegas/NV", "Detroit/MI", "Memphis/TN", "Louisville/KY", "Baltimore/MD",
			"Milwaukee/WI", "Albuquerque/NM", "Tucson/AZ", "Fresno/CA", "Sacramento/CA", "Mesa/AZ",
			"Kansas City/MO", "Atlanta/GA", "Omaha/NE", "Colorado Springs/CO", "Raleigh/NC", "Miami/FL",
			"Long Beach/CA", "Virginia Beach/VA", "Oakland/CA", "Minneapolis/MN", "Tulsa/OK", "Tampa/FL",
			"Arlington/TX", "New Orleans/LA", "Wichita/KS", "Cleveland/OH", "Bakersfield/CA", "Aurora/CO",
			"Anaheim/CA", "Honolulu/HI", "Santa Ana/CA", "Riverside/CA", "Corpus Christi/TX", "Lexington/KY",
			"Pittsburgh/PA", "St. Louis/MO", "Cincinnati/OH", "Orlando/FL", "Buffalo/NY", "Salt Lake City/UT",
			"Boise/ID", "Richmond/VA", "Des Moines/IA", "Spokane/WA",
		}},
		{code: "GB", weight: 0.14, postal: func(r *rand.Rand, city int) string {
			return string([]byte{byte('A' + city%26), byte('A' + (city*7)%26)}) + fmt.Sprint(1+r.IntN(20)) + " " + digits(r, 1) + string([]byte{letter(r), letter(r)})
		}, cities: []string{
			"London/England", "Birmingham/England", "Manchester/England", "Leeds/England", "Glasgow/Scotland",
			"Liverpool/England", "Newcastle upon Tyne/England", "Sheffield/England", "Bristol/England",
			"Edinburgh/Scotland", "Leicester/England", "Coventry/England", "Bradford/England", "Cardiff/Wales",
			"Belfast/Northern Ireland", "Nottingham/England", "Kingston upon Hull/England", "Stoke-on-Trent/England",
			"Southampton/England", "Derby/England", "Portsmouth/England", "Brighton/England", "Plymouth/England",
			"Reading/England", "Northampton/England", "Luton/England", "Wolverhampton/England", "Aberdeen/Scotland",
			"Bolton/England", "Norwich/England", "Swansea/Wales", "Milton Keynes/England", "Oxford/England",
			"Cambridge/England", "York/England", "Dundee/Scotland", "Exeter/England", "Bath/England",
			"Ipswich/England", "Inverness/Scotland",
		}},
		{code: "DE", weight: 0.12, postal: func(r *rand.Rand, city int) string {
			return fmt.Sprintf("%02d", 1+(city*13)%98) + digits(r, 3)
		}, cities: []string{
			"Berlin/Berlin", "Hamburg/Hamburg", "Munich/Bavaria", "Cologne/North Rhine-Westphalia", "Frankfurt/Hesse",
			"Stuttgart/Baden-Württemberg", "Düsseldorf/North Rhine-Westphalia", "Leipzig/Saxony",
			"Dortmund/North Rhine-Westphalia", "Essen/North Rhine-Westphalia", "Bremen/Bremen", "Dresden/Saxony",
			"Hanover/Lower Saxony", "Nuremberg/Bavaria", "Duisburg/North Rhine-Westphalia", "Bochum/North Rhine-Westphalia",
			"Wuppertal/North Rhine-Westphalia", "Bielefeld/North Rhine-Westphalia", "Bonn/North Rhine-Westphalia",
			"Münster/North Rhine-Westphalia", "Mannheim/Baden-Württemberg", "Karlsruhe/Baden-Württemberg",
			"Augsburg/Bavaria", "Wiesbaden/Hesse", "Mönchengladbach/North Rhine-Westphalia",
			"Gelsenkirchen/North Rhine-Westphalia", "Aachen/North Rhine-Westphalia", "Braunschweig/Lower Saxony",
			"Kiel/Schleswig-Holstein", "Chemnitz/Saxony", "Halle/Saxony-Anhalt", "Magdeburg/Saxony-Anhalt",
			"Freiburg/Baden-Württemberg", "Krefeld/North Rhine-Westphalia", "Mainz/Rhineland-Palatinate",
			"Lübeck/Schleswig-Holstein", "Erfurt/Thuringia", "Rostock/Mecklenburg-Vorpommern", "Kassel/Hesse",
			"Potsdam/Brandenburg", "Saarbrücken/Saarland", "Regensburg/Bavaria",
		}},
		{code: "FR", weight: 0.11, postal: func(r *rand.Rand, city int) string {
			return fmt.Sprintf("%02d", 1+(city*17)%95) + digits(r, 3)
		}, cities: []string{
			"Paris/Île-de-France", "Marseille/Provence-Alpes-Côte d'Azur", "Lyon/Auvergne-Rhône-Alpes",
			"Toulouse/Occitanie", "Nice/Provence-Alpes-Côte d'Azur", "Nantes/Pays de la Loire", "Montpellier/Occitanie",
			"Strasbourg/Grand Est", "Bordeaux/Nouvelle-Aquitaine", "Lille/Hauts-de-France", "Rennes/Bretagne",
			"Reims/Grand Est", "Toulon/Provence-Alpes-Côte d'Azur", "Saint-Étienne/Auvergne-Rhône-Alpes",
			"Le Havre/Normandie", "Grenoble/Auvergne-Rhône-Alpes", "Dijon/Bourgogne-Franche-Comté",
			"Angers/Pays de la Loire", "Nîmes/Occitanie", "Villeurbanne/Auvergne-Rhône-Alpes",
			"Clermont-Ferrand/Auvergne-Rhône-Alpes", "Le Mans/Pays de la Loire", "Aix-en-Provence/Provence-Alpes-Côte d'Azur",
			"Brest/Bretagne", "Tours/Centre-Val de Loire", "Amiens/Hauts-de-France", "Limoges/Nouvelle-Aquitaine",
			"Annecy/Auvergne-Rhône-Alpes", "Perpignan/Occitanie", "Metz/Grand Est", "Besançon/Bourgogne-Franche-Comté",
			"Orléans/Centre-Val de Loire", "Rouen/Normandie", "Mulhouse/Grand Est", "Caen/Normandie", "Nancy/Grand Est",
			"Avignon/Provence-Alpes-Côte d'Azur", "Poitiers/Nouvelle-Aquitaine", "La Rochelle/Nouvelle-Aquitaine",
			"Pau/Nouvelle-Aquitaine",
		}},
		{code: "CA", weight: 0.11, postal: func(r *rand.Rand, city int) string {
			return string([]byte{byte('A' + (city*5)%26), byte('0' + r.IntN(10)), letter(r), ' ', byte('0' + r.IntN(10)), letter(r), byte('0' + r.IntN(10))})
		}, cities: []string{
			"Toronto/Ontario", "Montreal/Quebec", "Calgary/Alberta", "Ottawa/Ontario", "Edmonton/Alberta",
			"Winnipeg/Manitoba", "Mississauga/Ontario", "Vancouver/British Columbia", "Brampton/Ontario",
			"Hamilton/Ontario", "Surrey/British Columbia", "Quebec City/Quebec", "Halifax/Nova Scotia", "Laval/Quebec",
			"London/Ontario", "Markham/Ontario", "Vaughan/Ontario", "Gatineau/Quebec", "Saskatoon/Saskatchewan",
			"Kitchener/Ontario", "Longueuil/Quebec", "Burnaby/British Columbia", "Windsor/Ontario", "Regina/Saskatchewan",
			"Richmond/British Columbia", "Oakville/Ontario", "Burlington/Ontario", "Oshawa/Ontario", "Sherbrooke/Quebec",
			"Victoria/British Columbia", "Kelowna/British Columbia", "Barrie/Ontario", "Guelph/Ontario", "Kingston/Ontario",
			"St. John's/Newfoundland and Labrador", "Moncton/New Brunswick", "Charlottetown/Prince Edward Island",
		}},
		{code: "AU", weight: 0.10, postal: func(r *rand.Rand, city int) string {
			return fmt.Sprintf("%d%d", 2+city%6, (city*11)%10) + digits(r, 2)
		}, cities: []string{
			"Sydney/New South Wales", "Melbourne/Victoria", "Brisbane/Queensland", "Perth/Western Australia",
			"Adelaide/South Australia", "Gold Coast/Queensland", "Newcastle/New South Wales",
			"Canberra/Australian Capital Territory", "Sunshine Coast/Queensland", "Wollongong/New South Wales",
			"Geelong/Victoria", "Hobart/Tasmania", "Townsville/Queensland", "Cairns/Queensland",
			"Darwin/Northern Territory", "Toowoomba/Queensland", "Ballarat/Victoria", "Bendigo/Victoria",
			"Albury/New South Wales", "Launceston/Tasmania", "Mackay/Queensland", "Rockhampton/Queensland",
			"Bunbury/Western Australia", "Bundaberg/Queensland", "Coffs Harbour/New South Wales",
			"Wagga Wagga/New South Wales", "Hervey Bay/Queensland", "Mildura/Victoria", "Shepparton/Victoria",
			"Port Macquarie/New South Wales", "Orange/New South Wales", "Dubbo/New South Wales",
		}},
	}
}

// zipfExponent shapes the city distribution within a country: weight of the
// city at rank k is k^-s.
const zipfExponent = 1.0

func newGeography() *geography {
	cs := countries()
	g := &geography{}
	w := make([]float64, len(cs))
	for i, c := range cs {
		g.countries = append(g.countries, c.code)
		w[i] = c.weight
		names := make([]string, len(c.cities))
		regions := make([]string, len(c.cities))
		cw := make([]float64, len(c.cities))
		for j, cr := range c.cities {
			name, region, ok := strings.Cut(cr, "/")
			if !ok {
				panic("synth: malformed city entry " + cr) // a typo in the table above
			}
			names[j], regions[j] = name, region
			cw[j] = math.Pow(float64(j+1), -zipfExponent)
		}
		g.cityName = append(g.cityName, names)
		g.cityRegion = append(g.cityRegion, regions)
		g.cityCum = append(g.cityCum, cumulative(cw))
		g.postal = append(g.postal, c.postal)
		g.totalCities += len(c.cities)
	}
	g.countryCum = cumulative(w)
	return g
}
