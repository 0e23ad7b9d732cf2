// Package report renders a run's report: one self-contained HTML page
// (inline CSS and SVG, no scripts, fonts or network requests) that a
// marketer can open from the object store or an email attachment.
//
// The package is pure presentation: the pipeline aggregates a run into
// Data, and Render turns Data into the page. Every chart is SVG built here,
// with a title, labelled axes and units, so the page reads the same in any
// browser and prints well.
package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// Data is everything the report shows.
type Data struct {
	Title    string
	AsOf     string
	Attempt  string
	Subtitle string // e.g. "88,884 buyers of 93,785 customers; 844,311 orders"
	// Segments are the RFM segments in display order.
	Segments []Segment
	// RF[r-1][f-1] counts the customers with R score r and F score f.
	RF [5][5]int64
	// RFNames[r-1][f-1] names the segment of each cell.
	RFNames [5][5]string
	// PAliveMatrix is the mean P(alive) by frequency (columns) and
	// recency (rows) bucket; nil without CLV.
	PAliveMatrix *Matrix
	// Profiles: Z[c][f] is cluster c's mean z-score on feature f.
	Profiles *Matrix
	// Migration counts customers by previous cluster (rows) and cluster
	// (columns); nil on a first run.
	Migration *Matrix
	Quality   []KV
	// Models are parameter and diagnostic tables, one per model: the
	// closing appendix.
	Models []Table

	// Currency is the ISO code of every amount ("" when the orders do not
	// say): amounts print as "19,139,037 EUR".
	Currency string
	// Headline are the first screen's figures.
	Headline []Figure
	// Brief is one row per RFM segment, in display order.
	Brief []SegmentBrief
	// ActionRules are the suggested actions' rule table, for the note under
	// the brief.
	ActionRules []KV
	// Clusters are the clusters in business terms.
	Clusters []ClusterBrief
}

// Segment is one bar of the segment charts.
type Segment struct {
	Name      string
	Customers int64
	Revenue   float64
	// TopCategories and BestChannel are the segment_summary's mix: what
	// the segment buys most and where; empty when unknown.
	TopCategories, BestChannel string
	// CLV and PAlive are the 10th, 25th, 50th, 75th and 90th percentiles
	// over the segment's scored customers; nil without CLV.
	CLV, PAlive *[5]float64
}

// Matrix is a labelled grid of values for a heatmap. Cells holding NaN are
// drawn empty; Counts, when set, is printed under each value.
type Matrix struct {
	Title, RowTitle, ColTitle string
	Rows, Cols                []string
	Values                    [][]float64
	Counts                    [][]int64
	// Diverging colours values around zero (z-scores); otherwise the
	// scale runs from the smallest to the largest value.
	Diverging bool
	Format    string // printf verb for values, e.g. "%.2f"
}

// KV is a labelled value.
type KV struct{ Key, Value string }

// Table is a titled key-value table.
type Table struct {
	Title string
	Rows  []KV
	Note  string
}

// Render writes the page.
func Render(w io.Writer, d Data) error {
	var b bytes.Buffer
	if err := page.Execute(&b, view{Data: d}); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

type view struct{ Data }

func (v view) SegmentBars() template.HTML { return segmentBars(v.Segments, v.Currency) }
func (v view) Money(x float64) string     { return money(x, v.Currency) }
func (v view) MoneyP(x *float64) string {
	if x == nil {
		return "—"
	}
	return money(*x, v.Currency)
}
func (v view) HasMoves() bool {
	for _, b := range v.Brief {
		if b.MovedIn != nil {
			return true
		}
	}
	return false
}
func (v view) Moves(b SegmentBrief) string {
	if b.MovedIn == nil || b.MovedOut == nil {
		return "—"
	}
	return "+" + grouped(float64(*b.MovedIn), 0) + " / −" + grouped(float64(*b.MovedOut), 0)
}
func (v view) Count(x float64) string { return count(x) }
func (v view) Int(x int64) string     { return grouped(float64(x), 0) }
func (v view) Change(f Figure) string { return change(f.Value, f.Previous) }
func (v view) FigureValue(f Figure) string {
	if f.Money {
		return money(f.Value, v.Currency)
	}
	return count(f.Value)
}
func (v view) PercentP(x *float64) string {
	if x == nil {
		return "—"
	}
	return percent(*x)
}
func (v view) RFHeatmap() template.HTML { return rfHeatmap(v.RF, v.RFNames) }
func (v view) CLVRanges() template.HTML {
	return rangeChart(v.Segments, "CLV by RFM segment", "CLV over the horizon ("+unitLabel(v.Currency)+")", func(s Segment) *[5]float64 { return s.CLV }, "%.0f")
}
func (v view) PAliveRanges() template.HTML {
	return rangeChart(v.Segments, "P(alive) by RFM segment", "probability the customer is still active", func(s Segment) *[5]float64 { return s.PAlive }, "%.2f")
}
func (v view) HasCLV() bool {
	for _, s := range v.Segments {
		if s.CLV != nil {
			return true
		}
	}
	return false
}
func (v view) Heat(m *Matrix) template.HTML { return heatmap(m) }

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} — {{.AsOf}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2430;margin:0;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #dde1e7;padding-bottom:4px}
.sub{color:#5b6472;margin:0 0 16px}
section{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:16px;margin:16px 0}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #eef0f3;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
svg{max-width:100%;height:auto;display:block;margin:8px 0}
svg text{font-family:inherit}
.note{color:#5b6472;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px}
.fig{border:1px solid #e3e6eb;border-radius:6px;padding:10px 12px}.fl{color:#5b6472;font-size:12px}
.fv{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}.fc{color:#5b6472;font-size:12px}
</style></head><body><main>
<h1>{{.Title}}</h1>
<p class="sub">As of {{.AsOf}} · {{.Subtitle}} · attempt {{.Attempt}}</p>

{{if .Headline}}<section id="headline"><h2>At a glance</h2><div class="figs">
{{range .Headline}}<div class="fig"><div class="fl">{{.Label}}</div><div class="fv">{{$.FigureValue .}}</div>{{with $.Change .}}<div class="fc">{{.}}</div>{{end}}</div>
{{end}}</div></section>{{end}}

{{if .Brief}}<section id="brief"><h2>What to do, by segment</h2>
<table><tr><th>segment</th><th class="n">customers</th><th class="n">revenue</th><th class="n">CLV</th><th class="n">churn risk</th>{{if .HasMoves}}<th class="n">in / out since last run</th>{{end}}<th>suggested action</th><th>audiences (customers in the segment)</th></tr>
{{range .Brief}}<tr><td>{{.Name}}</td><td class="n">{{$.Int .Customers}}</td><td class="n">{{$.Money .Revenue}}</td><td class="n">{{$.MoneyP .CLV}}</td><td class="n">{{$.PercentP .ChurnRisk}}</td>{{if $.HasMoves}}<td class="n">{{$.Moves .}}</td>{{end}}<td>{{or .Action "—"}}</td><td>{{range $i, $a := .Audiences}}{{if $i}}, {{end}}{{$a.Name}} ({{$.Int $a.Customers}}){{else}}—{{end}}</td></tr>
{{end}}</table>
<p class="note">CLV is the segment's expected discounted value over the horizon; churn risk the mean probability that its customers have already left (1 − P(alive)). Suggested actions follow a fixed rule table by segment{{range $i, $r := .ActionRules}}{{if $i}};{{else}}:{{end}} {{$r.Key}} — {{$r.Value}}{{end}}.</p></section>{{end}}

<section id="segments"><h2>Segments</h2>
{{.SegmentBars}}
<table><tr><th>segment</th><th class="n">customers</th><th class="n">revenue</th><th>top categories</th><th>best channel</th></tr>
{{range .Segments}}<tr><td>{{.Name}}</td><td class="n">{{$.Int .Customers}}</td><td class="n">{{$.Money .Revenue}}</td><td>{{or .TopCategories "—"}}</td><td>{{or .BestChannel "—"}}</td></tr>
{{end}}</table></section>

<section id="rfm-grid"><h2>RFM grid</h2>
{{.RFHeatmap}}
<p class="note">Customers per recency (R) and frequency (F) score; 5 is best. Each cell is labelled with its named segment.</p></section>

{{if .HasCLV}}<section id="clv"><h2>Lifetime value and P(alive)</h2>
<div class="grid"><div>{{.CLVRanges}}</div><div>{{.PAliveRanges}}</div></div>
<p class="note">Bars span the 10th–90th percentile of the segment's customers, the thick part the 25th–75th; the tick is the median.</p>
{{with .PAliveMatrix}}{{$.Heat .}}{{end}}
</section>{{end}}

{{with .Profiles}}<section id="clusters"><h2>Cluster profiles</h2>
{{if $.Clusters}}<table><tr><th>cluster</th><th class="n">customers</th><th class="n">revenue</th><th class="n">mean CLV</th><th class="n">churn risk</th></tr>
{{range $.Clusters}}<tr><td>{{.ID}} {{.Name}}</td><td class="n">{{$.Int .Customers}}</td><td class="n">{{$.Money .Revenue}}</td><td class="n">{{$.MoneyP .AvgCLV}}</td><td class="n">{{$.PercentP .ChurnRisk}}</td></tr>
{{end}}</table>
<p class="note">Names say how a cluster differs from all buyers (its most distinctive features), and never call a cluster active or recent when its customers are less likely active than average, nor lapsed when more.</p>{{end}}
{{$.Heat .}}
<p class="note">Mean z-score of each feature in each cluster: how many standard deviations the cluster sits above (red) or below (blue) all clustered customers.</p></section>{{end}}

{{with .Migration}}<section id="migration"><h2>Migration since the previous run</h2>
{{$.Heat .}}</section>{{end}}

<section id="quality"><h2>Data quality</h2>
<table>{{range .Quality}}<tr><td>{{.Key}}</td><td class="n">{{.Value}}</td></tr>
{{end}}</table></section>

<section id="models"><h2>Appendix: model internals</h2><div class="grid">
{{range .Models}}<div><h3>{{.Title}}</h3><table>{{range .Rows}}<tr><td>{{.Key}}</td><td class="n">{{.Value}}</td></tr>
{{end}}</table>{{if .Note}}<p class="note">{{.Note}}</p>{{end}}</div>
{{end}}</div></section>
</main></body></html>
`))

// ---- SVG

func esc(s string) string { return template.HTMLEscapeString(s) }

type svg struct{ b strings.Builder }

func (s *svg) open(w, h int, title string) {
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, w, h, w, h, esc(title))
	fmt.Fprintf(&s.b, `<title>%s</title><text x="%d" y="18" font-size="15" font-weight="600" fill="#1d2430">%s</text>`, esc(title), 8, esc(title))
}

func (s *svg) text(x, y float64, anchor, size, fill, t string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%s" fill="%s">%s</text>`, x, y, anchor, size, fill, esc(t))
}

func (s *svg) rect(x, y, w, h float64, fill string) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, y, w, h, fill)
}

func (s *svg) line(x1, y1, x2, y2 float64, stroke string, width float64) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"/>`, x1, y1, x2, y2, stroke, width)
}

func (s *svg) html() template.HTML {
	s.b.WriteString(`</svg>`)
	return template.HTML(s.b.String()) // built only from escaped text and numbers
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten, for axis ends.
func niceMax(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func segmentBars(segs []Segment, currency string) template.HTML {
	const left, right, row, gap = 170.0, 90.0, 22.0, 40.0
	w := 900
	h := int(60 + row*float64(len(segs)) + 40)
	var s svg
	s.open(w, h, "Customers and revenue by RFM segment")
	var maxC, maxR float64
	for _, g := range segs {
		maxC, maxR = math.Max(maxC, float64(g.Customers)), math.Max(maxR, g.Revenue)
	}
	maxC, maxR = niceMax(maxC), niceMax(maxR)
	half := (float64(w) - left - right) / 2
	s.text(left+(half-gap)/2, 44, "middle", "12", "#5b6472", "customers")
	s.text(left+half+half/2+gap, 44, "middle", "12", "#5b6472", "revenue ("+unitLabel(currency)+")")
	for i, g := range segs {
		y := 54 + row*float64(i)
		s.text(left-8, y+15, "end", "12", "#1d2430", g.Name)
		s.rect(left, y+3, (half-gap)*float64(g.Customers)/maxC, row-6, "#3b6fb6")
		s.text(left+(half-gap)*float64(g.Customers)/maxC+4, y+15, "start", "11", "#1d2430", grouped(float64(g.Customers), 0))
		x0 := left + half + gap
		s.rect(x0, y+3, (half-gap)*g.Revenue/maxR, row-6, "#2f9e6e")
		s.text(x0+(half-gap)*g.Revenue/maxR+4, y+15, "start", "11", "#1d2430", grouped(g.Revenue, 0))
	}
	yAxis := 54 + row*float64(len(segs)) + 4
	s.line(left, yAxis, left+half-gap, yAxis, "#9aa3af", 1)
	s.text(left, yAxis+16, "start", "11", "#5b6472", "0")
	// The customers axis ends where the revenue axis starts: its last
	// label is right-aligned and the revenue's first left-aligned, so the
	// two never overlap.
	s.text(left+half-gap, yAxis+16, "end", "11", "#5b6472", grouped(maxC, 0))
	s.line(left+half+gap, yAxis, left+2*half, yAxis, "#9aa3af", 1)
	s.text(left+half+gap, yAxis+16, "start", "11", "#5b6472", "0")
	s.text(left+2*half, yAxis+16, "end", "11", "#5b6472", grouped(maxR, 0))
	return s.html()
}

// shade returns a colour for t in [0, 1] on a white-to-blue scale, or on a
// blue-white-red scale when diverging (t in [-1, 1]).
func shade(t float64, diverging bool) string {
	if math.IsNaN(t) {
		return "#f1f3f5"
	}
	mix := func(a, b [3]float64, u float64) string {
		return fmt.Sprintf("rgb(%d,%d,%d)", int(a[0]+(b[0]-a[0])*u), int(a[1]+(b[1]-a[1])*u), int(a[2]+(b[2]-a[2])*u))
	}
	white := [3]float64{255, 255, 255}
	blue := [3]float64{49, 99, 170}
	red := [3]float64{196, 62, 52}
	if diverging {
		t = math.Max(-1, math.Min(1, t))
		if t < 0 {
			return mix(white, blue, -t)
		}
		return mix(white, red, t)
	}
	return mix(white, blue, math.Max(0, math.Min(1, t)))
}

func inkFor(t float64) string {
	if math.Abs(t) > 0.6 {
		return "#ffffff"
	}
	return "#1d2430"
}

func rfHeatmap(rf [5][5]int64, names [5][5]string) template.HTML {
	m := &Matrix{
		Title: "Customers by R and F score", RowTitle: "R (recency score)", ColTitle: "F (frequency score)",
		Format: "%.0f",
	}
	for r := 5; r >= 1; r-- {
		m.Rows = append(m.Rows, fmt.Sprint(r))
		row := make([]float64, 5)
		for f := range 5 {
			row[f] = float64(rf[r-1][f])
		}
		m.Values = append(m.Values, row)
	}
	for f := 1; f <= 5; f++ {
		m.Cols = append(m.Cols, fmt.Sprint(f))
	}
	labels := make([][]string, 5)
	for i, r := 0, 5; r >= 1; i, r = i+1, r-1 {
		labels[i] = names[r-1][:]
	}
	return heatmapLabelled(m, labels)
}

func heatmap(m *Matrix) template.HTML { return heatmapLabelled(m, nil) }

// heatmapLabelled draws m; labels, if set, adds a small caption per cell.
func heatmapLabelled(m *Matrix, labels [][]string) template.HTML {
	if m == nil || len(m.Rows) == 0 || len(m.Cols) == 0 {
		return ""
	}
	left := 60.0
	for _, r := range m.Rows {
		left = math.Max(left, 16+7*float64(len(r)))
	}
	cw := math.Max(56, math.Min(110, 760/float64(len(m.Cols))))
	ch := 38.0
	if labels != nil {
		ch = 48
	}
	w := int(left + cw*float64(len(m.Cols)) + 20)
	h := int(70 + ch*float64(len(m.Rows)) + 30)
	var s svg
	s.open(w, h, m.Title)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range m.Values {
		for _, v := range row {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	scale := func(v float64) float64 {
		if m.Diverging {
			a := math.Max(math.Abs(lo), math.Abs(hi))
			if a == 0 {
				return 0
			}
			return v / a
		}
		if hi == lo {
			return 0.5
		}
		return (v - lo) / (hi - lo)
	}
	format := m.Format
	if format == "" {
		format = "%.2f"
	}
	s.text(left+cw*float64(len(m.Cols))/2, 40, "middle", "12", "#5b6472", m.ColTitle)
	for j, c := range m.Cols {
		s.text(left+cw*(float64(j)+0.5), 60, "middle", "11", "#1d2430", c)
	}
	s.text(12, 70+ch*float64(len(m.Rows))/2, "start", "12", "#5b6472", "")
	for i, r := range m.Rows {
		y := 66 + ch*float64(i)
		s.text(left-6, y+ch/2+4, "end", "11", "#1d2430", r)
		for j := range m.Cols {
			v := m.Values[i][j]
			t := scale(v)
			x := left + cw*float64(j)
			s.rect(x+1, y+1, cw-2, ch-2, shade(t, m.Diverging))
			if math.IsNaN(v) {
				continue
			}
			ink := inkFor(t)
			s.text(x+cw/2, y+ch/2+(map[bool]float64{true: -2, false: 4})[labels != nil || m.Counts != nil], "middle", "12", ink, fmt.Sprintf(format, v))
			if labels != nil {
				s.text(x+cw/2, y+ch/2+14, "middle", "9", ink, labels[i][j])
			} else if m.Counts != nil {
				s.text(x+cw/2, y+ch/2+12, "middle", "9", ink, fmt.Sprintf("n=%d", m.Counts[i][j]))
			}
		}
	}
	s.text(8, float64(h)-8, "start", "11", "#5b6472", "rows: "+m.RowTitle)
	return s.html()
}

// rangeChart draws one horizontal percentile bar per segment.
func rangeChart(segs []Segment, title, axis string, q func(Segment) *[5]float64, format string) template.HTML {
	const left, row = 150.0, 20.0
	w := 520
	var shown []Segment
	maxV := 0.0
	minV := 0.0
	for _, g := range segs {
		if p := q(g); p != nil {
			shown = append(shown, g)
			maxV = math.Max(maxV, p[4])
			minV = math.Min(minV, p[0])
		}
	}
	if len(shown) == 0 {
		return ""
	}
	maxV = niceMax(maxV)
	h := int(40 + row*float64(len(shown)) + 44)
	var s svg
	s.open(w, h, title)
	width := float64(w) - left - 20
	x := func(v float64) float64 { return left + width*(v-minV)/(maxV-minV) }
	for i, g := range shown {
		p := q(g)
		y := 32 + row*float64(i)
		s.text(left-8, y+14, "end", "11", "#1d2430", g.Name)
		s.line(x(p[0]), y+10, x(p[4]), y+10, "#9bb7de", 2)
		s.rect(x(p[1]), y+4, math.Max(1, x(p[3])-x(p[1])), 12, "#3b6fb6")
		s.line(x(p[2]), y+2, x(p[2]), y+18, "#1d2430", 2)
	}
	yAxis := 32 + row*float64(len(shown)) + 4
	s.line(left, yAxis, left+width, yAxis, "#9aa3af", 1)
	for _, v := range []float64{minV, (minV + maxV) / 2, maxV} {
		s.text(x(v), yAxis+14, "middle", "10", "#5b6472", fmt.Sprintf(format, v))
	}
	s.text(left+width/2, yAxis+32, "middle", "11", "#5b6472", axis)
	return s.html()
}
