// Package recommend ranks the next product categories to offer each
// customer from the category affinity of the customer's group (a cluster):
// how much more often the group's buyers buy a category than the whole
// base does.
//
// For a category c and a group g, with penetration the share of buyers who
// bought in a category,
//
//	lift(g, c) = penetration(c among g's buyers) / penetration(c among all buyers)
//
// A customer is offered the categories of the highest lift in their group
// that they have not bought yet, best first, at most N; a category nobody
// in the group bought (lift 0) is never offered. Customers without a group
// (none was assigned, e.g. they never bought) are offered the categories
// with the highest penetration in the whole base, whose lift is 1 by
// definition. Ties go to the category with the higher base penetration,
// then the lower index, so the ranking is total and reproducible.
package recommend

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/strata-oss/strata/internal/parallel"
)

// Input is what the ranking needs. Bought(c, k) reports whether customer c
// bought in category k; Group[c] is the customer's group, or < 0 for none;
// Buyer[c] marks the customers who count for penetration (those with a
// purchase). Bought is called from Workers goroutines at once (≤ 0:
// GOMAXPROCS), so it must only read; the workers never change a result.
type Input struct {
	Customers  int
	Categories []string
	Groups     int
	Group      []int32
	Buyer      []bool
	Bought     func(c, k int) bool
	Workers    int
}

// Affinity is the lift table: Lift[g][k] for group g and category k, and
// the penetrations it was made of.
type Affinity struct {
	Categories []string
	// Base[k] is the share of all buyers who bought category k.
	Base []float64
	// Penetration[g][k] is the share of group g's buyers who bought k;
	// Lift[g][k] divides it by Base[k] (0 where Base[k] is 0).
	Penetration [][]float64
	Lift        [][]float64
	// Buyers[g] is the number of buyers in group g.
	Buyers []int
}

// Offer is one recommendation: the category index, its rank (1 = best)
// and the lift it was chosen by.
type Offer struct {
	Category int
	Rank     int
	Lift     float64
}

// Fit counts penetrations and lifts. Sums are integer counts, so the
// result does not depend on the order customers are visited in.
func Fit(in Input) (*Affinity, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	nk := len(in.Categories)
	var mu sync.Mutex
	sum := newCounts(in.Groups, nk)
	in.eachChunk(func(lo, hi int) {
		part := newCounts(in.Groups, nk)
		part.add(in, lo, hi)
		mu.Lock()
		sum.merge(part)
		mu.Unlock()
	})
	base, pen, buyers, total := sum.base, sum.pen, sum.buyers, sum.total
	a := &Affinity{Categories: in.Categories, Base: make([]float64, nk), Buyers: buyers,
		Penetration: make([][]float64, in.Groups), Lift: make([][]float64, in.Groups)}
	for k := range nk {
		if total > 0 {
			a.Base[k] = float64(base[k]) / float64(total)
		}
	}
	for g := range in.Groups {
		a.Penetration[g] = make([]float64, nk)
		a.Lift[g] = make([]float64, nk)
		if buyers[g] == 0 {
			continue
		}
		for k := range nk {
			p := float64(pen[g][k]) / float64(buyers[g])
			a.Penetration[g][k] = p
			if a.Base[k] > 0 {
				a.Lift[g][k] = p / a.Base[k]
			}
		}
	}
	return a, nil
}

// Ranking returns group g's categories in offer order (g < 0: the base's,
// by penetration), leaving out those with nothing to offer.
func (a *Affinity) Ranking(g int) []Offer {
	nk := len(a.Categories)
	score := a.Base
	if g >= 0 {
		score = a.Lift[g]
	}
	idx := make([]int, 0, nk)
	for k := range nk {
		if score[k] > 0 {
			idx = append(idx, k)
		}
	}
	sort.SliceStable(idx, func(i, j int) bool {
		x, y := idx[i], idx[j]
		if score[x] != score[y] {
			return score[x] > score[y]
		}
		if a.Base[x] != a.Base[y] {
			return a.Base[x] > a.Base[y]
		}
		return x < y
	})
	out := make([]Offer, len(idx))
	for i, k := range idx {
		lift := 1.0
		if g >= 0 {
			lift = a.Lift[g][k]
		}
		out[i] = Offer{Category: k, Rank: i + 1, Lift: lift}
	}
	return out
}

// Recommend returns each customer's offers: the first n categories of
// their group's ranking that they have not bought, ranked 1..n.
// Offers[c] may be shorter than n (or empty) when the customer already
// buys most of what their group favours.
func (a *Affinity) Recommend(in Input, n int) ([][]Offer, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("recommend: need at least one offer per customer, got %d", n)
	}
	if len(in.Categories) != len(a.Categories) || in.Groups != len(a.Lift) {
		return nil, errors.New("recommend: input does not match the fitted affinity")
	}
	rankings := make([][]Offer, in.Groups+1) // the last: no group
	for g := -1; g < in.Groups; g++ {
		rankings[g+1] = a.Ranking(g)
	}
	out := make([][]Offer, in.Customers)
	in.eachChunk(func(lo, hi int) { offerChunk(in, rankings, n, out, lo, hi) })
	return out, nil
}

// offerChunk sets out[c] for customers [lo, hi): each customer's offers
// are a piece of one array for the chunk, not an allocation of their own
// (a million customers made three million small ones, a third of the
// stage's time).
func offerChunk(in Input, rankings [][]Offer, n int, out [][]Offer, lo, hi int) {
	flat := make([]Offer, 0, n*(hi-lo))
	for c := lo; c < hi; c++ {
		g := max(in.Group[c], -1)
		start := len(flat)
		for _, o := range rankings[g+1] {
			if len(flat)-start == n {
				break
			}
			if !in.Bought(c, o.Category) {
				o.Rank = len(flat) - start + 1
				flat = append(flat, o)
			}
		}
		if len(flat) > start {
			out[c] = flat[start:len(flat):len(flat)]
		}
	}
}

// chunkCustomers is how many customers a worker takes at a time: enough
// that handing them out costs nothing, few enough that the workers finish
// together.
const chunkCustomers = 1 << 14

// eachChunk calls f for consecutive ranges of customers covering them
// all, from in.Workers goroutines.
func (in *Input) eachChunk(f func(lo, hi int)) {
	parallel.Ranges(in.Customers, chunkCustomers, in.Workers, f)
}

// counts are penetration counts: buyers who bought each category, in all
// (base) and by group (pen), and buyers in all and by group. They are
// integers, so adding up the chunks in any order gives the same counts.
type counts struct {
	base   []int
	pen    [][]int
	buyers []int
	total  int
}

func newCounts(groups, nk int) *counts {
	c := &counts{base: make([]int, nk), pen: make([][]int, groups), buyers: make([]int, groups)}
	for g := range c.pen {
		c.pen[g] = make([]int, nk)
	}
	return c
}

// add counts customers [lo, hi) of in.
func (s *counts) add(in Input, lo, hi int) {
	nk := len(s.base)
	for c := lo; c < hi; c++ {
		if !in.Buyer[c] {
			continue
		}
		s.total++
		g := in.Group[c]
		if g >= 0 {
			s.buyers[g]++
		}
		for k := range nk {
			if in.Bought(c, k) {
				s.base[k]++
				if g >= 0 {
					s.pen[g][k]++
				}
			}
		}
	}
}

func (s *counts) merge(o *counts) {
	s.total += o.total
	for k := range s.base {
		s.base[k] += o.base[k]
	}
	for g := range s.pen {
		s.buyers[g] += o.buyers[g]
		for k := range s.pen[g] {
			s.pen[g][k] += o.pen[g][k]
		}
	}
}

func (in *Input) check() error {
	switch {
	case in.Customers < 0 || len(in.Group) != in.Customers || len(in.Buyer) != in.Customers:
		return fmt.Errorf("recommend: %d customers but %d groups and %d buyer flags", in.Customers, len(in.Group), len(in.Buyer))
	case in.Bought == nil:
		return errors.New("recommend: no purchase lookup")
	case in.Groups < 0:
		return fmt.Errorf("recommend: %d groups", in.Groups)
	}
	for c, g := range in.Group {
		if int(g) >= in.Groups {
			return fmt.Errorf("recommend: customer %d in group %d of %d", c, g, in.Groups)
		}
	}
	return nil
}
