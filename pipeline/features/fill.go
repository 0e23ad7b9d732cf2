package features

import (
	"cmp"
	"context"
	"math"
	"slices"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/strata-oss/strata/pipeline/extract"
)

// fillChunk is the number of customers of a task of plan's passes over the
// customers, and the fewest a fill task computes.
const fillChunk = 1 << 14

// fillBlock is the most customers one fill task computes: their records,
// copied into id order, take fillBlock × the record stride in words
// (24 MiB for 192-byte records).
const fillBlock = 1 << 17

// fill computes every feature of every customer, in parallel over blocks
// of customers in id order.
//
// The records lie in the arena in the order the readers first met their
// customers, so a walk in id order hits them at random: at 17M customers,
// 3.3 GB of mostly 4 KiB pages, each customer was a TLB miss whose page
// walk missed the caches too, and the stage grew 15× for 3.5× the
// customers. Instead, a task first gathers its block's records in arena
// order (gather: the reads go up the arena, so that records close in
// memory share their page-table lines), copying each to its customer's
// place in a buffer in id order, then computes the customers from the
// buffer, writing the columns front to back as before. On 17.2M customers
// fill's CPU went from 7.3 to 5.0 s, 2.0 of them still waiting on page
// walks: a block is 1.3 records to a line of page-table entries there.
// Each customer's values come from the same words by the same code, so
// the output does not change. Below gatherMinBytes of records the walk in
// id order stays (direct): the page walks hit the caches there, and the
// copy would cost more than it saves.
func (c *computer) fill(ctx context.Context) error {
	r := &c.cols
	// Each shard's slots in global level order, so that sums over several
	// levels (a customer's "other" share) add in the same order whatever
	// order the readers met the levels in.
	catOrder := make([][]int, len(c.a.shards))
	chnOrder := make([][]int, len(c.a.shards))
	catCol := make([][]int, len(c.a.shards))
	chnCol := make([][]int, len(c.a.shards))
	for si, s := range c.a.shards {
		catOrder[si], catCol[si] = slotOrder(c.catLevels(s), &r.cat)
		chnOrder[si], chnCol[si] = slotOrder(c.chnLevels(s), &r.chn)
	}
	ga := c.newGatherer()
	block := min(fillBlock, max(fillChunk, (c.n+4*c.opt.Workers-1)/(4*c.opt.Workers)))
	direct := ga.bytes < gatherMinBytes
	if c.opt.fillRows > 0 {
		block, direct = c.opt.fillRows, false
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opt.Workers)
	for lo := 0; lo < c.n; lo += block {
		hi := min(lo+block, c.n)
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			f := filler{c: c, clock: extract.NewClock(c.info.Location), catOrder: catOrder, chnOrder: chnOrder,
				catCol: catCol, chnCol: chnCol,
				acc: make([]float64, max(len(r.cat.cols), len(r.chn.cols)))}
			if direct {
				f.direct(lo, hi)
				return nil
			}
			buf := ga.get()
			defer ga.put(buf)
			recs := ga.gather(c, lo, hi, buf)
			st := ga.stride
			for g := lo; g < hi; g++ {
				i := (g - lo) * st
				f.customer(g, recs.words[i:i+st:i+st])
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	c.beh = &Behaviour{
		N: c.n, HasOrders: not(r.noOrders), RecencyDays: r.recency, Frequency: r.freq, PurchaseDays: r.pdays,
		Monetary: r.monetary, AvgOrder: r.avg, MaxOrder: r.maxo, TenureDays: r.tenure, HasTenure: not(r.noTenure),
		FirstOrder: r.firstOrder, LastOrder: r.lastOrder,
	}
	c.beh.FirstDay, c.beh.RepeatSpend = r.firstDay, r.repeat
	for k, o := range c.opt.Own {
		if k < len(r.own) && r.own[k].level != nil {
			if c.beh.OwnLevels == nil {
				c.beh.OwnLevels = map[string]Levels{}
			}
			c.beh.OwnLevels[o.Name] = Levels{Codes: r.own[k].level, Dict: c.names["customers."+o.Name]}
		}
	}
	c.beh.CalDays, c.beh.CalLast = r.calDays, r.calLast
	c.days = nil
	return nil
}

// slotOrder orders a shard's slots by their global level (rest, -1,
// last), and gives each slot's column among ls.cols.
func slotOrder(level []int, ls *levelShares) (order, col []int) {
	order = make([]int, len(level))
	for i := range order {
		order[i] = i
	}
	last := func(l int) int {
		if l < 0 {
			return math.MaxInt
		}
		return l
	}
	slices.SortFunc(order, func(x, y int) int { return cmp.Compare(last(level[x]), last(level[y])) })
	if !ls.on {
		return order, nil
	}
	col = make([]int, len(level))
	for slot, l := range level {
		if l < 0 {
			col[slot] = len(ls.cols) - 1 // other
		} else {
			col[slot] = ls.colOf[l]
		}
	}
	return order, col
}

func not(b []bool) []bool {
	out := make([]bool, len(b))
	for i, v := range b {
		out[i] = !v
	}
	return out
}

// filler computes the features of one range of customers.
type filler struct {
	c                  *computer
	clock              *extract.Clock
	catOrder, chnOrder [][]int
	catCol, chnCol     [][]int
	buf                []float64
	acc                []float64
}

// dayStats summarises a customer's distinct purchase days, given in
// ascending order: their number and the sums of the gaps between
// consecutive ones and of their squares. Gaps are whole days, so the sums
// are exact integers and the mean and spread come out the same whichever
// way the days were stored.
//
// With cut set, it also counts the days up to cut (nCut) and keeps the
// last of them (lastCut), for the CLV calibration period.
type dayStats struct {
	n           int32
	last        int32
	sumG, sumG2 int64

	cut           int32
	nCut, lastCut int32
}

func (d *dayStats) add(day int32) {
	if d.n > 0 {
		g := int64(day - d.last)
		d.sumG += g
		d.sumG2 += g * g
	}
	d.last = day
	d.n++
	if day <= d.cut {
		d.nCut++
		d.lastCut = day
	}
}

// gaps returns the mean and the population standard deviation of the gaps
// (n ≥ 2 days).
func (d *dayStats) gaps() (mean, std float64) {
	k := int64(d.n - 1)
	mean = float64(d.sumG) / float64(k)
	// k²·variance = k·Σg² − (Σg)², exact in int64 for any history.
	v := k*d.sumG2 - d.sumG*d.sumG
	return mean, math.Sqrt(float64(v)) / float64(k)
}

// direct computes customers lo..hi-1 from their records in the arena, in
// id order, each prefetched 8 customers ahead: the walk for arenas small
// enough that their page walks hit the caches (gatherMinBytes).
func (f *filler) direct(lo, hi int) {
	c := f.c
	for g := lo; g < hi; g++ {
		if g+8 < hi {
			c.prefetchCustomer(c.loc[g+8])
		}
		l := c.loc[g]
		f.customer(g, c.a.shards[l>>32].rec.at(int(uint32(l))))
	}
}

// prefetchCustomer starts loading the record at l (a c.loc entry): every
// line of a record with a category mix, the first three of others.
func (c *computer) prefetchCustomer(l uint64) {
	sh := c.a.shards[l>>32]
	p := unsafe.Pointer(&sh.rec.at(int(uint32(l)))[0])
	if sh.rec.stride > 24 {
		prefetchLines(p, 1<<((sh.rec.stride+7)/8)-1)
		return
	}
	prefetchRecord(p)
}

// customer computes customer g's features from rec, its record (or a
// copy of it).
func (f *filler) customer(g int, rec []uint64) {
	c, r := f.c, &f.c.cols
	l := c.loc[g]
	si, row := int(l>>32), int(uint32(l))
	s := c.a.shards[si]
	asOf := c.info.AsOfDay
	rec = rec[:s.rec.stride]
	o := int32(uint32(rec[rCounts]))
	refunds, refundAmt := s.refunds(row)
	gross := s.gross(rec)
	firstTS, lastTS := int64(rec[rFirstTS]), int64(rec[rLastTS])
	r.freq[g] = o
	r.monetary[g] = gross - refundAmt
	if o == 0 {
		r.noOrders[g] = true
		r.firstOrder[g], r.lastOrder[g] = extract.NoTime, extract.NoTime
	} else {
		r.avg[g] = gross / float64(o)
		r.maxo[g] = f64(rec[rMaxOrder])
		r.recency[g] = asOf - f.clock.Day(lastTS)
		r.refundRate[g] = float64(refunds) / float64(o)
		r.firstOrder[g], r.lastOrder[g] = firstTS, lastTS
	}

	ds := dayStats{cut: math.MinInt32}
	if r.calDays != nil {
		ds.cut = asOf - int32(c.opt.CalibrationDays)
	}
	c.walkDays(si, s, row, rec, &ds)
	r.pdays[g] = ds.n
	if r.calDays != nil {
		r.calDays[g], r.calLast[g] = ds.nCut, ds.lastCut
	}
	if r.repeat != nil && o > 0 {
		r.firstDay[g], r.repeat[g] = firstDay(rec), f64(rec[rRepeatSpend])
	}
	if ds.n >= 2 {
		r.gapMean[g], r.gapStd[g] = ds.gaps()
	} else {
		r.gapNull[g] = true
	}

	first := int64(extract.NoTime)
	if s.hasCust && s.known[row] {
		first = s.signup[row]
	}
	if o > 0 && (first == extract.NoTime || firstTS < first) {
		first = firstTS
	}
	if first == extract.NoTime {
		r.noTenure[g] = true
	} else {
		r.tenure[g] = asOf - f.clock.Day(first)
	}

	for j := range s.nW {
		r.winSpend[j][g] = f64(rec[s.ws+j])
		r.winOrders[j][g] = s.windowOrders(rec, j)
	}

	// A shard of a sharded run may have no level of a mix the fitted
	// vocabulary has: its customers then have no share to give.
	switch {
	case r.cat.on && s.ncat > 0:
		f.buf = s.catRow(rec, f.buf)
		f.shares(&r.cat, g, f.catOrder[si], f.buf, f.catCol[si])
	case r.cat.on:
		r.cat.null[g] = true
	}
	switch {
	case r.chn.on && s.chn.stride > 0:
		f.buf = s.chnRow(row, f.buf)
		f.shares(&r.chn, g, f.chnOrder[si], f.buf, f.chnCol[si])
	case r.chn.on:
		r.chn.null[g] = true
	}

	if r.evNull != nil {
		stride := 1 + s.nW
		ev := s.ev.at(row)
		for cl := range nEvClasses {
			r.evAll[cl][g] = ev[cl*stride]
			for j := range s.nW {
				r.evWin[cl][j][g] = ev[cl*stride+1+j]
			}
		}
		if last := s.evLast[row]; last == extract.NoTime {
			r.evNull[g] = true
		} else {
			r.evDays[g] = asOf - f.clock.Day(last)
		}
	}
	if r.measTotal != nil {
		m := s.meas.at(row)
		gross := s.gross(rec)
		for k, v := range m {
			r.measTotal[k][g] = v
			if gross > 0 {
				r.measShare[k][g] = v / gross
			}
		}
		if !(gross > 0) {
			r.measNull[g] = true
		}
	}
	if s.hasCust {
		f.attributes(g, s, row)
	} else {
		for k := range r.own {
			f.own(k, g, nil, 0)
		}
	}
}

// own fills the user's own attribute k of customer g (row of s, or none).
func (f *filler) own(k, g int, s *shard, row int) {
	oc := &f.c.cols.own[k]
	known := s != nil && s.known[row]
	if oc.num != nil {
		v := math.NaN()
		if known {
			v = s.ownNum[k][row]
		}
		if math.IsNaN(v) {
			oc.null[g] = true
		} else {
			oc.num[g] = v
		}
		return
	}
	code := int32(-1)
	if known {
		code = s.ownCode[k][row]
	}
	col := colUnknown
	if code >= 0 {
		src := "customers." + f.c.opt.Own[k].Name
		l := f.c.rank[src][code]
		col = oc.colOf[l]
		oc.level[g] = l
	}
	switch col {
	case colOther:
		col = len(oc.cols) - 2
	case colUnknown:
		col = len(oc.cols) - 1
	}
	oc.cols[col][g] = 1
}

// shares fills a level mix: each top level's share of the customer's
// total, and the rest as other; null when the total is zero.
func (f *filler) shares(ls *levelShares, g int, order []int, v []float64, col []int) {
	acc := f.acc[:len(ls.cols)]
	clear(acc)
	var total float64
	for _, slot := range order {
		x := v[slot]
		total += x
		acc[col[slot]] += x
	}
	if total == 0 {
		ls.null[g] = true
		return
	}
	for j, x := range acc {
		ls.cols[j][g] = x / total
	}
}

func (f *filler) attributes(g int, s *shard, row int) {
	c, r := f.c, &f.c.cols
	known := s.known[row]
	if r.hasAge {
		a := math.NaN()
		if known {
			if b := s.birth[row]; b != extract.NoTime {
				a = float64(ageYears(b, c.info.AsOf))
			} else {
				a = s.age[row]
			}
		}
		if math.IsNaN(a) {
			r.ageNull[g] = true
			r.ageBand[len(r.ageBand)-1][g] = 1
		} else {
			r.ageYears[g] = a
			i := 0
			for i < len(c.opt.AgeBands) && a >= float64(c.opt.AgeBands[i]) {
				i++
			}
			r.ageBand[i][g] = 1
		}
	}
	if r.hasIncome {
		v := math.NaN()
		if known {
			v = s.income[row]
		}
		if math.IsNaN(v) {
			r.incNull[g] = true
			r.incBand[len(r.incBand)-1][g] = 1
		} else {
			r.income[g] = v
			r.incBand[band(v, c.opt.IncomeBands)][g] = 1
		}
	}
	for a := range r.attr {
		ac := &r.attr[a]
		if !ac.on {
			continue
		}
		code := int32(-1)
		if known {
			code = s.attr[a][row]
		}
		rank := c.rank["customers."+extract.Attrs[a]]
		switch {
		case ac.enc == Frequency && code < 0:
			ac.null[g] = true
		case ac.enc == Frequency:
			ac.freq[g] = ac.share[rank[code]]
		default:
			col := colUnknown
			if code >= 0 {
				col = ac.colOf[rank[code]]
			}
			switch col {
			case colOther:
				col = len(ac.cols) - 2
			case colUnknown:
				col = len(ac.cols) - 1
			}
			ac.cols[col][g] = 1
		}
	}
	if r.hasInts {
		if known && s.intLen[row] > 0 {
			rank := c.rank["customers.interests"]
			for _, code := range s.intPool[s.intStart[row] : s.intStart[row]+s.intLen[row]] {
				if col := r.interestCol[rank[code]]; col >= 0 {
					r.interest[col][g] = 1
				}
			}
		} else {
			r.interestsUnknown[g] = 1
		}
	}
	for k := range r.own {
		f.own(k, g, s, row)
	}
	if r.hasOpt {
		if known && s.optIn[row] >= 0 {
			r.optIn[g] = int32(s.optIn[row])
		} else {
			r.optNull[g] = true
		}
	}
}
