package extract

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/strata-oss/strata/pipeline/tables"
)

// Info tells the sink what the blocks will hold, before the first one.
type Info struct {
	AsOf     time.Time // midnight starting the as-of day, in Location
	AsOfDay  int32     // its day number (days since 1970-01-01)
	Cutoff   int64     // µs; every row delivered is stamped before it
	Location *time.Location
	// IntIDs says the customer id is an integer column in every input
	// object, so blocks carry Keys.Int; otherwise Keys.Str.
	IntIDs bool
	// IDRange, when HasIDRange, holds the smallest and largest integer
	// customer id of every input, from the Parquet statistics.
	IDRange    [2]int64
	HasIDRange bool
	// Rows is the number of rows the inputs declare, -1 when unknown (CSV).
	Rows int64
	// OrderRows is the part of Rows the orders inputs declare, 0 when
	// unknown or none: with the id range, how often each customer's
	// aggregates will be updated.
	OrderRows int64
	// Levels holds the dictionaries of the categorical columns, by
	// "table.column": orders.category, orders.channel, events.event_type,
	// events.channel, customers.<attr> for each of Attrs, and
	// customers.interests.
	Levels map[string]*Levels
	// Tables lists the tables that will be read, in order.
	Tables []string
}

// Sink receives the accepted rows of a run in input order: every block of
// the customers table, then the orders', then the events'. Its methods are
// called from one goroutine, and an error stops the run. The sink must call
// Release on every block it is given once it is done with it, from any
// goroutine; until then the block is not reused.
type Sink interface {
	Begin(Info) error
	Customers(*CustomerBlock) error
	Orders(*OrderBlock) error
	Events(*EventBlock) error
}

// Partitioner is implemented by a sink whose consumers each own part of
// the customers. The readers then list, in every order block, the rows of
// each part (OrderBlock.Parts), in parallel, so that no consumer has to
// look at every row of every block.
type Partitioner interface {
	// Parts is the number of parts; Part the part of row i's customer.
	// Part is called from several goroutines at once, after Begin.
	Parts() int
	Part(k *Keys, i int) int
}

// Hinter is implemented by a sink that can do some of its per-row work on
// the readers' goroutines: HintOrders is called with every order block,
// from several goroutines at once, after Begin and before the block is
// delivered. It may fill the block's Hint and must not change anything
// else. A sink whose consumer is the busier side of the stream uses it to
// move work to the readers.
type Hinter interface {
	HintOrders(*OrderBlock)
}

// Stream reads the tables of spec with a pool of workers (≤ 0: GOMAXPROCS)
// and feeds their accepted rows to sink. Schemas are checked for every
// object before any row is read, so a mismatch fails fast. The Dataset it
// returns has the quality counts, quarantine and input fingerprints; its
// customer dictionary is the sink's to fill.
func Stream(ctx context.Context, spec Spec, workers int, sink Sink) (*Dataset, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	loc := spec.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := spec.AsOf.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, loc)
	ds := &Dataset{AsOf: day, Cutoff: day.AddDate(0, 0, 1).UnixMicro(), Location: loc, Quality: newQuality()}
	info := Info{AsOf: day, AsOfDay: NewClock(loc).Day(day.UnixMicro()), Cutoff: ds.Cutoff, Location: loc,
		IntIDs: true, Levels: map[string]*Levels{}}
	for _, name := range []string{"orders.category", "orders.channel", "events.event_type", "events.channel", "customers.interests"} {
		info.Levels[name] = &Levels{}
	}
	for _, a := range Attrs {
		info.Levels["customers."+a] = &Levels{}
	}
	if spec.Customers != nil {
		for _, o := range spec.Customers.Own {
			if o.Categorical {
				info.Levels["customers."+o.Name] = &Levels{}
			}
		}
	}
	// The list is read first: a run that cannot apply it in full must
	// stop before it reads anything else.
	var sup *Suppression
	var supInputs []Input
	if spec.Suppression != nil {
		var err error
		if sup, supInputs, err = ReadSuppression(ctx, spec.Suppression); err != nil {
			return nil, err
		}
	}
	var fx *fxRates
	if spec.FX != nil {
		var fxInputs []Input
		var err error
		if fx, fxInputs, err = readFX(ctx, spec.FX, NewClock(loc)); err != nil {
			return nil, err
		}
		supInputs = append(supInputs, fxInputs...)
	}
	ts := spec.tables()
	info.HasIDRange = true
	info.IDRange = [2]int64{math.MaxInt64, math.MinInt64}
	for _, t := range ts {
		src := t.table.source(t.fields)
		in, err := src.Inspect(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		info.IntIDs = info.IntIDs && in.IntKeys["customer_id"]
		r, ok := in.KeyRange["customer_id"]
		info.HasIDRange = info.HasIDRange && ok
		info.IDRange = [2]int64{min(info.IDRange[0], r[0]), max(info.IDRange[1], r[1])}
		if in.Rows < 0 || info.Rows < 0 {
			info.Rows = -1
		} else {
			info.Rows += in.Rows
		}
		if t.name == "orders" && in.Rows > 0 {
			info.OrderRows = in.Rows
		}
		info.Tables = append(info.Tables, t.name)
	}
	info.HasIDRange = info.HasIDRange && info.IntIDs && info.IDRange[0] <= info.IDRange[1]
	for _, t := range ts {
		if err := ds.fingerprint(ctx, t.name, t.table, t.table.source(t.fields)); err != nil {
			return nil, err
		}
	}
	ds.Inputs = append(ds.Inputs, supInputs...)
	if err := sink.Begin(info); err != nil {
		return nil, err
	}
	st := &streamer{ds: ds, info: info, sink: sink, workers: workers, sup: sup, keep: spec.Keep, view: spec.Quarantine,
		rules: spec.Rules, fx: fx, currencies: map[string]bool{}}
	if st.rules == nil {
		st.rules = &Rules{GuestsBad: true, ZeroPurchases: true} // as extraction was before rules
	}
	ds.LastOrder = NoTime
	for _, t := range ts {
		if err := st.table(ctx, t); err != nil {
			return nil, err
		}
		if t.name == "orders" {
			if err := st.ordersDone(); err != nil {
				return nil, err
			}
		}
	}
	ds.Quarantine.sortRows()
	return ds, nil
}

// ordersDone closes the orders still open, and checks the currencies.
func (st *streamer) ordersDone() error {
	if st.lines != nil {
		if err := st.lines.flush(); err != nil {
			return err
		}
	}
	// The currencies of the accepted rows, and of those refused for want
	// of a rate.
	if len(st.currencies) > 0 {
		for c := range st.currencies {
			st.ds.Currencies = append(st.ds.Currencies, c)
		}
		sort.Strings(st.ds.Currencies)
	}
	if len(st.ds.Currencies) > 1 && st.fx == nil {
		return &CurrencyError{Currencies: st.ds.Currencies,
			Msg: "summing them would mix units; give input.fx (a table of date, currency, rate) and a reporting_currency to convert them"}
	}
	if st.fx != nil {
		var unknown []string
		for _, c := range st.ds.Currencies {
			if _, ok := st.fx.by[c]; !ok && c != st.fx.reporting {
				unknown = append(unknown, c)
			}
		}
		if len(unknown) > 0 {
			// Not a row's problem but the rates table's: it lacks a
			// currency the orders use.
			return &CurrencyError{Currencies: unknown, Msg: "input.fx has no rates for them"}
		}
		st.ds.Currencies = []string{st.fx.reporting}
	}
	if len(st.ds.Currencies) == 1 {
		st.ds.Quality.Currency = st.ds.Currencies[0]
	}
	return nil
}

type streamer struct {
	ds      *Dataset
	info    Info
	sink    Sink
	workers int
	seen    idSet        // order-id hashes
	seenRow u64Set       // order-id and content hashes of the orders' first rows
	sup     *Suppression // nil: none
	keep    *Keep        // nil: every customer
	view    QuarantineView
	rules   *Rules
	fx      *fxRates
	lines   *lineGrouper // with line grain, once the orders table starts
	// currencies of the accepted orders.
	currencies map[string]bool
}

// accept books the accepted rows of a block the sink is about to get:
// the newest order and the revenue.
func (st *streamer) accept(blk *OrderBlock) {
	for i := range blk.N {
		if blk.Drop[i] {
			continue
		}
		st.ds.LastOrder = max(st.ds.LastOrder, blk.Time[i])
		st.ds.Revenue += blk.Amount[i]
	}
}

func (st *streamer) newReader(t namedTable, pool *blockPool) rowReader {
	env := readerEnv{cutoff: st.info.Cutoff, intIDs: st.info.IntIDs, clock: NewClock(st.info.Location),
		fields: t.fields, table: t.name, pool: pool, sup: st.sup, keep: st.keep, view: &st.view, norm: st.rules.IDs}
	keys := keyReader{intIDs: st.info.IntIDs, norm: st.rules.IDs}
	lv := func(name string) *levelReader { return newLevelReader(st.info.Levels[name]) }
	switch t.name {
	case "customers":
		r := &customerReader{readerEnv: env, keys: keys, interest: lv("customers.interests")}
		for a, name := range Attrs {
			r.attr[a] = lv("customers." + name)
		}
		for _, o := range t.table.Own {
			var l *levelReader
			if o.Categorical {
				l = lv("customers." + o.Name)
			}
			r.own = append(r.own, l)
		}
		return r
	case "events":
		return &eventReader{readerEnv: env, keys: keys, typ: lv("events.event_type"), chn: lv("events.channel")}
	}
	r := &orderReader{readerEnv: env, keys: keys, category: lv("orders.category"), chn: lv("orders.channel"),
		rules: st.rules, fx: st.fx, measures: len(t.table.Own)}
	_, r.discount = t.table.Columns["discount"]
	if p, ok := st.sink.(Partitioner); ok && p.Parts() > 1 {
		r.part, r.parts = p, p.Parts()
	}
	r.hinter, _ = st.sink.(Hinter)
	return r
}

// blockPool recycles a table's blocks. Unlike a sync.Pool it survives
// garbage collections, so a long table does not reallocate its blocks
// after every one; it holds at most as many as can be in flight.
type blockPool struct {
	free chan blockRef
	make func() blockRef
}

func (p *blockPool) Get() any {
	select {
	case b := <-p.free:
		return b
	default:
		return p.make()
	}
}

func (p *blockPool) put(b blockRef) {
	select {
	case p.free <- b:
	default:
	}
}

func newPool(table string, workers int) *blockPool {
	p := &blockPool{free: make(chan blockRef, 4*workers+16)}
	p.make = func() blockRef {
		switch table {
		case "customers":
			b := &CustomerBlock{Block: newBase()}
			b.release = func() { p.put(b) }
			return b
		case "events":
			b := &EventBlock{Block: newBase()}
			b.release = func() { p.put(b) }
			return b
		}
		b := &OrderBlock{Block: newBase()}
		b.release = func() { p.put(b) }
		return b
	}
	return p
}

// job is one unit on its way through a worker to the coordinator.
type job struct {
	u   tables.Unit
	out chan blockRef
	// first marks a table's first unit: its worker decodes it with
	// every worker's share of the processors, and closes decoded when
	// its first rows are out (or it failed), before the next unit is
	// handed out.
	first   bool
	decoded chan struct{}
}

// table streams one table: a producer lists the units in order, workers
// decode and check them, and the coordinator (this goroutine's errgroup
// member) takes their blocks in unit order. Every unit has its own small
// channel, so a worker ahead of the coordinator waits rather than piling
// up blocks: at most workers+1 units are in flight.
func (st *streamer) table(ctx context.Context, t namedTable) error {
	src := t.table.source(t.fields)
	pool := newPool(t.name, st.workers)
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *job)
	order := make(chan *job, st.workers)
	g.Go(func() error {
		defer close(order)
		defer close(work)
		// The first unit holds up the whole table: nothing is delivered
		// until it is decoded, and a Parquet row group is decoded whole
		// when its pages are large (DuckDB writes a 1M-row group's column
		// as one page). So it is decoded a column per worker, and the
		// next unit waits: two workers each on a group of their own had
		// the first rows out after 54 ms of a 10M-row file's 600.
		var prev *job
		return src.Units(gctx, func(u tables.Unit) error {
			j := &job{u: u, out: make(chan blockRef, 2), first: prev == nil, decoded: make(chan struct{})}
			if prev != nil && prev.first {
				select {
				case <-prev.decoded:
				case <-gctx.Done():
					u.Release()
					return gctx.Err()
				}
			}
			prev = j
			select {
			case order <- j:
			case <-gctx.Done():
				u.Release()
				return gctx.Err()
			}
			select {
			case work <- j:
				return nil
			case <-gctx.Done():
				u.Release()
				return gctx.Err()
			}
		})
	})
	for range st.workers {
		g.Go(func() error {
			rd := st.newReader(t, pool)
			batch := &tables.Batch{}
			for j := range work {
				if gctx.Err() != nil {
					j.u.Release()
					close(j.decoded)
					continue
				}
				batch.ColumnWorkers = 0
				if j.first {
					batch.ColumnWorkers = st.workers
				}
				if us, ok := rd.(interface{ startUnit() }); ok {
					us.startUnit()
				}
				decoded := sync.OnceFunc(func() { close(j.decoded) })
				err := src.ReadUnit(gctx, j.u, batch, func(b *tables.Batch) error {
					decoded()
					return rd.read(b, func(blk blockRef) error {
						select {
						case j.out <- blk:
							return nil
						case <-gctx.Done():
							return gctx.Err()
						}
					})
				})
				decoded()
				close(j.out)
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		if t.name == "orders" && st.rules.Lines && st.lines == nil {
			st.lines = newLineGrouper(st, st.newReader(t, newPool(t.name, 1)).(*orderReader))
		}
		for j := range order {
			for {
				var blk blockRef
				var ok bool
				select {
				case blk, ok = <-j.out:
				case <-gctx.Done():
					return gctx.Err()
				}
				if !ok {
					break
				}
				if err := st.deliver(t.name, blk); err != nil {
					return err
				}
			}
		}
		return nil
	})
	err := g.Wait()
	var se *tables.SchemaError
	if err != nil && !errors.As(err, &se) && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%s: %w", t.name, err)
	}
	return err
}

// deliver books one block's counts and quarantine, drops duplicate
// orders, and hands the block to the sink. It runs in input order.
func (st *streamer) deliver(table string, ref blockRef) error {
	b := ref.base()
	q := &st.ds.Quality
	q.RowsRead[table] += b.rowsRead
	addBytes(&q.BytesRead, table, b.bytesRead)
	addBytes(&q.BadBytes, table, b.badBytes)
	if b.noAmount {
		st.ds.NoAmount = true
	}
	for r, n := range b.bad {
		add2(q.Bad, table, r, n)
	}
	for r, n := range b.excluded {
		add2(q.Excluded, table, r, n)
	}
	for c, n := range b.invalid {
		add2(q.Invalid, table, c, n)
	}
	st.ds.Quarantine.append(&b.quar)
	switch blk := ref.(type) {
	case *OrderBlock:
		for c := range blk.currency {
			st.currencies[c] = true
		}
		q.GuestRevenue += blk.guestRevenue
		if st.lines != nil {
			return st.lines.add(blk)
		}
		dups, conflicts := 0, 0
		if blk.orderID != nil {
			for i := range blk.N {
				rh := blk.rh[i] ^ blk.oh[i].hi*0x9e3779b97f4a7c15
				if blk.orderID[i] == "" {
					continue
				}
				if st.seen.add(blk.oh[i]) {
					st.seenRow.add(rh)
					continue
				}
				blk.Drop[i] = true
				dups++
				// Its customer is not suppressed (the reader dropped
				// those); its order id may still name one.
				if st.sup.matchText(blk.orderID[i]) {
					add2(q.Excluded, table, ExcludedSuppressed, 1)
					continue
				}
				id := st.view.id(strings.Clone(blk.ID(i)))
				if st.seenRow.add(rh) {
					// Another row of the order, not a copy of it: a
					// line of an order, most likely.
					add2(q.Bad, table, ReasonConflictingOrder, 1)
					conflicts++
					st.ds.Quarantine.add(table, blk.object, blk.srcRow[i], ReasonConflictingOrder, id,
						blk.dupDetail(i, id)+" hint=\"another row has this order_id with other values; if rows are order lines, set input.orders.grain: line\"")
					continue
				}
				st.ds.Quarantine.add(table, blk.object, blk.srcRow[i], ReasonDuplicateOrder, id, blk.dupDetail(i, id))
			}
		}
		blk.Dropped = dups
		if n := dups - conflicts; n > 0 {
			q.Duplicates[table] += int64(n)
		}
		st.ds.Orders += blk.N - dups
		st.accept(blk)
		return st.sink.Orders(blk)
	case *CustomerBlock:
		return st.sink.Customers(blk)
	case *EventBlock:
		return st.sink.Events(blk)
	}
	return fmt.Errorf("unknown block %T", ref)
}
