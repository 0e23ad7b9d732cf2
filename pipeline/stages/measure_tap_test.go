package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/tables"
)

// publishAudience commits a run of date whose audience "a" of campaign
// "spring" holds ids with their groups.
func publishAudience(t *testing.T, out objstore.Bucket, date string, ids, groups []string) {
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	if err := tables.WriteParquet(&buf, []tables.OutColumn{
		{Name: "customer_id", Type: tables.OutString, Str: ids},
		{Name: "group", Type: tables.OutString, Str: groups},
	}, tables.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	part := "audiences/name=a/dt=" + date + "/part-00000-x.parquet"
	m := publish.Manifest{Format: 1, AsOf: date, Attempt: "x", Objects: map[string]string{"model": "models/dt=" + date + "/model-x.json"},
		Tables: map[string]publish.TableFiles{audienceTable("a"): {Keys: []string{part}, Rows: int64(len(ids))}}}
	model, _ := json.Marshal(map[string]any{"audiences": []map[string]string{{"name": "a", "campaign": "spring"}}})
	manifest, _ := json.Marshal(m)
	for key, data := range map[string][]byte{part: buf.Bytes(), m.Objects["model"]: model, publish.SuccessKey(date): manifest} {
		if err := out.Upload(ctx, key, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMeasureTap: the measurement reads its orders in the run's own
// extraction when the ids are published as read, not when they are
// pseudonymised; from the blocks it is given it keeps only the measured
// customers' orders inside the windows, never a duplicate the extraction
// dropped, and counts a refund as revenue, not a purchase.
func TestMeasureTap(t *testing.T) {
	out := objstore.NewMem()
	publishAudience(t, out, "2025-05-31", []string{"c1", "c2", "t1", "t2"}, []string{"control", "control", "treatment", "treatment"})
	share := 0.5
	cfg := &config.Config{Measurement: &config.Measurement{Windows: []int{7}}, Audiences: []config.Audience{{Name: "a", Filter: "frequency > 0",
		AudienceCampaign: config.AudienceCampaign{Campaign: "spring", Starts: "2025-06-01", Control: &config.Control{Share: &share}}}}}
	newRun := func(pub func(string) string) *Run {
		return &Run{Config: cfg, AsOf: "2025-06-30", Out: out, PublishedID: pub, Log: zerolog.Nop()}
	}
	ctx := context.Background()

	pseud := newRun(func(s string) string { return "p" + s })
	if tap, err := (Measure{}).Tap(ctx, pseud); err != nil || tap != nil {
		t.Fatalf("a pseudonymised run tapped its extraction (%v)", err)
	}

	r := newRun(nil)
	tap, err := Measure{}.Tap(ctx, r)
	if err != nil || tap == nil {
		t.Fatalf("a plain run did not tap its extraction (%v)", err)
	}
	at := func(day string, hour int) int64 {
		d, _ := time.Parse(time.DateOnly, day)
		return d.Add(time.Duration(hour) * time.Hour).UnixMicro()
	}
	b := &extract.OrderBlock{}
	for _, o := range []struct {
		id     string
		t      int64
		amount float64
		drop   bool
	}{
		{"t1", at("2025-05-31", 23), 10, false}, // before the start
		{"t1", at("2025-06-01", 0), 20, false},  // first instant of the window
		{"t1", at("2025-06-01", 0), 20, true},   // its duplicate, dropped
		{"t2", at("2025-06-07", 23), -5, false}, // a refund: revenue, no purchase
		{"t2", at("2025-06-08", 0), 40, false},  // first instant after the window
		{"c1", at("2025-06-03", 12), 7, false},
		{"x9", at("2025-06-03", 12), 99, false}, // not in the audience
	} {
		b.N++
		b.Str = append(b.Str, o.id)
		b.Time = append(b.Time, o.t)
		b.Amount = append(b.Amount, o.amount)
		b.Drop = append(b.Drop, o.drop)
	}
	tap(b)
	if r.Inputs == nil || r.Inputs[0].Key != publish.SuccessKey("2025-05-31") {
		t.Errorf("inputs %+v: the earlier run's commit record is not among them", r.Inputs)
	}
	model, err := Measure{}.Fit(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	c := model.(*MeasureModel).Campaigns[0]
	if c.Status != StatusMeasured || len(c.Rows) != 2 {
		t.Fatalf("measured %+v", c)
	}
	control, treat := c.Rows[0], c.Rows[1]
	if control.Customers != 2 || control.Converters != 1 || control.Orders != 1 || control.Revenue != 7 {
		t.Errorf("control %+v, want 2 customers, 1 converter, 1 order, revenue 7", control)
	}
	if treat.Customers != 2 || treat.Converters != 1 || treat.Orders != 1 || treat.Revenue != 15 {
		t.Errorf("treatment %+v, want 2 customers, 1 converter, 1 order, revenue 20 − 5", treat)
	}
}
