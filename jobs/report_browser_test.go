package jobs

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/internal/browsertest"
	"github.com/strata-oss/strata/internal/racetest"
	"github.com/strata-oss/strata/pipeline"
)

// TestDemoReportInChromium opens the report of a demo's second run (so it
// has a migration matrix) in headless Chromium: no console errors, no
// request beyond the page itself, every section there, and every chart
// rendered with a size, shapes and text (its title and axes); the brief
// comes first, its figures with their change since the first run and
// separators, and the model internals last. With
// STRATA_REPORT_PNG set it also saves the screenshot the README shows.
func TestDemoReportInChromium(t *testing.T) {
	racetest.Skip(t, "the report rendered in a browser")
	dir := t.TempDir()
	runDemo(t, dir, 3000)
	cfg, err := DemoConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	next := DemoAsOf.AddDate(0, 0, 21)
	res, err := RunOnce(context.Background(), cfg, pipeline.Options{AsOf: next, Version: "test", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "output", "reports", "dt="+res.AsOf, "report.html")
	png := os.Getenv("STRATA_REPORT_PNG")
	if png == "" {
		png = filepath.Join(t.TempDir(), "report.png")
	}
	page := browsertest.Open(t, report, png)

	if len(page.ConsoleErrors) > 0 {
		t.Errorf("console errors: %q", page.ConsoleErrors)
	}
	if len(page.Requests) > 0 || len(page.FailedRequests) > 0 {
		t.Errorf("the report made requests %q (failed %q); it must be self-contained", page.Requests, page.FailedRequests)
	}
	if !strings.Contains(page.Title, res.AsOf) {
		t.Errorf("title %q lacks the as-of date", page.Title)
	}
	for _, h := range []string{"At a glance", "What to do, by segment", "Segments", "RFM grid", "Lifetime value and P(alive)",
		"Cluster profiles", "Data quality", "Appendix: model internals"} {
		if !slices.Contains(page.Headings, h) {
			t.Errorf("no section %q; headings %q", h, page.Headings)
		}
	}
	want := []string{"Customers and revenue by RFM segment", "Customers by R and F score", "CLV by RFM segment",
		"P(alive) by RFM segment", "Mean P(alive) by repeat purchases and weeks since the last purchase",
		"Cluster profiles (mean z-score per feature)"}
	for _, label := range want {
		i := slices.IndexFunc(page.Charts, func(c browsertest.Chart) bool { return c.Label == label })
		if i < 0 {
			t.Errorf("no chart %q", label)
			continue
		}
		c := page.Charts[i]
		if c.Width < 200 || c.Height < 100 || c.Shapes < 5 || c.Texts < 3 {
			t.Errorf("chart %q rendered %.0fx%.0f with %d shapes and %d texts", label, c.Width, c.Height, c.Shapes, c.Texts)
		}
	}
	if !slices.ContainsFunc(page.Charts, func(c browsertest.Chart) bool { return strings.Contains(c.Label, "previous cluster") }) {
		labels := []string{}
		for _, c := range page.Charts {
			labels = append(labels, c.Label)
		}
		t.Errorf("no migration chart in a second run's report; charts %q", labels)
	}
	if i, j := slices.Index(page.Headings, "At a glance"), slices.Index(page.Headings, "Appendix: model internals"); i != 0 || j != len(page.Headings)-1 {
		t.Errorf("the brief must open the report and the model internals close it; headings %q", page.Headings)
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"since the last run", "Champions", "win back", "Total CLV, next 12 months", "Expected purchases, next 12 months",
		"Purchase model chosen by the holdout", "in / out since last run"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if !regexp.MustCompile(`>\d{1,3}(,\d{3})+( [A-Z]{3})?<`).Match(html) {
		t.Error("no number with thousands separators in the report")
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 20_000 || page.Width > 1300 {
		t.Errorf("screenshot %s: %v (page %dx%d)", png, err, page.Width, page.Height)
	}
}
