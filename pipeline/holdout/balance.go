package holdout

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Stratum is the balance of one stratum (or of the whole audience).
//
// Under a fair assignment the control count C of a stratum of N customers
// is Binomial(N, s) for the configured share s. The score test compares it
// with its expectation:
//
//	Z  = (C − N·s) / sqrt(N·s·(1−s))
//	X² = Z²,  P = Pr(χ²₁ ≥ X²) = erfc(|Z|/√2)
//
// (Agresti, Categorical Data Analysis, 3rd ed., §1.4.1). The χ²
// approximation is poor when either expected count N·s or N·(1−s) is
// below 5; Small marks such strata, whose P should not be read as exact.
type Stratum struct {
	Name      string  `json:"name"`
	Customers int     `json:"customers"`
	Control   int     `json:"control"`
	Expected  float64 `json:"expected_control"` // N·s
	Share     float64 `json:"control_share"`    // C/N; 0 for an empty stratum
	Z         float64 `json:"z"`
	P         float64 `json:"p_value"`
	Small     bool    `json:"small,omitempty"`
}

// Balance is the per-stratum balance check of one campaign's audience.
type Balance struct {
	// Share is the configured control share.
	Share float64 `json:"share"`
	// Strata, by name. A customer without a stratum is in stratum "".
	Strata []Stratum `json:"strata"`
	// Total is the whole audience's balance.
	Total Stratum `json:"total"`
	// ChiSquare is the sum of the strata's X², χ² with DF = the number of
	// strata with a nonzero variance under a fair assignment (the strata's
	// counts are independent); P is its upper tail. It tests all strata at
	// once, so that many strata do not each have to be read.
	ChiSquare float64 `json:"chi_square"`
	DF        int     `json:"df"`
	P         float64 `json:"p_value"`
}

// Counter accumulates a balance check, one customer at a time.
type Counter struct {
	share float64
	n, c  map[string]int
}

// NewCounter returns a counter for a campaign with control share s.
func NewCounter(share float64) (*Counter, error) {
	if !(share >= 0 && share < 1) {
		return nil, fmt.Errorf("holdout: control share must be in [0, 1), got %v", share)
	}
	return &Counter{share: share, n: map[string]int{}, c: map[string]int{}}, nil
}

// Add counts one customer of the audience.
func (k *Counter) Add(stratum string, control bool) {
	k.n[stratum]++
	if control {
		k.c[stratum]++
	}
}

// Balance returns the check over every customer added so far.
func (k *Counter) Balance() Balance {
	b := Balance{Share: k.share}
	names := make([]string, 0, len(k.n))
	for s := range k.n {
		names = append(names, s)
	}
	sort.Strings(names)
	var n, c int
	for _, name := range names {
		st := stratum(name, k.n[name], k.c[name], k.share)
		b.Strata = append(b.Strata, st)
		n += st.Customers
		c += st.Control
		if st.Customers > 0 && k.share > 0 {
			b.ChiSquare += st.Z * st.Z
			b.DF++
		}
	}
	b.Total = stratum("", n, c, k.share)
	b.P = 1
	if b.DF > 0 {
		b.P = distuv.ChiSquared{K: float64(b.DF)}.Survival(b.ChiSquare)
	}
	return b
}

func stratum(name string, n, c int, s float64) Stratum {
	st := Stratum{Name: name, Customers: n, Control: c, Expected: float64(n) * s, P: 1}
	if n == 0 {
		return st
	}
	st.Share = float64(c) / float64(n)
	st.Small = float64(n)*s < 5 || float64(n)*(1-s) < 5
	if v := float64(n) * s * (1 - s); v > 0 {
		st.Z = (float64(c) - st.Expected) / math.Sqrt(v)
		st.P = distuv.ChiSquared{K: 1}.Survival(st.Z * st.Z)
	}
	return st
}

// AddCounts counts n customers of a stratum at once, c of them in the
// control group: a shard's counts, or a published stratum's.
func (k *Counter) AddCounts(stratum string, n, c int) {
	k.n[stratum] += n
	k.c[stratum] += c
}

// Merge returns the check over the customers of b and o together, two
// checks of the same campaign (shards of one run): their strata's counts
// added, every statistic recomputed.
func (b Balance) Merge(o Balance) (Balance, error) {
	if b.Share != o.Share {
		return Balance{}, fmt.Errorf("holdout: merging balance checks of control shares %v and %v", b.Share, o.Share)
	}
	k, err := NewCounter(b.Share)
	if err != nil {
		return Balance{}, err
	}
	for _, s := range append(slices.Clip(b.Strata), o.Strata...) {
		k.AddCounts(s.Name, s.Customers, s.Control)
	}
	return k.Balance(), nil
}
