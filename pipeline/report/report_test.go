package report

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"testing"
)

func sample() Data {
	q := func(a, b, c, d, e float64) *[5]float64 { return &[5]float64{a, b, c, d, e} }
	d := Data{
		Title: "Strata segments", AsOf: "2025-06-30", Attempt: "abc123", Subtitle: "3 customers <script>",
		Segments: []Segment{
			{Name: "Champions", Customers: 10, Revenue: 1000, CLV: q(50, 80, 120, 200, 400), PAlive: q(0.7, 0.8, 0.9, 0.95, 0.99)},
			{Name: "Can't Lose Them", Customers: 3, Revenue: 500, CLV: q(0, 1, 2, 5, 9), PAlive: q(0, 0.01, 0.02, 0.1, 0.2)},
			{Name: "No Purchases", Customers: 4},
		},
		PAliveMatrix: &Matrix{Title: "Mean P(alive)", RowTitle: "weeks since last purchase", ColTitle: "repeat purchases",
			Rows: []string{"0-4", "5-12"}, Cols: []string{"0", "1", "2+"},
			Values: [][]float64{{1, 0.9, math.NaN()}, {1, 0.5, 0.2}}, Counts: [][]int64{{4, 2, 0}, {1, 1, 5}}},
		Profiles: &Matrix{Title: "z", Rows: []string{"0 Recent", "1 Lapsed"}, Cols: []string{"recency_days", "clv"},
			Values: [][]float64{{-1.2, 0.8}, {1.1, -0.9}}, Diverging: true},
		Quality: []KV{{"orders read", "100"}},
		Models:  []Table{{Title: "BG/NBD", Rows: []KV{{"r", "0.24"}}, Note: "holdout +1.4%"}},
	}
	d.RF[4][4] = 7
	d.RFNames[4][4] = "Champions"
	return d
}

func TestRenderIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, sample()); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, bad := range []string{"<script", "<link", "@import", "url(", "<img", "<iframe"} {
		if strings.Contains(strings.ToLower(html), bad) {
			t.Errorf("report contains %q: it must load nothing", bad)
		}
	}
	// The only URLs allowed are SVG namespace declarations, which are
	// names, not requests.
	for _, u := range regexp.MustCompile(`https?://[^"'\s<>]+`).FindAllString(html, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("report references %s", u)
		}
	}
	if strings.Contains(html, "3 customers <script>") {
		t.Error("text is not escaped")
	}
	if n := strings.Count(html, "<svg "); n != 6 {
		t.Errorf("%d charts, want 6 (segments, RF grid, CLV, P(alive), P(alive) matrix, profiles)", n)
	}
	for _, want := range []string{`id="segments"`, `id="rfm-grid"`, `id="clv"`, `id="clusters"`, `id="quality"`, `id="models"`,
		"Can&#39;t Lose Them", "n=5", "holdout &#43;1.4%", "<title>Customers and revenue by RFM segment</title>"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(html, `id="migration"`) {
		t.Error("a first run has no migration section")
	}
}

func TestShadeScales(t *testing.T) {
	cases := []struct {
		t         float64
		diverging bool
		want      string
	}{
		{0, false, "rgb(255,255,255)"}, {1, false, "rgb(49,99,170)"}, {-1, true, "rgb(49,99,170)"},
		{1, true, "rgb(196,62,52)"}, {0, true, "rgb(255,255,255)"}, {7, false, "rgb(49,99,170)"}, {math.NaN(), false, "#f1f3f5"},
	}
	for _, tc := range cases {
		if got := shade(tc.t, tc.diverging); got != tc.want {
			t.Errorf("shade(%v, %v) = %s, want %s", tc.t, tc.diverging, got, tc.want)
		}
	}
}

func TestNiceMax(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{{0, 1}, {3, 5}, {10, 10}, {11, 20}, {0.3, 0.5}, {999, 1000}} {
		if got := niceMax(tc.in); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("niceMax(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBriefFormatting(t *testing.T) {
	prev := 1_000_000.0
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"grouped", grouped(19139036.53, 2), "19,139,036.53"},
		{"grouped small", grouped(999, 0), "999"},
		{"grouped negative", grouped(-1234567, 0), "-1,234,567"},
		{"grouped rounds to zero", grouped(-0.2, 0), "0"},
		{"money with code", money(19139036.53, "EUR"), "19,139,037 EUR"},
		{"money unknown currency", money(1500, ""), "1,500"},
		{"count fractional", count(12.34), "12.3"},
		{"count large", count(12345.6), "12,346"},
		{"change up", change(1_032_000, &prev), "+3.2% since the last run"},
		{"change down", change(900_000, &prev), "-10.0% since the last run"},
		{"no previous", change(5, nil), ""},
		{"percent", percent(0.256), "26%"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// TestBriefSections: the headline and the segment brief come first, with
// separators, the currency and the change; the model internals last.
func TestBriefSections(t *testing.T) {
	d := sample()
	prev, clv, churn := 1_000_000.0, 123456.7, 0.42
	d.Currency = "EUR"
	d.Headline = []Figure{{Label: "Revenue", Value: 1234567.8, Money: true, Previous: &prev}, {Label: "Buyers", Value: 4321}}
	in, out := int64(1500), int64(30)
	d.Brief = []SegmentBrief{{Name: "At Risk", Customers: 12345, Revenue: 5000, CLV: &clv, ChurnRisk: &churn,
		Action: "win back", Audiences: []AudienceSize{{Name: "win-back", Customers: 1200}}, MovedIn: &in, MovedOut: &out}}
	d.Clusters = []ClusterBrief{{ID: 1, Name: "Lapsed", Customers: 2000, Revenue: 10, ChurnRisk: &churn}}
	var b bytes.Buffer
	if err := Render(&b, d); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{"1,234,568 EUR", "&#43;23.5% since the last run", "4,321", "12,345", "123,457 EUR", "42%",
		"win-back (1,200)", "1 Lapsed", "&#43;1,500 / −30", "revenue (EUR)", "CLV over the horizon (EUR)"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	head, brief, models := strings.Index(html, `id="headline"`), strings.Index(html, `id="brief"`), strings.Index(html, `id="models"`)
	segs := strings.Index(html, `id="segments"`)
	if !(head >= 0 && head < brief && brief < segs && segs < models) || !strings.Contains(html, "Appendix: model internals") {
		t.Errorf("sections out of order: headline %d, brief %d, segments %d, models %d", head, brief, segs, models)
	}
}
