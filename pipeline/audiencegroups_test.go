package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/holdout"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/privacy"
)

// withControl is cfg with an audience of every buyer feeding a campaign
// with a control group of share 0.3, stratified by RFM segment.
func withControl(cfg *config.Config) *config.Config {
	share := 0.3
	cfg.Audiences = append(cfg.Audiences, config.Audience{Name: "held", Filter: "frequency >= 1",
		Columns: []string{"customer_id", "rfm_segment"},
		AudienceCampaign: config.AudienceCampaign{Campaign: "spring-test", Starts: "2025-07-01",
			Control: &config.Control{Share: &share, Stratify: "rfm_segment"}}})
	return cfg
}

// TestAudienceGroups: an audience with a control group publishes each
// customer's group, the draw on the id as read (so a pseudonymised run
// publishes the same groups under the pseudonyms); model.json counts the
// groups and checks their balance per stratum from the published rows;
// a sharded run's counts are the single-process run's.
func TestAudienceGroups(t *testing.T) {
	in := shop(t, 600)
	const day = "2025-06-30"
	ps, err := privacy.NewPseudonymizer([]byte(testPseudonymKey))
	if err != nil {
		t.Fatal(err)
	}
	plainOut, pseudOut, shardOut := objstore.NewMem(), objstore.NewMem(), objstore.NewMem()
	plain := runOn(t, withControl(demoConfig(t, "")), in, plainOut, day)
	pcfg := withControl(demoConfig(t, "privacy: {pseudonymize: true}\n"))
	pseud := runOn(t, pcfg, in, pseudOut, day)

	rows := columns(t, plainOut, &plain.Manifest, "audiences/name=held", "customer_id", "group", "rfm_segment")
	if len(rows[0]) < 300 {
		t.Fatalf("the audience has %d customers", len(rows[0]))
	}
	type count struct{ n, c int }
	strata := map[string]count{}
	groupOf := map[string]string{}
	for i, id := range rows[0] {
		want := holdout.Treatment
		if holdout.Draw("spring-test", id) < 0.3 {
			want = holdout.Control
		}
		if rows[1][i] != want {
			t.Errorf("customer %s: group %q, the draw says %q", id, rows[1][i], want)
		}
		groupOf[ps.ID(id)] = rows[1][i]
		s := strata[rows[2][i]]
		s.n++
		if rows[1][i] == holdout.Control {
			s.c++
		}
		strata[rows[2][i]] = s
	}
	prow := columns(t, pseudOut, &pseud.Manifest, "audiences/name=held", "customer_id", "group")
	if len(prow[0]) != len(rows[0]) {
		t.Fatalf("pseudonymised audience has %d customers, plain %d", len(prow[0]), len(rows[0]))
	}
	for i, p := range prow[0] {
		if g, ok := groupOf[p]; !ok || g != prow[1][i] {
			t.Errorf("pseudonym %s: group %q, the plain run's customer has %q (found %v)", p, prow[1][i], g, ok)
		}
	}

	asOf, _ := time.Parse(DateLayout, day)
	opt := Options{AsOf: asOf, Version: "test", RunID: "r", Logger: zerolog.Nop(), Input: in, Output: shardOut}
	ctx := context.Background()
	if _, err := Fit(ctx, pcfg, opt); err != nil {
		t.Fatalf("fit: %v", err)
	}
	for i := range 2 {
		if _, err := Score(ctx, pcfg, opt, Shard{Index: i, Count: 2}); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	if _, err := Finish(ctx, pcfg, opt, 2); err != nil {
		t.Fatalf("finish: %v", err)
	}

	for name, out := range map[string]objstore.Bucket{"plain": plainOut, "pseudonymised": pseudOut, "sharded": shardOut} {
		var r *output.AudienceResult
		m := modelOf(t, out, day)
		for i := range m.Audiences {
			if m.Audiences[i].Name == "held" {
				r = &m.Audiences[i]
			}
		}
		if r == nil || r.Balance == nil || r.Control == nil || r.Treatment == nil {
			t.Fatalf("%s: model.json's audience record %+v", name, r)
		}
		var control int
		for _, s := range strata {
			control += s.c
		}
		if r.Customers != len(rows[0]) || *r.Control != control || *r.Treatment != len(rows[0])-control {
			t.Errorf("%s: model.json counts %d customers, %d control, %d treatment; the table %d, %d", name,
				r.Customers, *r.Control, *r.Treatment, len(rows[0]), control)
		}
		if r.Campaign != "spring-test" || r.Balance.Share != 0.3 || len(r.Balance.Strata) != len(strata) {
			t.Errorf("%s: campaign %q share %v, %d strata; want %d", name, r.Campaign, r.Balance.Share, len(r.Balance.Strata), len(strata))
		}
		for _, s := range r.Balance.Strata {
			if want := strata[s.Name]; s.Customers != want.n || s.Control != want.c {
				t.Errorf("%s: stratum %q: %d customers, %d control; the table %d, %d", name, s.Name, s.Customers, s.Control, want.n, want.c)
			}
		}
		if fmt.Sprint(*r.Balance) != fmt.Sprint(*modelAudience(t, plainOut, day).Balance) {
			t.Errorf("%s: balance %+v differs from the plain run's", name, *r.Balance)
		}
	}
}

func modelAudience(t *testing.T, out objstore.Bucket, day string) *output.AudienceResult {
	t.Helper()
	m := modelOf(t, out, day)
	for i := range m.Audiences {
		if m.Audiences[i].Name == "held" {
			return &m.Audiences[i]
		}
	}
	t.Fatal("no audience held")
	return nil
}
