package features

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/strata-oss/strata/pipeline/extract"
)

// colRefs are the feature columns' slices, for the fill loop.
type colRefs struct {
	recency, freq, pdays, tenure       []int32
	monetary, avg, maxo                []float64
	gapMean, gapStd, refundRate        []float64
	noOrders, noTenure, gapNull        []bool
	winOrders                          [][]int32
	winSpend                           [][]float64
	firstOrder, lastOrder              []int64
	cat, chn                           levelShares
	evAll                              [nEvClasses][]int32
	evWin                              [nEvClasses][][]int32
	evDays                             []int32
	evNull                             []bool
	ageYears                           []float64
	ageNull                            []bool
	ageBand                            [][]int32 // bands, then unknown
	income                             []float64
	incNull                            []bool
	incBand                            [][]int32
	attr                               [extract.NumAttrs]attrCols
	interest                           [][]int32
	interestCol                        []int // by interest rank: column, or -1
	interestsUnknown                   []int32
	optIn                              []int32
	optNull                            []bool
	hasAge, hasIncome, hasInts, hasOpt bool
	own                                []ownCols // by Options.Own
	measTotal, measShare               [][]float64
	measNull                           []bool // no purchase spend: no share
	// Behaviour only, not table columns: Options.Repeat and
	// CalibrationDays.
	repeat                     []float64
	firstDay, calDays, calLast []int32
}

// levelShares are share columns of a per-customer level mix (categories by
// spend, channels by orders): the top levels, then other.
type levelShares struct {
	on     bool
	cols   [][]float64 // top levels, then other
	null   []bool
	colOf  []int // by global level (rank, then blank last): column
	global string
}

// ownCols are the features of one of the user's own attributes: one-hot
// columns (attrCols) of a categorical one, a value of a numeric one.
type ownCols struct {
	attrCols
	num   []float64
	level []int32 // a categorical one's level (rank) by customer, -1 unknown
}

type attrCols struct {
	on    bool
	enc   Encoding
	cols  [][]int32 // one-hot: chosen levels, other, unknown
	colOf []int     // by rank: column among cols, colOther or colUnknown
	freq  []float64 // frequency encoding
	null  []bool
	share []float64 // by rank: share of customers
}

// add appends a column to the table and returns it for filling.
func (c *computer) newI(f Feature, null []bool) []int32 {
	v := make([]int32, c.n)
	c.tab.add(Column{Feature: f, I: v, Null: null})
	return v
}

func (c *computer) newF(f Feature, null []bool) []float64 {
	v := make([]float64, c.n)
	c.tab.add(Column{Feature: f, F: v, Null: null})
	return v
}

// plan decides the feature columns — which exist, their order, names and
// metadata — and allocates them. Global rankings (top categories, levels)
// are computed here, in customer-id order, so sums do not depend on the
// shards.
func (c *computer) plan() {
	n := c.n
	c.tab = &Table{N: n}
	r := &c.cols
	beh := func(name, src, unit, missing string, kind Kind) Feature {
		return Feature{Name: name, Family: Behavioural, Kind: kind, Source: src, Unit: unit, Missing: missing}
	}
	const noOrd = "no purchase by the as-of date"
	r.noOrders, r.noTenure, r.gapNull = make([]bool, n), make([]bool, n), make([]bool, n)
	r.recency = c.newI(beh("recency_days", "orders", "days", noOrd, Numeric), r.noOrders)
	r.freq = c.newI(beh("frequency", "orders", "orders", "", Count), nil)
	r.pdays = c.newI(beh("purchase_days", "orders", "days", "", Count), nil)
	r.monetary = c.newF(beh("monetary_value", "orders", "money", "", Numeric), nil)
	r.avg = c.newF(beh("avg_order_value", "orders", "money", noOrd, Numeric), r.noOrders)
	r.maxo = c.newF(beh("max_order_value", "orders", "money", noOrd, Numeric), r.noOrders)
	r.tenure = c.newI(beh("tenure_days", "customers.signup_ts,orders", "days", "neither a signup date nor a purchase", Numeric), r.noTenure)
	const twoDays = "fewer than two purchase days"
	r.gapMean = c.newF(beh("gap_mean_days", "orders", "days", twoDays, Numeric), r.gapNull)
	r.gapStd = c.newF(beh("gap_std_days", "orders", "days", twoDays, Numeric), r.gapNull)
	if c.opt.Repeat {
		r.repeat, r.firstDay = make([]float64, n), make([]int32, n)
	}
	if c.opt.CalibrationDays > 0 {
		r.calDays, r.calLast = make([]int32, n), make([]int32, n)
	}
	for _, w := range c.opt.WindowsDays {
		r.winOrders = append(r.winOrders, c.newI(beh(fmt.Sprintf("orders_%dd", w), "orders", "orders", "", Count), nil))
		r.winSpend = append(r.winSpend, c.newF(beh(fmt.Sprintf("spend_%dd", w), "orders", "money", "", Numeric), nil))
	}
	r.refundRate = c.newF(beh("refund_rate", "orders", "refunds per order", noOrd, Numeric), r.noOrders)
	if len(c.opt.Measures) > 0 {
		r.measNull = make([]bool, n)
	}
	for _, m := range c.opt.Measures {
		src := "orders." + m.Column
		r.measTotal = append(r.measTotal, c.newF(Feature{Name: m.Name + "_total", Family: Own, Kind: Numeric, Source: src,
			Unit: m.Column + " (summed over purchases)", Personal: m.Name}, nil))
		r.measShare = append(r.measShare, c.newF(Feature{Name: m.Name + "_share", Family: Own, Kind: Numeric, Source: src,
			Unit: "share of purchase spend", Missing: "no purchase spend by the as-of date", Personal: m.Name}, r.measNull))
	}
	r.firstOrder, r.lastOrder = make([]int64, n), make([]int64, n)

	c.planShares(&r.cat, "orders.category", "cat_share", "category", "no category spend by the as-of date", c.opt.TopCategories,
		func(s *shard) (int, func(row int, buf []float64) []float64) {
			return s.catSlots(), func(row int, buf []float64) []float64 { return s.catCandidates(row, buf) }
		}, c.catLevels)
	c.planShares(&r.chn, "orders.channel", "channel_share", "channel", noOrd, c.opt.TopChannels,
		func(s *shard) (int, func(row int, buf []float64) []float64) {
			return s.chn.stride, func(row int, buf []float64) []float64 { return s.chnRow(row, buf) }
		}, c.chnLevels)

	if slices.Contains(c.info.Tables, "events") {
		r.evNull = make([]bool, n)
		classes := [nEvClasses]string{"email_opens", "email_clicks", "sessions"}
		for cl, name := range classes {
			r.evAll[cl] = c.newI(beh(name, "events", "events", "", Count), nil)
			for _, w := range c.opt.WindowsDays {
				r.evWin[cl] = append(r.evWin[cl], c.newI(beh(fmt.Sprintf("%s_%dd", name, w), "events", "events", "", Count), nil))
			}
		}
		r.evDays = c.newI(beh("days_since_last_event", "events", "days", "no event by the as-of date", Numeric), r.evNull)
	}
	c.planAttributes()
}

// planShares sets up the share columns of a level mix: the top levels by
// their total over all customers (or the vocabulary's), then other.
func (c *computer) planShares(ls *levelShares, levels, prefix, group, missing string, top int,
	get func(*shard) (int, func(row int, buf []float64) []float64), level func(*shard) []int) {
	names := c.names[levels]
	var chosen []string
	var ok bool
	if v := c.opt.Vocabulary; v != nil {
		chosen, ok = v.Shares[levels]
	} else {
		chosen, ok = c.learnShares(levels, top, get, level)
	}
	if !ok {
		return
	}
	ls.on = true
	ls.null = make([]bool, c.n)
	pos := positions(chosen)
	ls.colOf = make([]int, len(names)+1) // the blank level last
	for l := range ls.colOf {
		ls.colOf[l] = len(chosen)
		if k, ok := pos[levelKey(names, l)]; ok {
			ls.colOf[l] = k
		}
	}
	taken := map[string]bool{prefix + "_other": true}
	for _, key := range chosen {
		level := cmp.Or(key, "unknown")
		nm := unique(taken, prefix+"_"+slug(level))
		ls.cols = append(ls.cols, c.newF(Feature{Name: nm, Family: Behavioural, Kind: Share,
			Source: levels, Group: group, Level: level, Unit: "share", Missing: missing}, ls.null))
	}
	ls.cols = append(ls.cols, c.newF(Feature{Name: prefix + "_other", Family: Behavioural, Kind: Share,
		Source: levels, Group: group, Level: "other", Unit: "share", Missing: missing}, ls.null))
	c.vocab.Shares[levels] = chosen
}

// learnShares picks the top levels of a mix by their total over all
// customers, summed in customer-id order so that the totals do not
// depend on the shards; false when the orders have no such column or no
// customer has any of it.
func (c *computer) learnShares(levels string, top int, get func(*shard) (int, func(row int, buf []float64) []float64),
	level func(*shard) []int) ([]string, bool) {
	if !slices.ContainsFunc(c.a.shards, func(s *shard) bool { n, _ := get(s); return n > 0 }) {
		return nil, false // the orders have no such column
	}
	names := c.names[levels]
	nl := len(names) + 1
	total := make([]float64, nl)
	seen := false
	lv := make([][]int, len(c.a.shards))
	// Each shard's slot count and reader, once: made per customer, the
	// reader was an allocation a customer.
	ns := make([]int, len(c.a.shards))
	vs := make([]func(row int, buf []float64) []float64, len(c.a.shards))
	for si, s := range c.a.shards {
		lv[si] = level(s)
		ns[si], vs[si] = get(s)
	}
	// Summed in chunks of customers, in parallel, then the chunks' sums
	// in chunk order: the same bits for any number of shards or workers.
	nch := (c.n + fillChunk - 1) / fillChunk
	part := make([][]float64, nch)
	any := make([]bool, nch)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(c.opt.Workers, 1))
	for k := range nch {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sum := make([]float64, nl)
			var buf []float64
			hi := min(c.n, (k+1)*fillChunk)
			for g := k * fillChunk; g < hi; g++ {
				if g+8 < hi {
					// The mix of a customer a few ahead: each is a miss in
					// an arena of hundreds of megabytes.
					s, row := c.at(g + 8)
					s.prefetchMix(row)
				}
				_, row := c.at(g)
				si := c.loc[g] >> 32
				if ns[si] == 0 {
					continue
				}
				any[k] = true
				l := lv[si]
				// The reader may leave out slots past the levels' (rest):
				// their level is -1, so the sums are the same.
				buf = vs[si](row, buf)
				for slot, x := range buf[:min(ns[si], len(buf))] {
					if l[slot] >= 0 { // not rest
						sum[l[slot]] += x
					}
				}
			}
			part[k] = sum
		}()
	}
	wg.Wait()
	for k, sum := range part {
		seen = seen || any[k]
		for l, x := range sum {
			total[l] += x
		}
	}
	if !seen {
		return nil, false
	}
	chosen := []string{}
	for _, l := range byTotal(total, func(l int) string { return cmp.Or(levelKey(names, l), "unknown") }) {
		// A level spelt "other" is part of other.
		if len(chosen) < top && total[l] > 0 && slug(cmp.Or(levelKey(names, l), "unknown")) != "other" {
			chosen = append(chosen, levelKey(names, l))
		}
	}
	return chosen, true
}

// byTotal returns the levels ordered by total, largest first, ties by
// name.
func byTotal[T int | float64](total []T, name func(l int) string) []int {
	idx := make([]int, len(total))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		if o := cmp.Compare(total[y], total[x]); o != 0 {
			return o
		}
		return cmp.Compare(name(x), name(y))
	})
	return idx
}

// chnLevels maps each channel slot of s to its global level.
func (c *computer) chnLevels(s *shard) []int {
	rank := c.rank["orders.channel"]
	out := make([]int, s.chn.stride)
	for slot := range out {
		out[slot] = slotLevel(slot, rank, len(rank)+1)
	}
	return out
}

// catLevels maps each category slot of s to its global level (rank by
// name, blank last), or -1 for rest.
func (c *computer) catLevels(s *shard) []int {
	rank := c.rank["orders.category"]
	out := make([]int, s.catSlots())
	for slot := range out {
		switch l := s.catLevel(slot); l {
		case -1:
			out[slot] = -1
		case 0:
			out[slot] = len(rank)
		default:
			out[slot] = int(rank[l-1])
		}
	}
	return out
}

// slotLevel maps a shard's slot (0 blank, code+1) to the global level
// (rank by name, blank last).
func slotLevel(slot int, rank []int32, nl int) int {
	if slot == 0 {
		return nl - 1
	}
	return int(rank[slot-1])
}

func unique(taken map[string]bool, name string) string {
	out := name
	for i := 2; taken[out]; i++ {
		out = name + "_" + strconv.Itoa(i)
	}
	taken[out] = true
	return out
}

var attrFamily = map[string]Family{
	"gender": Demographic, "education": Demographic, "occupation": Demographic,
	"country": Geographic, "region": Geographic, "city": Geographic, "postal_code": Geographic,
	"device": Technographic, "os": Technographic,
	"marital_status": Demographic, "household_size": Demographic, "children": Demographic,
	"home_ownership": Demographic, "age_group": Demographic, "income_group": Demographic,
}

// planAttributes sets up the customer attribute encodings for the columns
// the customers table has.
func (c *computer) planAttributes() {
	if !slices.Contains(c.info.Tables, "customers") {
		return
	}
	r := &c.cols
	n := c.n
	seenAttr, seen := c.seen()
	onehot := func(fam Family, group, src, level string, null []bool) []int32 {
		return c.newI(Feature{Name: group + "_" + slug(level), Family: fam, Kind: OneHotInd, Source: src,
			Group: group, Level: level}, null)
	}
	// Age and its bands.
	if seen[seenBirth] || seen[seenAge] {
		r.hasAge = true
		r.ageNull = make([]bool, n)
		src := "customers.birth_date"
		if !seen[seenBirth] {
			src = "customers.age"
		}
		r.ageYears = c.newF(Feature{Name: "age_years", Family: Demographic, Kind: Numeric, Source: src, Unit: "years",
			Missing: "no usable birth date or age"}, r.ageNull)
		for _, b := range ageBandNames(c.opt.AgeBands) {
			r.ageBand = append(r.ageBand, onehot(Demographic, "age_band", src, b, nil))
		}
		r.ageBand = append(r.ageBand, onehot(Demographic, "age_band", src, "unknown", nil))
	}
	if seen[seenIncome] {
		r.hasIncome = true
		r.incNull = make([]bool, n)
		r.income = c.newF(Feature{Name: "income", Family: Demographic, Kind: Numeric, Source: "customers.income",
			Unit: "money per year", Missing: "no usable income"}, r.incNull)
		for _, b := range bandNames(c.opt.IncomeBands, moneyLabel) {
			r.incBand = append(r.incBand, onehot(Demographic, "income_band", "customers.income", b, nil))
		}
		r.incBand = append(r.incBand, onehot(Demographic, "income_band", "customers.income", "unknown", nil))
	}
	for a, name := range extract.Attrs {
		if seenAttr[a] {
			c.planAttr(a, name)
		}
	}
	if seen[seenInterests] {
		c.planInterests()
	}
	c.planOwn()
	if seen[seenOptIn] {
		r.hasOpt = true
		r.optNull = make([]bool, n)
		r.optIn = c.newI(Feature{Name: "email_opt_in", Family: Psychographic, Kind: "indicator",
			Source: "customers.email_opt_in", Missing: "opt-in not known"}, r.optNull)
	}
}

// planAttr sets up attribute a's encoding from the levels of the run's
// customers (or the vocabulary's).
func (c *computer) planAttr(a int, name string) {
	c.planLevels(&c.cols.attr[a], name, "customers."+name, attrFamily[name], c.opt.Encodings[name], "",
		func(s *shard, row int) int32 { return s.attr[a][row] })
}

// planOwn sets up the features of the user's own customer attributes: a
// categorical one one-hot like the built-in attributes, a numeric one as
// its value.
func (c *computer) planOwn() {
	r := &c.cols
	r.own = make([]ownCols, len(c.opt.Own))
	for k, o := range c.opt.Own {
		if o.Categorical {
			c.planLevels(&r.own[k].attrCols, o.Name, "customers."+o.Name, Own, OneHot, o.Name,
				func(s *shard, row int) int32 { return s.ownCode[k][row] })
			r.own[k].level = make([]int32, c.n)
			for i := range r.own[k].level {
				r.own[k].level[i] = -1
			}
			for i := range c.tab.Cols {
				if f := &c.tab.Cols[i].Feature; f.Group == o.Name && f.Source == "customers."+o.Name {
					f.Source = "customers." + o.Column
				}
			}
			continue
		}
		r.own[k].null = make([]bool, c.n)
		r.own[k].num = c.newF(Feature{Name: o.Name, Family: Own, Kind: Numeric, Source: "customers." + o.Column,
			Missing: "not known", Personal: o.Name}, r.own[k].null)
	}
}

// planLevels sets up the encoding of a categorical attribute whose level
// codes (Levels src) code gives, from the levels of the run's customers
// (or the vocabulary's).
func (c *computer) planLevels(ac *attrCols, name, src string, fam Family, enc Encoding, personal string,
	code func(s *shard, row int) int32) {
	ac.on = true
	ac.enc = enc
	names := c.names[src]
	v := c.opt.Vocabulary
	var count []int
	if v == nil {
		rank := c.rank[src]
		count = make([]int, len(names))
		for g := range c.n {
			s, row := c.at(g)
			if code := code(s, row); s.known[row] && code >= 0 {
				count[rank[code]]++
			}
		}
	}
	if ac.enc == Frequency {
		var shares map[string]float64
		if v != nil {
			shares = v.Frequency[name]
		} else {
			shares = map[string]float64{}
			for l, k := range count {
				if k > 0 {
					shares[names[l]] = float64(k) / float64(c.n)
				}
			}
		}
		ac.share = make([]float64, len(names))
		for l, nm := range names {
			ac.share[l] = shares[nm]
		}
		c.vocab.Frequency[name] = shares
		ac.null = make([]bool, c.n)
		ac.freq = c.newF(Feature{Name: name + "_freq", Family: fam, Kind: Freq, Source: src, Unit: "share of customers",
			Missing: "level not known", Personal: personal}, ac.null)
		return
	}
	var chosen []string
	if v != nil {
		chosen = v.OneHot[name]
	} else {
		chosen = []string{}
		for _, l := range byTotal(count, func(l int) string { return names[l] }) {
			// A level spelt "other" or "unknown" is one: it shares that column.
			if sl := slug(names[l]); sl != "other" && sl != "unknown" && len(chosen) < c.opt.MaxLevels && count[l] > 0 {
				chosen = append(chosen, names[l])
			}
		}
	}
	pos := positions(chosen)
	ac.colOf = make([]int, len(names))
	for l, nm := range names {
		switch k, ok := pos[nm]; {
		case ok:
			ac.colOf[l] = k
		case slug(nm) == "unknown":
			ac.colOf[l] = colUnknown
		default:
			ac.colOf[l] = colOther
		}
	}
	taken := map[string]bool{name + "_other": true, name + "_unknown": true}
	for _, nm := range chosen {
		ac.cols = append(ac.cols, c.newI(Feature{Name: unique(taken, name+"_"+slug(nm)), Family: fam, Kind: OneHotInd,
			Source: src, Group: name, Level: nm, Personal: personal}, nil))
	}
	c.vocab.OneHot[name] = chosen
	ac.cols = append(ac.cols,
		c.newI(Feature{Name: name + "_other", Family: fam, Kind: OneHotInd, Source: src, Group: name, Level: "other", Personal: personal}, nil),
		c.newI(Feature{Name: name + "_unknown", Family: fam, Kind: OneHotInd, Source: src, Group: name, Level: "unknown", Personal: personal}, nil))
}

// Columns of the levels that have none of their own, in attrCols.colOf.
const (
	colOther   = -1
	colUnknown = -2
)

// planInterests picks the interests most customers list (or the
// vocabulary's).
func (c *computer) planInterests() {
	r := &c.cols
	r.hasInts = true
	lv := "customers.interests"
	names := c.names[lv]
	var chosen []string
	if v := c.opt.Vocabulary; v != nil {
		chosen = v.Interests
	} else {
		rank := c.rank[lv]
		count := make([]int, len(names))
		seen := make([]int, len(names)) // last customer counted, +1
		for g := range c.n {
			s, row := c.at(g)
			if !s.known[row] {
				continue
			}
			for _, code := range s.intPool[s.intStart[row] : s.intStart[row]+s.intLen[row]] {
				l := rank[code]
				if seen[l] != g+1 {
					seen[l] = g + 1
					count[l]++
				}
			}
		}
		for _, l := range byTotal(count, func(l int) string { return names[l] }) {
			if len(chosen) >= c.opt.TopInterests || count[l] == 0 {
				break
			}
			chosen = append(chosen, names[l])
		}
	}
	pos := positions(chosen)
	r.interestCol = make([]int, len(names))
	for l, nm := range names {
		r.interestCol[l] = -1
		if k, ok := pos[nm]; ok {
			r.interestCol[l] = k
		}
	}
	taken := map[string]bool{"interests_unknown": true}
	for _, nm := range chosen {
		r.interest = append(r.interest, c.newI(Feature{Name: unique(taken, "interest_"+slug(nm)), Family: Psychographic,
			Kind: MultiHot, Source: lv, Group: "interests", Level: nm}, nil))
	}
	c.vocab.Interests = chosen
	r.interestsUnknown = c.newI(Feature{Name: "interests_unknown", Family: Psychographic, Kind: MultiHot, Source: lv,
		Group: "interests", Level: "unknown"}, nil)
}
