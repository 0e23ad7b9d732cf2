package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/configs"
	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/internal/leaktest"
	"github.com/strata-oss/strata/pipeline/channel"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/synth"
	"github.com/strata-oss/strata/pipeline/tables"
)

// contactInput is the generated shop with its customers table rewritten
// as CSV whose contact fields are distinctive strings, so that a scan of
// the outputs finds them only where they are, never by chance.
type contactInput struct {
	in objstore.Bucket
	// csv is the customers table DuckDB reads: the rows as given, less
	// the two the run must reject.
	csv []byte
	// byID holds each customer's contact fields.
	byID map[string]map[string]string
	// suppressed are ids on the suppression list; rejected the ids of
	// the malformed and the unparsable row.
	suppressed, rejected []string
}

// contactPattern matches every contact value contactShop writes except
// the countries (two letters, found everywhere by chance): emails
// wren.<tag>.quill@example.com, names fenna<tag> and oskarsdottir<tag>,
// postal codes ZQ<5 digits>, phones +447700900<3 digits>.
var contactPattern = regexp.MustCompile(`(?i)wren[. ]|quill@|fenna[a-z]|oskarsdottir|zq\d{5}|447700900\d{3}|leak@`)

func tag(n int) string {
	return string([]byte{byte('a' + n/676%26), byte('a' + n/26%26), byte('a' + n%26)})
}

func contactShop(t *testing.T, customers int) *contactInput {
	t.Helper()
	ctx := context.Background()
	in := objstore.NewMem()
	_, err := synth.Generate(ctx, in, synth.Config{Customers: customers, Seed: 11, Format: "csv",
		Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := objstore.List(ctx, in, "customers/")
	if err != nil || len(keys) != 1 {
		t.Fatalf("customers objects %v: %v", keys, err)
	}
	data, err := objstore.ReadAll(ctx, in, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The contact postal code gets a column of its own: the generator's
	// postal_code is also the built-in attribute of that name, whose
	// levels a sharded run's fit object lists (frequency encoding).
	rows[0] = append(rows[0], "zip")
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	ci := &contactInput{in: in, byID: map[string]map[string]string{}}
	for k, r := range rows[1:] {
		id := r[col["customer_id"]]
		f, ok := ci.byID[id]
		if !ok {
			n := len(ci.byID)
			f = map[string]string{
				"email":       "Wren." + tag(n) + ".Quill@Example.COM",
				"phone":       fmt.Sprintf("+447700900%03d", n%1000),
				"first_name":  "Fenna" + tag(n),
				"last_name":   "Oskarsdottir" + tag(n),
				"postal_code": fmt.Sprintf("ZQ%05d", n),
			}
			switch {
			case n%17 == 0: // nothing a platform can match: no email, no phone, no first name
				f["email"], f["phone"], f["first_name"] = "", "", ""
			case n%13 == 0: // an email no tool can use; the phone still matches
				f["email"] = "wren " + tag(n) + " quill at example"
			case n%5 == 0: // as typed into a form
				f["email"] = "  " + f["email"] + " "
			case n%3 == 0:
				f["phone"] = ""
			}
			ci.byID[id] = f
		}
		for _, name := range []string{"email", "phone", "first_name", "last_name"} {
			r[col[name]] = f[name]
		}
		rows[k+1] = append(r, f["postal_code"]) // zip
	}
	var clean bytes.Buffer
	w := csv.NewWriter(&clean)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	ci.csv = slices.Clone(clean.Bytes())
	// A row the reader cannot split, and one with an unparsable signup:
	// both quarantined, neither may show its contact fields.
	bad := slices.Clone(rows[1])
	bad[col["customer_id"]], bad[col["signup_at"]] = "C99999997", "not-a-time"
	bad[col["email"]], bad[col["first_name"]], bad[col["zip"]] = "Badtime.Leak@Example.COM", "Fennazzz", "ZQ99997"
	if err := w.Write(bad); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	clean.WriteString("C99999998,Malformed.Leak@Example.COM,+447700900998\n")
	ci.rejected = []string{"C99999997", "C99999998"}
	if err := in.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	if err := in.Upload(ctx, "customers/part-00000.csv", bytes.NewReader(clean.Bytes())); err != nil {
		t.Fatal(err)
	}
	// Three customers with every field are forgotten.
	for _, id := range slices.Sorted(maps.Keys(ci.byID)) {
		if f := ci.byID[id]; len(ci.suppressed) < 3 && f["email"] != "" && f["phone"] != "" && !strings.HasPrefix(f["email"], " ") {
			ci.suppressed = append(ci.suppressed, id)
		}
	}
	slices.Sort(ci.suppressed)
	if err := in.Upload(ctx, "erasure/ids.csv", strings.NewReader("customer_id\n"+strings.Join(ci.suppressed, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	return ci
}

// contactYAML is the demo configuration reading contactShop's contact
// fields and consent, with two audiences: reach, every buyer, to every
// channel with a 30% control group; optin, the email opt-ins, to the
// email tool. extra is appended.
func contactYAML(extra string) []byte {
	y := string(configs.Demo)
	y = strings.Replace(y, "    path: customers\n", "    path: customers\n"+
		"    contact: {email: email, phone: phone, first_name: first_name, last_name: last_name, country_code: country, postal_code: zip}\n"+
		"    consent: {email_opt_in: email_opt_in, sms_opt_in: sms_opt_in}\n", 1)
	y = y[:strings.Index(y, "\naudiences:")+1]
	return []byte(y + `audiences:
  - name: reach
    filter: frequency >= 1
    columns: [customer_id, email_opt_in, sms_opt_in]
    formats: [parquet, csv, google_ads, meta, email]
    campaign: summer-test
    starts: 2025-06-01
    control: {share: 0.3}
  - name: optin
    filter: email_opt_in = true
    columns: [customer_id, email_opt_in]
    formats: [parquet, email]
privacy:
  suppression: {path: erasure}
` + extra)
}

func contactConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(contactYAML(extra), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster.KRange = []int{3, 4}
	// The contact fields are the test, not the models: the cheapest
	// purchase model, no bounds (a third of the run's time otherwise).
	noBounds := 0
	cfg.CLV.Model, cfg.CLV.IntervalDraws = "bgnbd", &noBounds
	return cfg
}

// inControl restates holdout's documented draw: SHA-256 of
// "strata/holdout/v1|" len(campaign) "|" campaign "|" id, its first 8
// bytes >> 11 over 2^53, below the share.
func inControl(campaign, id string, share float64) bool {
	sum := sha256.Sum256([]byte("strata/holdout/v1|" + strconv.Itoa(len(campaign)) + "|" + campaign + "|" + id))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11)/(1<<53) < share
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// channelRows reads the rows of every part of audience's channel file of
// format, headers dropped.
func channelRows(t *testing.T, out objstore.Bucket, m *publish.Manifest, audience, format string) (rows [][]string, parts int) {
	t.Helper()
	tf := m.Tables["audiences/name="+audience+"/channel="+format]
	for _, key := range tf.Keys {
		parts++
		data, err := objstore.ReadAll(context.Background(), out, key)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil || len(recs) == 0 {
			t.Fatalf("%s: %d records, %v", key, len(recs), err)
		}
		rows = append(rows, recs[1:]...)
	}
	if tf.Rows != int64(len(rows)) {
		t.Errorf("%s %s: the manifest counts %d rows, the files hold %d", audience, format, tf.Rows, len(rows))
	}
	return rows, parts
}

func audienceResult(t *testing.T, m output.Model, name string) output.AudienceResult {
	t.Helper()
	for _, a := range m.Audiences {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("model.json has no audience %s", name)
	return output.AudienceResult{}
}

func summaryOf(t *testing.T, a output.AudienceResult, f channel.Format) channel.Summary {
	t.Helper()
	for _, s := range a.Channels {
		if s.Format == f {
			return s
		}
	}
	t.Fatalf("audience %s has no %s summary: %+v", a.Name, f, a.Channels)
	return channel.Summary{}
}

// TestContactsInRun: a run with contact fields mapped and channel formats
// on (single-process, and sharded with pseudonymised ids) publishes the
// contact fields in the channel files only, never a control-group
// customer's, every treated customer's with an identifier, hashed as
// DuckDB restates, and filters on consent.
func TestContactsInRun(t *testing.T) {
	ci := contactShop(t, 700)
	const day = "2025-06-30"
	asOf, _ := time.Parse(DateLayout, day)
	ctx := context.Background()
	var logs bytes.Buffer
	opt := func(out objstore.Bucket) Options {
		return Options{AsOf: asOf, Version: "test", RunID: "r", Logger: zerolog.New(&logs), Input: ci.in, Output: out}
	}
	cfg := contactConfig(t, "")
	single := objstore.NewMem()
	res, err := Run(ctx, cfg, opt(single))
	if err != nil {
		t.Fatal(err)
	}
	sharded := objstore.NewMem()
	pcfg := contactConfig(t, "  pseudonymize: true\n")
	if _, err := Fit(ctx, pcfg, opt(sharded)); err != nil {
		t.Fatalf("fit: %v", err)
	}
	for i := range 2 {
		if _, err := Score(ctx, pcfg, opt(sharded), Shard{Index: i, Count: 2}); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	sres, err := Finish(ctx, pcfg, opt(sharded), 2)
	if err != nil {
		t.Fatalf("finish: %v", err)
	}

	t.Run("contact values only in channel files", func(t *testing.T) {
		// Every value of the suppressed and the rejected customers, and
		// the hashes of every email and phone.
		forgotten := map[string]bool{"Badtime.Leak@Example.COM": true, "Malformed.Leak@Example.COM": true}
		for _, id := range ci.suppressed {
			for _, v := range ci.byID[id] {
				if v != "" {
					forgotten[v] = true
				}
			}
		}
		hashes := map[string]bool{}
		for _, f := range ci.byID {
			if e := strings.ToLower(strings.TrimSpace(f["email"])); e != "" {
				hashes[sha(e)] = true
			}
			if f["phone"] != "" {
				hashes[sha(f["phone"])], hashes[sha(strings.TrimPrefix(f["phone"], "+"))] = true, true
			}
		}
		hex64 := regexp.MustCompile(`[0-9a-f]{64}`)
		for name, out := range map[string]objstore.Bucket{"single": single, "sharded": sharded} {
			objs := published(t, out)
			var channelFiles, inChannel int
			for key, data := range objs {
				text, err := leaktest.Render(key, data)
				if err != nil {
					t.Fatal(err)
				}
				for v := range forgotten {
					if strings.Contains(text, v) || strings.Contains(strings.ToLower(text), strings.ToLower(strings.TrimSpace(v))) {
						t.Errorf("%s: %s holds %q, of a suppressed or rejected customer", name, key, v)
					}
				}
				isChannel := regexp.MustCompile(`^audiences/name=[^/]+/channel=(google_ads|meta|email)/dt=[0-9-]+/part-[^/]+\.csv$`).MatchString(key)
				if isChannel {
					channelFiles++
					if contactPattern.MatchString(text) || hex64.MatchString(text) {
						inChannel++
					}
					continue
				}
				if m := contactPattern.FindString(text); m != "" {
					t.Errorf("%s: %s holds contact value %q", name, key, m)
				}
				for _, h := range hex64.FindAllString(text, -1) {
					if hashes[h] {
						t.Errorf("%s: %s holds the hash %s of a contact value", name, key, h)
					}
				}
			}
			// 3 files of reach, 1 of optin, per part.
			if want := map[string]int{"single": 4, "sharded": 8}[name]; channelFiles != want || inChannel != want {
				t.Errorf("%s: %d channel files, %d holding contact values; want %d", name, channelFiles, inChannel, want)
			}
		}
		if m := contactPattern.FindString(logs.String()); m != "" {
			t.Errorf("the logs hold contact value %q", m)
		}
		for h := range hashes {
			if strings.Contains(logs.String(), h) {
				t.Errorf("the logs hold a contact hash")
				break
			}
		}
	})

	// The two bad customers rows were read, and quarantined (without
	// their contact fields, as the scan above checks).
	quar := columns(t, single, &res.Manifest, "quarantine", "source_table", "reason")
	var reasons []string
	for i, table := range quar[0] {
		if table == "customers" {
			reasons = append(reasons, quar[1][i])
		}
	}
	slices.Sort(reasons)
	if !slices.Equal(reasons, []string{"malformed_row", "unparsable_timestamp"}) {
		t.Errorf("customers quarantined for %v, want the malformed row and the unparsable one", reasons)
	}

	m := modelOf(t, single, day)
	members := columns(t, single, &res.Manifest, "audiences/name=reach", "customer_id")[0]
	t.Run("control group in no channel file", func(t *testing.T) {
		if len(members) < 200 {
			t.Fatalf("reach has %d customers", len(members))
		}
		emailOf := map[string]string{} // normalised email → customer
		hashOf := map[string]string{}  // email or phone hash → customer
		zipOf := map[string]string{}   // postal code → customer
		var control, treatedMatchable, treatedEmail int
		treated := map[string]bool{}
		for _, id := range members {
			f := ci.byID[id]
			ctl := inControl("summer-test", id, 0.3)
			e, eok := channel.MetaEmail(f["email"])
			if eok {
				emailOf[e] = id
				hashOf[sha(e)] = id
			}
			if f["phone"] != "" {
				hashOf[sha(f["phone"])], hashOf[sha(strings.TrimPrefix(f["phone"], "+"))] = id, id
			}
			zipOf[f["postal_code"]] = id
			hashOf[sha(strings.ToLower(f["postal_code"]))] = id
			switch {
			case ctl:
				control++
			default:
				treated[id] = true
				if eok {
					treatedEmail++
				}
				// The address needs a first name: n%17 rows have none.
				if eok || f["phone"] != "" || f["first_name"] != "" {
					treatedMatchable++
				}
			}
		}
		if control < 30 || len(treated) < 100 {
			t.Fatalf("%d control, %d treated customers: too few to check", control, len(treated))
		}
		reach := audienceResult(t, m, "reach")
		for _, f := range []channel.Format{channel.GoogleAds, channel.Meta, channel.Email} {
			s := summaryOf(t, reach, f)
			rows, parts := channelRows(t, single, &res.Manifest, "reach", string(f))
			if parts != 1 || s.Rows != len(members) || s.Skipped[channel.SkipControl] != control || s.Written != len(rows) {
				t.Errorf("%s: %d parts, %d rows; summary %+v; want %d rows given, %d control", f, parts, len(rows), s, len(members), control)
			}
			seen := map[string]bool{}
			for _, r := range rows {
				var id string
				if f == channel.Email {
					id = emailOf[r[0]]
				} else if id = hashOf[r[0]]; id == "" {
					id = hashOf[r[1]]
				}
				switch {
				case id == "" && f == channel.GoogleAds:
					id = zipOf[r[5]] // an address-only row: Google's zip is in clear
				case id == "" && f == channel.Meta:
					id = hashOf[r[4]] // Meta's zip, lower-cased and hashed
				}
				switch {
				case id == "":
					t.Errorf("%s: row %v is no audience customer's", f, r)
				case id != "" && !treated[id]:
					t.Errorf("%s: control customer %s is in the file", f, id)
				}
				seen[id] = true
			}
			want := treatedMatchable
			if f == channel.Email {
				want = treatedEmail
			}
			if s.Written != want {
				t.Errorf("%s: %d written, want %d treated customers with an identifier", f, s.Written, want)
			}
			if f == channel.Email {
				for id := range treated {
					if _, ok := channel.MetaEmail(ci.byID[id]["email"]); ok && !seen[id] {
						t.Errorf("email: treated customer %s is missing", id)
					}
				}
			}
		}
	})

	t.Run("sharded equals single", func(t *testing.T) {
		sm := modelOf(t, sharded, day)
		for _, name := range []string{"reach", "optin"} {
			a, b := audienceResult(t, m, name), audienceResult(t, sm, name)
			if !reflect.DeepEqual(a, b) { // the groups' counts are pointers
				t.Errorf("%s: single %+v, sharded %+v", name, a, b)
			}
		}
		for _, f := range []string{"google_ads", "meta", "email"} {
			one, _ := channelRows(t, single, &res.Manifest, "reach", f)
			two, parts := channelRows(t, sharded, &sres.Manifest, "reach", f)
			key := func(r []string) string { return strings.Join(r, ",") }
			a, b := make([]string, len(one)), make([]string, len(two))
			for i := range one {
				a[i] = key(one[i])
			}
			for i := range two {
				b[i] = key(two[i])
			}
			slices.Sort(a)
			slices.Sort(b)
			if parts != 2 || len(a) == 0 || !slices.Equal(a, b) {
				t.Errorf("%s: %d sharded parts; %d rows single, %d sharded, equal %v", f, parts, len(a), len(b), slices.Equal(a, b))
			}
		}
	})

	t.Run("DuckDB restates hashes and consent", func(t *testing.T) {
		dir := t.TempDir()
		write := func(name string, data []byte) string {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		custPath := write("in/customers.csv", ci.csv)
		for key, data := range published(t, single) {
			write("out/"+key, data)
		}
		aud := func(name, ext string) string {
			if ext != "parquet" {
				return filepath.Join(dir, "out", "audiences", "name="+name, "channel="+ext, "dt="+day, "*.csv")
			}
			return filepath.Join(dir, "out", "audiences", "name="+name, "dt="+day, "*.parquet")
		}
		rows := duckdbtest.Query(t, fmt.Sprintf(`
			WITH c AS (
			  SELECT * FROM read_csv('%[1]s', header = true, all_varchar = true)
			  WHERE signup_at::TIMESTAMPTZ < TIMESTAMPTZ '2025-07-01 00:00:00+00' AND updated_at::TIMESTAMPTZ < TIMESTAMPTZ '2025-07-01 00:00:00+00'
			  QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at::TIMESTAMPTZ DESC) = 1),
			reach AS (SELECT customer_id FROM read_parquet('%[2]s')),
			drawn AS (
			  SELECT customer_id, ((('0x' || substr(sha256('strata/holdout/v1|11|summer-test|' || customer_id), 1, 16))::UBIGINT >> 11)::DOUBLE / 9007199254740992) AS u
			  FROM reach),
			treated AS (SELECT c.* FROM drawn JOIN c USING (customer_id) WHERE u >= 0.3),
			good AS (SELECT lower(trim(email)) AS e FROM treated WHERE regexp_matches(lower(trim(email)), '^[^@ ]+@[^@ ]+\.[^@ ]+$')),
			google AS (SELECT "Email" AS h FROM read_csv('%[3]s', header = true, all_varchar = true) WHERE "Email" IS NOT NULL),
			meta AS (SELECT email AS h FROM read_csv('%[4]s', header = true, all_varchar = true) WHERE email IS NOT NULL),
			tool AS (SELECT email AS e FROM read_csv('%[5]s', header = true, all_varchar = true)),
			optin AS (SELECT customer_id FROM read_parquet('%[6]s')),
			segs AS (SELECT customer_id FROM read_parquet('%[7]s')),
			want_optin AS (SELECT s.customer_id FROM segs s JOIN c USING (customer_id) WHERE c.email_opt_in = 'true')
			SELECT
			  (SELECT count(*) FROM good) AS emails,
			  (SELECT count(*) FROM (SELECT sha256(e) FROM good EXCEPT SELECT h FROM google)) AS google_missing,
			  (SELECT count(*) FROM (SELECT h FROM google EXCEPT SELECT sha256(e) FROM good)) AS google_extra,
			  (SELECT count(*) FROM (SELECT sha256(e) FROM good EXCEPT SELECT h FROM meta)) AS meta_missing,
			  (SELECT count(*) FROM (SELECT h FROM meta EXCEPT SELECT sha256(e) FROM good)) AS meta_extra,
			  (SELECT count(*) FROM (SELECT e FROM good EXCEPT SELECT e FROM tool)) AS tool_missing,
			  (SELECT count(*) FROM (SELECT e FROM tool EXCEPT SELECT e FROM good)) AS tool_extra,
			  (SELECT count(*) FROM want_optin) AS optins,
			  (SELECT count(*) FROM (SELECT * FROM want_optin EXCEPT SELECT * FROM optin)) AS optin_missing,
			  (SELECT count(*) FROM (SELECT * FROM optin EXCEPT SELECT * FROM want_optin)) AS optin_extra,
			  (SELECT count(*) FROM optin) AS optin_rows`,
			custPath, aud("reach", "parquet"), aud("reach", "google_ads"), aud("reach", "meta"), aud("reach", "email"),
			aud("optin", "parquet"), filepath.Join(dir, "out", "segments", "dt="+day, "*.parquet")))
		r := rows[0]
		t.Logf("DuckDB: %v", r)
		for _, k := range []string{"google_missing", "google_extra", "meta_missing", "meta_extra", "tool_missing", "tool_extra", "optin_missing", "optin_extra"} {
			if fmt.Sprint(r[k]) != "0" {
				t.Errorf("%s = %v", k, r[k])
			}
		}
		if n, _ := strconv.Atoi(fmt.Sprint(r["emails"])); n < 100 {
			t.Errorf("only %d treated emails: the comparison saw too little", n)
		}
		if n, _ := strconv.Atoi(fmt.Sprint(r["optins"])); n < 100 || fmt.Sprint(r["optin_rows"]) != fmt.Sprint(r["optins"]) {
			t.Errorf("optin: %v rows, %v opt-ins", r["optin_rows"], r["optins"])
		}
	})
}

// TestDemoContactExample: the demo configuration's commented contact
// example, uncommented, is valid and runs on the generated shop: its
// audience filters on consent and writes every channel file.
func TestDemoContactExample(t *testing.T) {
	lines := strings.Split(string(configs.Demo), "\n")
	example := regexp.MustCompile(`^(\s*)# ((contact|consent): \{|- name: winback-email|  (filter|columns|formats|campaign|starts|control):)`)
	var n int
	for i, l := range lines {
		if m := example.FindStringSubmatchIndex(l); m != nil {
			lines[i] = l[:m[3]] + l[m[3]+2:]
			n++
		}
	}
	if n != 9 {
		t.Fatalf("uncommented %d lines of the example, want 9", n)
	}
	cfg, err := config.Parse([]byte(strings.Join(lines, "\n")), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster.KRange = []int{3, 4}
	noBounds := 0 // the example is the test, not the models
	cfg.CLV.Model, cfg.CLV.IntervalDraws = "bgnbd", &noBounds
	out := objstore.NewMem()
	res := runOn(t, cfg, shop(t, 600), out, "2025-06-30")
	a := audienceResult(t, modelOf(t, out, "2025-06-30"), "winback-email")
	if a.Customers == 0 || len(a.Channels) != 3 {
		t.Fatalf("winback-email: %+v", a)
	}
	src := tables.Source{Bucket: out, Format: "parquet", Fields: []tables.Field{{Name: "email_opt_in", Kind: tables.Bool, Required: true}}}
	var rows int
	for _, key := range res.Manifest.Tables["audiences/name=winback-email"].Keys {
		if !strings.HasSuffix(key, ".parquet") {
			continue
		}
		err := src.ScanObject(context.Background(), key, func(b *tables.Batch) error {
			for i := range b.N {
				if rows++; b.Cols[0].IsNull(i) || !b.Cols[0].B[i] {
					t.Errorf("winback-email row %d: email_opt_in is not true", rows)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if rows != a.Customers {
		t.Errorf("winback-email: %d rows, model.json says %d", rows, a.Customers)
	}
	t.Logf("winback-email: %d customers, channels %+v", a.Customers, a.Channels)
	for _, s := range a.Channels {
		if s.Written == 0 || s.Written+s.SkippedRows() != a.Customers {
			t.Errorf("%s: %+v of %d customers", s.Format, s, a.Customers)
		}
		if rows, parts := channelRows(t, out, &res.Manifest, "winback-email", string(s.Format)); parts != 1 || len(rows) != s.Written {
			t.Errorf("%s: %d parts, %d rows; summary says %d", s.Format, parts, len(rows), s.Written)
		}
	}
}

// TestMissingContactColumn: a contact column the customers table lacks is
// a configuration error, found by `strata validate`'s check and by a run
// before it computes anything; a config that maps none reads nothing more.
func TestMissingContactColumn(t *testing.T) {
	in := shop(t, 200)
	base := strings.Replace(string(contactYAML("")), "postal_code: zip}", "postal_code: postal_code}", 1)
	cases := []struct {
		name, yaml string
		missing    string // the column the error names; "" no error
	}{
		{"missing email column", strings.Replace(base, "contact: {email: email,", "contact: {email: e_mail,", 1), `"e_mail"`},
		{"missing consent column", strings.Replace(base, "sms_opt_in: sms_opt_in}", "sms_opt_in: sms_ok}", 1), `"sms_ok"`},
		{"present", base, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tc.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Cluster.KRange = []int{3, 4}
			if err := in.Upload(context.Background(), "erasure/ids.csv", strings.NewReader("customer_id\n")); err != nil {
				t.Fatal(err)
			}
			d, _ := time.Parse(DateLayout, "2025-06-30")
			res, err := Run(context.Background(), cfg, Options{AsOf: d, Version: "test", RunID: "r", Logger: zerolog.Nop(), Input: in, Output: objstore.NewMem()})
			var ce *ConfigError
			switch {
			case tc.missing != "" && (!errors.As(err, &ce) || !strings.Contains(err.Error(), tc.missing)):
				t.Fatalf("run: %v, want a configuration error naming %s", err, tc.missing)
			case tc.missing != "" && len(res.Stages) != 0:
				t.Errorf("the run went through %d stages before failing", len(res.Stages))
			case tc.missing == "" && err != nil:
				t.Fatalf("run: %v", err)
			}
		})
	}
}
