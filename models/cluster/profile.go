package cluster

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FeatureLabel names a raw feature and how to call a cluster that is high
// or low on it, e.g. {Name: "monetary", High: "high spend", Low: "low spend"}.
// Empty High/Low fall back to "high <Name>" / "low <Name>".
type FeatureLabel struct {
	Name, High, Low string
}

// Profile describes one cluster in raw feature units.
type Profile struct {
	ID    int
	Size  int
	Share float64 // Size / rows
	// Means are the raw feature means of the cluster; Z[t] is
	// (Means[t] - overall mean) / overall std (population), 0 for a constant
	// feature.
	Means, Z []float64
	Name     string
}

// Naming rule constants. A feature is "distinctive" for a cluster when its
// mean is at least nameMinZ overall sds from the overall mean; a name uses
// the nameTerms most distinctive such features.
const (
	nameMinZ  = 0.25
	nameTerms = 3
	// nameNeutral names a cluster with no distinctive feature.
	nameNeutral = "Typical"
)

// Profiles summarises the k clusters of raw (unscaled) data X under labels.
// ids gives each cluster's stable id (nil: 0..k-1). feats labels X's columns.
//
// Names: the features ranked by |Z| (ties to the lower column) contribute
// their High or Low label while |Z| ≥ 0.25, at most 3, joined by " · " and
// capitalised ("High spend · frequent · recent"). Names are made unique
// deterministically: while several clusters share a name, each of them
// appends its next-ranked feature (any |Z|); a cluster that has run out of
// features appends its id.
func Profiles(X Matrix, labels []int32, k int, ids []int, feats []FeatureLabel) ([]Profile, error) {
	if err := X.validate("data"); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	if err := checkLabels(labels, X.N, k); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	if len(feats) != X.D {
		return nil, fmt.Errorf("profiles: %d feature labels for %d features", len(feats), X.D)
	}
	if ids == nil {
		ids = make([]int, k)
		for j := range ids {
			ids[j] = j
		}
	}
	if len(ids) != k {
		return nil, fmt.Errorf("profiles: %d ids for k=%d", len(ids), k)
	}
	seen := map[int]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, fmt.Errorf("profiles: duplicate id %d", id)
		}
		seen[id] = true
	}
	d := X.D
	means, counts, err := clusterMeans(context.Background(), X, labels, k, 1)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	all := make([]float64, d)
	sd := make([]float64, d)
	for j := 0; j < k; j++ {
		for t := 0; t < d; t++ {
			all[t] += means[j*d+t] * float64(counts[j])
		}
	}
	for t := range all {
		all[t] /= float64(X.N)
	}
	for i := 0; i < X.N; i++ {
		for t, v := range X.Row(i) {
			e := v - all[t]
			sd[t] += e * e
		}
	}
	for t := range sd {
		sd[t] = math.Sqrt(sd[t] / float64(X.N))
	}
	out := make([]Profile, k)
	for j := range out {
		p := Profile{ID: ids[j], Size: int(counts[j]), Share: float64(counts[j]) / float64(X.N),
			Means: means[j*d : j*d+d : j*d+d], Z: make([]float64, d)}
		for t := range p.Z {
			if sd[t] > 0 {
				p.Z[t] = (p.Means[t] - all[t]) / sd[t]
			}
		}
		out[j] = p
	}
	nameProfiles(out, feats)
	return out, nil
}

// nameProfiles sets Name on every profile following the rule in Profiles.
func nameProfiles(ps []Profile, feats []FeatureLabel) {
	rank := make([][]int, len(ps))
	used := make([]int, len(ps)) // features of rank[j] used in the name
	terms := make([][]string, len(ps))
	term := func(j, t int) string {
		f := feats[t]
		if ps[j].Z[t] >= 0 {
			return cmpOr(f.High, "high "+f.Name)
		}
		return cmpOr(f.Low, "low "+f.Name)
	}
	for j := range ps {
		z := ps[j].Z
		r := byAbsZ(z)
		rank[j] = r
		for used[j] < len(r) && used[j] < nameTerms && math.Abs(z[r[used[j]]]) >= nameMinZ {
			terms[j] = append(terms[j], term(j, r[used[j]]))
			used[j]++
		}
	}
	render := func(j int) string {
		if len(terms[j]) == 0 {
			return nameNeutral
		}
		return capitalise(strings.Join(terms[j], " · "))
	}
	for j := range ps {
		ps[j].Name = render(j)
	}
	for {
		count := map[string]int{}
		for j := range ps {
			count[ps[j].Name]++
		}
		clash := false
		for q := range ps {
			if count[ps[q].Name] < 2 {
				continue
			}
			clash = true
			if used[q] < len(rank[q]) {
				terms[q] = append(terms[q], term(q, rank[q][used[q]]))
			} else {
				// Ids are unique, so this ends q's clashes.
				terms[q] = append(terms[q], fmt.Sprintf("#%d", ps[q].ID))
			}
			used[q]++
		}
		if !clash {
			return
		}
		for j := range ps {
			ps[j].Name = render(j)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// byAbsZ is the features' indexes, the largest |z| first; ties keep the
// features' order.
func byAbsZ(z []float64) []int {
	r := make([]int, len(z))
	for t := range r {
		r[t] = t
	}
	slices.SortStableFunc(r, func(a, b int) int {
		za, zb := math.Abs(z[a]), math.Abs(z[b])
		switch {
		case za > zb:
			return -1
		case za < zb:
			return 1
		}
		return 0 // equal, or a NaN: keep the order
	})
	return r
}
