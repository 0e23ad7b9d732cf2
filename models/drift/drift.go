// Package drift measures how far a run's customers moved from a baseline
// (the run before): the population stability index of each numeric
// feature, the change of each segment's share, and the breaches of
// thresholds on both. A broken upstream export looks like a jump in
// either, so a run can warn or stop on it.
//
// # Population stability index
//
// The baseline's values (NaN left out) are cut at its deciles: with b the
// m sorted values, q_k = b[⌈k·m/10⌉ − 1] for k = 1..9, repeated cut
// points merged (a feature with many equal values has fewer bins). A
// value v falls in the first bin with v ≤ q_k, or the last, v > q_9. NaN
// values form one more bin, so a feature going missing is drift too.
// With e_i and a_i the shares of the baseline's and the current sample's
// values in bin i (each sample's shares over all its values, NaN
// included, summing to 1):
//
//	PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)
//
// with a share of 0 replaced by ε = 10⁻⁴ in both factors. PSI is 0 for
// identical shares and grows with every bin that moves. ε is far below a
// decile's share of 0.1, so it does not mask a real move, and finite: a
// decile that empties completely contributes (0.1 − ε)·ln(0.1/ε) ≈ 0.69,
// a breach at any usual threshold, rather than infinity. The customary
// reading (Siddiqi 2006, Credit Risk Scorecards; Yurdakul 2018,
// "Statistical properties of population stability index") is below 0.1
// stable, 0.1 to 0.25 a moderate shift, above 0.25 a significant one.
//
// # Segment share
//
// A segment's share is its customers over all customers of the run; its
// change is current share − baseline share (in share units: 0.05 is five
// percentage points), with a segment missing from a run at share 0.
package drift

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Epsilon replaces an empty bin's share in the PSI (package doc).
const Epsilon = 1e-4

// PSI is the population stability index of current against baseline,
// binned at the baseline's deciles.
func PSI(baseline, current []float64) (float64, error) {
	if len(baseline) == 0 || len(current) == 0 {
		return 0, errors.New("psi: an empty sample")
	}
	b := NewBins(baseline)
	return PSICounts(b.Counts, b.CountsOf(current))
}

// Bins are a baseline's decile cut points and its counts in them: what a
// PSI needs of the baseline, small enough to travel in a fitted model, so
// that a run split into parts can count each part's values (CountsOf, Add)
// and take the PSI of the sums, equal to the PSI of the whole sample.
type Bins struct {
	// Cuts are the distinct deciles q_1..q_9 (package doc), ascending.
	Cuts []float64 `json:"cuts"`
	// Counts are the baseline's values in each bin: len(Cuts)+1 value
	// bins, then the NaN bin.
	Counts []int64 `json:"counts"`
}

// NewBins cuts baseline at its deciles and counts it.
func NewBins(baseline []float64) Bins {
	b := Bins{Cuts: deciles(baseline)}
	b.Counts = b.CountsOf(baseline)
	return b
}

// Bin is the index of v's bin.
func (b Bins) Bin(v float64) int {
	if math.IsNaN(v) {
		return len(b.Cuts) + 1
	}
	return sort.SearchFloat64s(b.Cuts, v)
}

// CountsOf counts x in b's bins.
func (b Bins) CountsOf(x []float64) []int64 {
	c := make([]int64, len(b.Cuts)+2)
	for _, v := range x {
		c[b.Bin(v)]++
	}
	return c
}

// PSICounts is the PSI of the current counts against the baseline's, bin
// by bin (both as Bins.Counts: the NaN bin last).
func PSICounts(baseline, current []int64) (float64, error) {
	if len(baseline) != len(current) {
		return 0, fmt.Errorf("psi: %d baseline bins, %d current ones", len(baseline), len(current))
	}
	e, err := sharesOf(baseline)
	if err != nil {
		return 0, err
	}
	a, err := sharesOf(current)
	if err != nil {
		return 0, err
	}
	var psi float64
	for i := range e {
		ei, ai := max(e[i], Epsilon), max(a[i], Epsilon)
		psi += (ai - ei) * math.Log(ai/ei)
	}
	return psi, nil
}

// sharesOf turns counts into shares of their total.
func sharesOf(counts []int64) ([]float64, error) {
	var n int64
	for _, c := range counts {
		if c < 0 {
			return nil, fmt.Errorf("psi: a negative count %d", c)
		}
		n += c
	}
	if n == 0 {
		return nil, errors.New("psi: an empty sample")
	}
	s := make([]float64, len(counts))
	for i, c := range counts {
		s[i] = float64(c) / float64(n)
	}
	return s, nil
}

// deciles returns the distinct cut points q_1..q_9 of the non-NaN values.
func deciles(x []float64) []float64 {
	var s []float64
	for _, v := range x {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	m := len(s)
	cuts := make([]float64, 0, 9)
	for k := 1; k <= 9; k++ {
		q := s[(k*m+9)/10-1] // ⌈k·m/10⌉ − 1
		if len(cuts) == 0 || q != cuts[len(cuts)-1] {
			cuts = append(cuts, q)
		}
	}
	return cuts
}

// FeaturePSI is one feature's PSI.
type FeaturePSI struct {
	Feature string
	PSI     float64
}

// Features returns the PSI of every feature present in both samples, by
// feature name; a feature in only one of them is an error (the runs
// compared did not compute the same features).
func Features(ctx context.Context, baseline, current map[string][]float64) ([]FeaturePSI, error) {
	names := make([]string, 0, len(current))
	for f := range current {
		if _, ok := baseline[f]; !ok {
			return nil, fmt.Errorf("psi: feature %s is not in the baseline", f)
		}
		names = append(names, f)
	}
	if len(baseline) != len(current) {
		return nil, fmt.Errorf("psi: the baseline has %d features, the current run %d", len(baseline), len(current))
	}
	slices.Sort(names)
	out := make([]FeaturePSI, 0, len(names))
	for _, f := range names {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("psi of %s: %w", f, err)
		}
		p, err := PSI(baseline[f], current[f])
		if err != nil {
			return nil, fmt.Errorf("psi of %s: %w", f, err)
		}
		out = append(out, FeaturePSI{f, p})
	}
	return out, nil
}

// ShareChange is one segment's share in both runs.
type ShareChange struct {
	Segment           string
	Baseline, Current float64 // shares of all customers
	Change            float64 // Current − Baseline
}

// SegmentShares compares the segments' shares given their customer
// counts in each run, by segment name.
func SegmentShares(baseline, current map[string]int) ([]ShareChange, error) {
	total := func(m map[string]int) (int, error) {
		var n int
		for s, c := range m {
			if c < 0 {
				return 0, fmt.Errorf("segment shares: %s has %d customers", s, c)
			}
			n += c
		}
		if n == 0 {
			return 0, errors.New("segment shares: a run without customers")
		}
		return n, nil
	}
	nb, err := total(baseline)
	if err != nil {
		return nil, err
	}
	nc, err := total(current)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []ShareChange
	for _, m := range []map[string]int{baseline, current} {
		for s := range m {
			if seen[s] {
				continue
			}
			seen[s] = true
			b, c := float64(baseline[s])/float64(nb), float64(current[s])/float64(nc)
			out = append(out, ShareChange{s, b, c, c - b})
		}
	}
	slices.SortFunc(out, func(x, y ShareChange) int { return cmp.Compare(x.Segment, y.Segment) })
	return out, nil
}

// The kinds of breach.
const (
	KindPSI          = "psi"
	KindSegmentShift = "segment_shift"
)

// Breach is a measure past its threshold.
type Breach struct {
	Kind      string  // KindPSI or KindSegmentShift
	Subject   string  // the feature or the segment
	Value     float64 // the PSI, or the share change (signed)
	Threshold float64
}

func (b Breach) String() string {
	if b.Kind == KindPSI {
		return fmt.Sprintf("feature %s: PSI %.3f above %.3g", b.Subject, b.Value, b.Threshold)
	}
	return fmt.Sprintf("segment %s: share changed by %+.1f points, more than %.3g", b.Subject, 100*b.Value, 100*b.Threshold)
}

// Thresholds are the limits; 0 leaves a measure unchecked.
type Thresholds struct {
	MaxPSI          float64 // drift.max_psi
	MaxSegmentShift float64 // drift.max_segment_shift, in share units
}

// Check returns the breaches: a PSI above MaxPSI, a share change whose
// size is above MaxSegmentShift; features first, each in its input order.
func Check(psi []FeaturePSI, shares []ShareChange, th Thresholds) []Breach {
	var out []Breach
	if th.MaxPSI > 0 {
		for _, f := range psi {
			if f.PSI > th.MaxPSI {
				out = append(out, Breach{KindPSI, f.Feature, f.PSI, th.MaxPSI})
			}
		}
	}
	if th.MaxSegmentShift > 0 {
		for _, s := range shares {
			if math.Abs(s.Change) > th.MaxSegmentShift {
				out = append(out, Breach{KindSegmentShift, s.Segment, s.Change, th.MaxSegmentShift})
			}
		}
	}
	return out
}
