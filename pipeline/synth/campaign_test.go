package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/internal/duckdbtest"
	"github.com/strata-oss/strata/pipeline/holdout"
	"github.com/strata-oss/strata/pipeline/objstore"
)

var campaignStart = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

type campaignRow struct {
	id, group           string
	draw, alive, lambda float64
	baseline, extra     int
	lastBefore          time.Time
}

func readCampaign(t *testing.T, b objstore.Bucket) []campaignRow {
	t.Helper()
	data, err := objstore.ReadAll(context.Background(), b, CampaignTruthKey)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(campaignHeader, ",") {
		t.Fatalf("header %v", recs[0])
	}
	var out []campaignRow
	for _, r := range recs[1:] {
		f := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
		i := func(s string) int { v, _ := strconv.Atoi(s); return v }
		last, _ := time.Parse(time.RFC3339, r[3])
		out = append(out, campaignRow{id: r[0], group: r[1], draw: f(r[2]), lastBefore: last,
			baseline: i(r[4]), extra: i(r[5]), alive: f(r[6]), lambda: f(r[7])})
	}
	return out
}

// TestCampaignRestatedInDuckDB plants a campaign in a shop without
// malformed rows and restates, from the orders table alone, in DuckDB:
// the audience (recency_days as of the day before the start, UTC, from 60
// to 180)
// and each audience member's purchases in the 90-day window, which must
// be the truth's baseline plus extra purchases.
func TestCampaignRestatedInDuckDB(t *testing.T) {
	dir := t.TempDir()
	b, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Customers: 20_000, Seed: 7, BadRowRate: -1,
		Campaign: &Campaign{Name: "winback-2025-06", Start: campaignStart, Uplift: 0.5}}
	st, err := Generate(context.Background(), b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	truth := readCampaign(t, b)
	if len(truth) != st.CampaignAudience || len(truth) < 1000 {
		t.Fatalf("%d truth rows, stats say %d", len(truth), st.CampaignAudience)
	}
	var want strings.Builder
	for _, r := range truth {
		fmt.Fprintf(&want, "%s:%d;", r.id, r.baseline+r.extra)
	}
	rows := duckdbtest.Query(t, fmt.Sprintf(`
		WITH o AS (SELECT DISTINCT order_id, customer_id, ordered_at FROM read_parquet('%s') WHERE NOT is_refund),
		a AS (
			SELECT customer_id, max(ordered_at) FILTER (WHERE ordered_at < TIMESTAMPTZ '2025-06-01 00:00:00+00') AS last
			FROM o GROUP BY customer_id),
		aud AS (
			SELECT customer_id FROM a
			WHERE epoch_us(TIMESTAMPTZ '2025-05-31 00:00:00+00') // 86400000000 - epoch_us(last) // 86400000000 BETWEEN 60 AND 180),
		w AS (
			SELECT aud.customer_id, count(o.order_id) AS n FROM aud LEFT JOIN o
			  ON o.customer_id = aud.customer_id
			 AND o.ordered_at >= TIMESTAMPTZ '2025-06-01 00:00:00+00'
			 AND o.ordered_at < TIMESTAMPTZ '2025-06-01 00:00:00+00' + INTERVAL 90 DAY
			GROUP BY aud.customer_id)
		SELECT string_agg(customer_id || ':' || n, ';' ORDER BY customer_id) || ';' AS got FROM w`,
		filepath.Join(dir, "orders", "*.parquet")))
	if got := rows[0]["got"]; got != want.String() {
		g, w := strings.Split(fmt.Sprint(got), ";"), strings.Split(want.String(), ";")
		t.Errorf("DuckDB restates %d audience members and window purchases, the truth has %d; first differences:", len(g)-1, len(w)-1)
		for i, shown := 0, 0; i < min(len(g), len(w)) && shown < 5; i++ {
			if g[i] != w[i] {
				t.Errorf("  duckdb %s, truth %s", g[i], w[i])
				shown++
			}
		}
	}
}

// TestCampaignGroupsAndEffect: the groups are holdout's, the control share
// is binomially right, and the extra purchases are the planted Poisson
// process: over the treated, their total is within 4 sd of
// Uplift·Σ λ·alive_days (sd = the square root of that mean).
func TestCampaignGroupsAndEffect(t *testing.T) {
	const uplift, share = 0.4, 0.2
	b, st := generate(t, Config{Customers: 30_000, Seed: 11,
		Campaign: &Campaign{Name: "lapsed", Start: campaignStart, Uplift: uplift, ControlShare: share}})
	truth := readCampaign(t, b)
	a, _ := holdout.NewAssigner("lapsed", share)
	control, extra, ctlExtra := 0, 0, 0
	mean := 0.0
	for _, r := range truth {
		if r.group != a.Group(r.id) || r.draw != holdout.Draw("lapsed", r.id) {
			t.Fatalf("%s: group %s, draw %v; holdout says %s, %v", r.id, r.group, r.draw, a.Group(r.id), holdout.Draw("lapsed", r.id))
		}
		lastDay := time.Date(r.lastBefore.Year(), r.lastBefore.Month(), r.lastBefore.Day(), 0, 0, 0, 0, time.UTC)
		if days := campaignStart.AddDate(0, 0, -1).Sub(lastDay).Hours() / 24; days < 60 || days > 180 {
			t.Fatalf("%s: recency %.0f days the day before the start", r.id, days)
		}
		if r.group == holdout.Control {
			control++
			ctlExtra += r.extra
			continue
		}
		extra += r.extra
		mean += uplift * r.lambda * r.alive
	}
	if ctlExtra != 0 {
		t.Errorf("control customers got %d extra purchases", ctlExtra)
	}
	if control != st.CampaignControl || extra != st.CampaignExtra {
		t.Errorf("truth: %d control, %d extra; stats: %d, %d", control, extra, st.CampaignControl, st.CampaignExtra)
	}
	n := float64(len(truth))
	if sd := math.Sqrt(n * share * (1 - share)); math.Abs(float64(control)-n*share) > 4*sd {
		t.Errorf("%d of %d in control, want %.0f ± %.0f", control, len(truth), n*share, 4*sd)
	}
	t.Logf("audience %d, control %d, extra purchases %d (expected %.1f)", len(truth), control, extra, mean)
	if math.Abs(float64(extra)-mean) > 4*math.Sqrt(mean) || mean < 100 {
		t.Errorf("%d extra purchases, want %.1f ± %.1f", extra, mean, 4*math.Sqrt(mean))
	}
}

// TestCampaignWithoutEffectChangesNothing: a campaign with no uplift
// leaves every table byte for byte as without one; only its truth file and
// the manifest are new.
func TestCampaignWithoutEffectChangesNothing(t *testing.T) {
	for _, format := range []string{"parquet", "csv"} {
		base := Config{Customers: 3000, Seed: 5, Format: format}
		b0, s0 := generate(t, base)
		withC := base
		withC.Campaign = &Campaign{Name: "noop", Start: campaignStart}
		b1, s1 := generate(t, withC)
		if s1.CampaignAudience == 0 || s1.CampaignExtra != 0 {
			t.Errorf("%s: audience %d, extra %d", format, s1.CampaignAudience, s1.CampaignExtra)
		}
		for _, k := range s0.Files {
			if k == ManifestKey {
				continue
			}
			x, _ := objstore.ReadAll(context.Background(), b0, k)
			y, err := objstore.ReadAll(context.Background(), b1, k)
			if err != nil || !bytes.Equal(x, y) {
				t.Errorf("%s: %s differs with a no-effect campaign (%v)", format, k, err)
			}
		}
		if len(s1.Files) != len(s0.Files)+1 || !strings.Contains(strings.Join(s1.Files, ","), CampaignTruthKey) {
			t.Errorf("%s: files %v, want those of no campaign and %s", format, s1.Files, CampaignTruthKey)
		}
		m0, _ := objstore.ReadAll(context.Background(), b0, ManifestKey)
		if bytes.Contains(m0, []byte("campaign")) {
			t.Errorf("%s: the manifest without a campaign mentions one", format)
		}
	}
}

func TestCampaignConfigErrors(t *testing.T) {
	for _, c := range []Campaign{
		{Name: "", Start: campaignStart},
		{Name: "Bad Name", Start: campaignStart},
		{Name: "c", Start: campaignStart, ControlShare: 1},
		{Name: "c", Start: campaignStart, Uplift: -0.1},
		{Name: "c", Start: campaignStart, Uplift: math.Inf(1)},
		{Name: "c", Start: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Name: "c", Start: campaignStart, MinRecencyDays: 100, MaxRecencyDays: 50},
	} {
		_, err := Generate(context.Background(), objstore.NewMem(), Config{Customers: 10, Campaign: &c})
		if err == nil || !strings.Contains(err.Error(), "campaign") {
			t.Errorf("%+v: error %v", c, err)
		}
	}
}
