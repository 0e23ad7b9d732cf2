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
