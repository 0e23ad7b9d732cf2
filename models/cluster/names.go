package cluster

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
)

// FeatureKind tells the namer what a feature says about whether customers
// are still active, so that a name never contradicts it.
type FeatureKind int

const (
	// KindPlain is any other feature.
	KindPlain FeatureKind = iota
	// KindRecency grows with the time since the last purchase (e.g.
	// recency_days): high means lapsed.
	KindRecency
	// KindActivity grows with the chance the customer is active (e.g.
	// P(alive)): high means active.
	KindActivity
)

// NameFeature labels one feature for DescriptiveNames: how to call a
// cluster whose mean is above (High) or below (Low) the population's, and
// what kind of feature it is. Empty labels fall back to "high <Name>" /
// "low <Name>".
type NameFeature struct {
	Name, High, Low string
	Kind            FeatureKind
}

// NameOptions tunes DescriptiveNames; the zero value is the recommended
// setting.
type NameOptions struct {
	// MinZ is the smallest |z| of a distinguishing feature; 0 means 0.25,
	// as for Profiles.
	MinZ float64
	// Terms is the number of terms in a name; 0 means 2.
	Terms int
}

// Words that claim a cluster is active or lapsed. A term holding one of
// them is left out of a name whose cluster the recency and activity
// features place on the other side; the check is on words so that it
// also catches labels configured the wrong way round.
var (
	activeWords = []string{"recent", "recently", "active", "engaged", "current", "fresh"}
	lapsedWords = []string{"lapsed", "churned", "inactive", "dormant", "lost", "gone", "churning", "lapsing"}
)

// DescriptiveNames returns a name for each profile that says how the
// cluster differs from the population, e.g. "Frequent · high spend".
//
// The rule. Each profile's features are ranked by |z|, z being the
// standardised difference of the cluster's mean from the population's
// (Profile.Z: (mean_j - mean)/sd, population sd). Walking down the
// ranking, a feature contributes its High label if z > 0 and its Low label
// if z < 0 while |z| ≥ MinZ, until Terms terms are taken, skipping a term
//
//   - that would repeat a word already in the name (case-insensitive,
//     punctuation ignored: "high spend" and "high value" do not go
//     together; the later one gives way to the next feature; of a
//     generated "high <Name>" only the name counts), or
//   - that contradicts the cluster's activity: with s the sum of the z of
//     its KindRecency features minus the z of its KindActivity features,
//     a cluster with s > 0 (longer since the last purchase, less likely
//     active than average) gets no term with an active word ("recent",
//     "active", …) and one with s < 0 no term with a lapsed word
//     ("lapsed", "churned", …).
//
// A profile with no such term is "Typical". Terms are joined by " · " and
// the name capitalised. Names are then made unique — two names clash when
// they hold the same terms, in any order: while names clash,
// each clashing profile appends its next admissible feature below MinZ
// (the rules above still apply), and a profile with none left appends
// "#id". Profiles must have equal-length Z matching feats.
func DescriptiveNames(ps []Profile, feats []NameFeature, opt NameOptions) ([]string, error) {
	minZ, terms := opt.MinZ, opt.Terms
	if minZ == 0 {
		minZ = nameMinZ
	}
	if terms == 0 {
		terms = 2
	}
	if !(minZ > 0) || terms < 1 {
		return nil, fmt.Errorf("names: MinZ %v and Terms %d, want positive", opt.MinZ, opt.Terms)
	}
	for _, p := range ps {
		if len(p.Z) != len(feats) {
			return nil, fmt.Errorf("names: cluster %d has %d z-scores for %d features", p.ID, len(p.Z), len(feats))
		}
	}
	type state struct {
		rank  []int
		next  int // next position of rank to consider
		terms []string
		words map[string]bool
		side  float64
	}
	label := func(t int, z float64) string {
		f := feats[t]
		if z >= 0 {
			return cmpOr(f.High, "high "+f.Name)
		}
		return cmpOr(f.Low, "low "+f.Name)
	}
	// distinctWords are the words of a term that may not repeat in a
	// name: a configured label's words, but only the feature's name in a
	// generated "high <Name>" / "low <Name>", so that two generated terms
	// ("high frequency · high spend_90d") do not exclude each other for
	// sharing "high".
	distinctWords := func(t int, z float64, term string) []string {
		f := feats[t]
		if z >= 0 && f.High == "" || z < 0 && f.Low == "" {
			return words(f.Name)
		}
		return words(term)
	}
	st := make([]*state, len(ps))
	// admissible reports whether the term of feature t fits name j.
	admissible := func(j, t int) (string, bool) {
		s := st[j]
		z := ps[j].Z[t]
		if z == 0 || math.IsNaN(z) {
			return "", false
		}
		term := label(t, z)
		for _, x := range distinctWords(t, z, term) {
			if s.words[x] {
				return "", false
			}
		}
		for _, x := range words(term) {
			if s.side > 0 && slices.Contains(activeWords, x) || s.side < 0 && slices.Contains(lapsedWords, x) {
				return "", false
			}
		}
		return term, true
	}
	take := func(j, t int, term string) {
		st[j].terms = append(st[j].terms, term)
		for _, x := range distinctWords(t, ps[j].Z[t], term) {
			st[j].words[x] = true
		}
	}
	for j, p := range ps {
		s := &state{words: map[string]bool{}}
		st[j] = s
		for t, f := range feats {
			switch f.Kind {
			case KindRecency:
				s.side += p.Z[t]
			case KindActivity:
				s.side -= p.Z[t]
			}
		}
		s.rank = byAbsZ(p.Z[:len(feats)])
		for s.next < len(s.rank) && len(s.terms) < terms {
			t := s.rank[s.next]
			if math.Abs(p.Z[t]) < minZ {
				break
			}
			s.next++
			if term, ok := admissible(j, t); ok {
				take(j, t, term)
			}
		}
	}
	render := func(j int) string {
		if len(st[j].terms) == 0 {
			return nameNeutral
		}
		return capitalise(strings.Join(st[j].terms, " · "))
	}
	names := make([]string, len(ps))
	for j := range ps {
		names[j] = render(j)
	}
	for round := 0; ; round++ {
		if round > len(feats)+2 {
			return nil, fmt.Errorf("names: cannot make names unique (duplicate profile ids?)")
		}
		count := map[string]int{}
		for _, n := range names {
			count[nameKey(n)]++
		}
		clash := false
		for j := range ps {
			if count[nameKey(names[j])] < 2 {
				continue
			}
			clash = true
			s := st[j]
			added := false
			for s.next < len(s.rank) {
				t := s.rank[s.next]
				s.next++
				if term, ok := admissible(j, t); ok {
					take(j, t, term)
					added = true
					break
				}
			}
			if !added && s.next == len(s.rank) {
				// Ids are unique, so this ends j's clashes.
				if len(s.terms) == 0 {
					s.terms = append(s.terms, strings.ToLower(nameNeutral))
				}
				s.terms = append(s.terms, fmt.Sprintf("#%d", ps[j].ID))
				s.next++
			}
		}
		if !clash {
			return names, nil
		}
		for j := range ps {
			names[j] = render(j)
		}
	}
}

// nameKey identifies names made of the same terms in any order: "New ·
// recent" and "Recent · new" say the same thing and count as a clash,
// while "High frequency · low recency" and "High recency · low frequency",
// the same words, do not.
func nameKey(name string) string {
	t := strings.Split(strings.ToLower(name), " · ")
	slices.Sort(t)
	return strings.Join(t, " · ")
}

// words splits a label into lower-case words, dropping punctuation.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-'
	})
}
