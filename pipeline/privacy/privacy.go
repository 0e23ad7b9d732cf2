// Package privacy holds the rules of what a Strata run may publish about
// people: which columns are personal, and how customer ids are
// pseudonymised. Suppression (erasure) lists are applied while reading, in
// package extract, so that a suppressed customer never reaches a model.
//
// Personal data, and what Strata publishes of it. The inputs may hold
// three attributes that identify a person together with little else: the
// birth date (or an exact age), the city and the postal code. Today they
// can reach published tables only through
//
//   - the features table (features.publish): age_years (exact age, from
//     birth_date or age), city_freq and postal_code_freq (the share of
//     customers with the same value: a rare place singles its people out),
//     or, with a one-hot encoding, the city_* and postal_code_* indicators;
//   - the quarantine table's detail text, which shows a rejected row's
//     values, birth_date, age, city and postal_code among them.
//
// segments, segment_summary, segment_migration, recommendations and the
// audiences (a subset of segments' columns) hold none of them. The rule:
// a published table carries none of these unless publish_personal names
// it (Policy). Bands (age_band_*, age_group_*) and aggregates (the
// summary's mean_<feature>) are not one-to-one with a person's value and
// are published as before.
package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/features"
)

// Attributes are the personal input columns (logical names).
func Attributes() []string { return []string{"birth_date", "age", "city", "postal_code"} }

// Names are the entries publish_personal accepts: a personal feature by
// name, or an attribute, which allows its raw values (quarantine details)
// and every feature derived from it one to one.
func Names() []string {
	return []string{"age", "age_years", "birth_date", "city", "city_freq", "postal_code", "postal_code_freq"}
}

// freqOf maps the frequency-encoded personal features to their attribute.
var freqOf = map[string]string{"city_freq": "city", "postal_code_freq": "postal_code"}

// FeatureKeys returns the publish_personal entries any of which allows
// feature f to be published, or nil if f is not personal.
func FeatureKeys(f features.Feature) []string {
	switch {
	case f.Personal != "":
		// The user's own attributes and measures: personal unless
		// publish_personal names them.
		return []string{f.Personal}
	case f.Name == "age_years":
		keys := []string{"age_years"}
		if attr, ok := strings.CutPrefix(f.Source, "customers."); ok {
			keys = append(keys, attr) // birth_date or age
		}
		return keys
	case freqOf[f.Name] != "":
		return []string{f.Name, freqOf[f.Name]}
	case f.Source == "customers.city" || f.Source == "customers.postal_code":
		// The one-hot indicators (city_<level>, city_other,
		// city_unknown): together they are the value.
		return []string{strings.TrimPrefix(f.Source, "customers.")}
	}
	return nil
}

// ColumnKeys is FeatureKeys for a column known only by name (an
// audience's columns and filter, checked before any run): the personal
// features and attributes by name, and any city_* or postal_code_* column.
// Where the name cannot tell (age_years may come from birth_date or age)
// only the feature's own name allows it.
func ColumnKeys(name string) []string {
	switch {
	case name == "age_years":
		return []string{"age_years"}
	case freqOf[name] != "":
		return []string{name, freqOf[name]}
	case slices.Contains(Attributes(), name):
		return []string{name}
	case strings.HasPrefix(name, "city_"):
		return []string{"city"}
	case strings.HasPrefix(name, "postal_code_"):
		return []string{"postal_code"}
	}
	return nil
}

// Policy says which personal columns may be published.
type Policy struct {
	allowed map[string]bool
}

// NewPolicy allows the publish_personal entries in publish.
func NewPolicy(publish []string) Policy {
	p := Policy{allowed: map[string]bool{}}
	for _, n := range publish {
		p.allowed[n] = true
	}
	return p
}

// allows reports whether one of keys is allowed; no keys means the column
// is not personal.
func (p Policy) allows(keys []string) bool {
	if keys == nil {
		return true
	}
	for _, k := range keys {
		if p.allowed[k] {
			return true
		}
	}
	return false
}

// Feature reports whether feature f may be published.
func (p Policy) Feature(f features.Feature) bool { return p.allows(FeatureKeys(f)) }

// Column reports whether a column named name may be published.
func (p Policy) Column(name string) bool { return p.allows(ColumnKeys(name)) }

// Withheld returns the personal input attributes whose values quarantine
// details must not show.
func (p Policy) Withheld() map[string]bool {
	w := map[string]bool{}
	for _, a := range Attributes() {
		if !p.allowed[a] {
			w[a] = true
		}
	}
	return w
}

// MinKeyBytes is the shortest pseudonym key accepted. Customer ids are
// usually few and guessable (C00000001, C00000002, …), so a pseudonym is
// only as hard to reverse as the key is to guess.
const MinKeyBytes = 16

// Pseudonymizer turns customer ids into pseudonyms: the lower-case hex of
// HMAC-SHA256(key, id), all 64 characters (no truncation, so distinct ids
// never share a pseudonym). The same key gives the same pseudonym on every
// run, so published tables still join across dates; without the key, a
// pseudonym cannot be traced back to an id, even by trying every id.
type Pseudonymizer struct {
	key  []byte
	pool sync.Pool // of hash.Hash keyed with key: HMAC setup costs more than an id
}

// NewPseudonymizer returns a Pseudonymizer with key. The error never
// contains the key.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("pseudonym key has %d bytes, fewer than the %d required", len(key), MinKeyBytes)
	}
	p := &Pseudonymizer{key: append([]byte(nil), key...)}
	p.pool.New = func() any { return hmac.New(sha256.New, p.key) }
	return p, nil
}

// ID returns the pseudonym of id. It is safe for concurrent use.
func (p *Pseudonymizer) ID(id string) string {
	var hx [2 * sha256.Size]byte
	return string(p.encode(hx[:], id))
}

// encode writes the pseudonym of id to dst, 64 bytes, and returns them.
func (p *Pseudonymizer) encode(dst []byte, id string) []byte {
	h := p.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(id))
	var sum [sha256.Size]byte
	hex.Encode(dst, h.Sum(sum[:0]))
	p.pool.Put(h)
	return dst[:2*sha256.Size]
}

// IDs returns the pseudonyms of ids, in order, computed by up to workers
// goroutines (≤ 0: one). Like the ids, they are a Column: a run keeps
// them to the end, and as strings every collection would scan them.
func (p *Pseudonymizer) IDs(ids strcol.Column, workers int) strcol.Column {
	n := ids.Len()
	workers = max(1, min(workers, n/4096+1))
	chunk := max((n+workers-1)/workers, 1)
	var rows []int
	var sizes []int64
	for lo := 0; lo < n; lo += chunk {
		rows = append(rows, min(chunk, n-lo))
		sizes = append(sizes, int64(2*sha256.Size*rows[len(rows)-1]))
	}
	parts := strcol.Parts(rows, sizes)
	var wg sync.WaitGroup
	for k, b := range parts {
		wg.Go(func() {
			var hx [2 * sha256.Size]byte
			for i := k * chunk; i < k*chunk+rows[k]; i++ {
				b.AppendBytes(p.encode(hx[:], ids.At(i)))
			}
		})
	}
	wg.Wait()
	out, err := strcol.Join(parts)
	if err != nil {
		panic(fmt.Sprintf("privacy: pseudonyms: %v", err)) // every pseudonym is 64 bytes
	}
	return out
}

// Fingerprint identifies the key without revealing it: the first 16 hex
// characters of HMAC-SHA256(key, a fixed label). It goes into a run's
// attempt id, so that publishing under a new key re-runs a date.
func (p *Pseudonymizer) Fingerprint() string {
	h := hmac.New(sha256.New, p.key)
	h.Write([]byte("strata pseudonym key fingerprint v1"))
	return hex.EncodeToString(h.Sum(nil))[:16]
}
