package features

import (
	"slices"

	"github.com/strata-oss/strata/pipeline/extract"
)

// Vocabulary is what planning the feature table learned from the whole
// population rather than from one customer: which optional features exist
// (an attribute some customer has), and for every level mix and
// categorical attribute the levels that got a column, in column order, or
// their shares of customers (frequency encoding).
//
// A run given a Vocabulary (Options.Vocabulary) plans exactly its columns
// instead of learning them. That is how the shards of a sharded run, each
// holding a fraction of the customers, build tables with the same columns
// meaning the same things as the fit's, and as an unsharded run's: every
// value then depends only on its customer.
type Vocabulary struct {
	// Shares: for "orders.category" and "orders.channel", the levels with
	// a share column, in column order (then other); "" is the blank level.
	Shares map[string][]string `json:"shares,omitempty"`
	// Attributes are the categorical attributes some customer had, and
	// Other the other attribute families (birth_date, age, income,
	// interests, email_opt_in) some customer had.
	Attributes []string `json:"attributes,omitempty"`
	Other      []string `json:"other,omitempty"`
	// OneHot: per one-hot attribute, the levels with an indicator column
	// in column order (then other, unknown).
	OneHot map[string][]string `json:"one_hot,omitempty"`
	// Frequency: per frequency-encoded attribute, each level's share of
	// customers; a level not listed has share 0.
	Frequency map[string]map[string]float64 `json:"frequency,omitempty"`
	// Interests with a multi-hot column, in column order.
	Interests []string `json:"interests,omitempty"`
}

var otherAttrNames = [nOtherAttrs]string{seenBirth: "birth_date", seenAge: "age", seenIncome: "income",
	seenInterests: "interests", seenOptIn: "email_opt_in"}

func newVocabulary() *Vocabulary {
	return &Vocabulary{Shares: map[string][]string{}, OneHot: map[string][]string{}, Frequency: map[string]map[string]float64{}}
}

// seen returns the attributes the plan has: from the given vocabulary, or
// learned from the shards (and recorded in the one being built).
func (c *computer) seen() (attrs [extract.NumAttrs]bool, other [nOtherAttrs]bool) {
	if v := c.opt.Vocabulary; v != nil {
		for a, name := range extract.Attrs {
			attrs[a] = slices.Contains(v.Attributes, name)
		}
		for k, name := range otherAttrNames {
			other[k] = slices.Contains(v.Other, name)
		}
	} else {
		for _, s := range c.a.shards {
			for a := range attrs {
				attrs[a] = attrs[a] || s.seenAttr[a]
			}
			for k := range other {
				other[k] = other[k] || s.seenOther[k]
			}
		}
	}
	for a, name := range extract.Attrs {
		if attrs[a] {
			c.vocab.Attributes = append(c.vocab.Attributes, name)
		}
	}
	for k, name := range otherAttrNames {
		if other[k] {
			c.vocab.Other = append(c.vocab.Other, name)
		}
	}
	return attrs, other
}

// levelKey is a level's name in a Vocabulary: "" for the blank level,
// which planShares ranks last.
func levelKey(names []string, l int) string {
	if l >= len(names) {
		return ""
	}
	return names[l]
}

// positions maps the names of a vocabulary list to their index.
func positions(list []string) map[string]int {
	pos := make(map[string]int, len(list))
	for i, s := range list {
		if _, dup := pos[s]; !dup {
			pos[s] = i
		}
	}
	return pos
}
