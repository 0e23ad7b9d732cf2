package features

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/strata-oss/strata/pipeline/extract"
)

// Aggregates is the result of reading a run's inputs: the dataset (the
// customer dictionary, quality, quarantine, fingerprints) and the
// per-customer running aggregates, held by shard until Compute turns them
// into features.
type Aggregates struct {
	Dataset *extract.Dataset
	opt     Options
	info    extract.Info
	shards  []*shard
	loc     []uint64 // by customer row: shard<<32 | the shard's row
}

// Extract streams the inputs of spec through the feature engine: row
// groups are decoded and checked by a bounded pool of opt.Workers
// goroutines, put back in input order, and aggregated per customer by as
// many shards, each owning the customers whose id hashes to it. Nothing
// but the aggregates is kept, so memory grows with the number of
// customers, not of orders.
func Extract(ctx context.Context, spec extract.Spec, opt Options) (*Aggregates, error) {
	if err := opt.Validate(); err != nil {
		return nil, fmt.Errorf("feature options: %w", err)
	}
	opt = opt.resolved()
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	e := &engine{opt: &opt}
	ds, err := extract.Stream(ctx, spec, opt.Workers, e)
	e.stop()
	if err != nil {
		return nil, err
	}
	var fin sync.WaitGroup
	for _, s := range e.shards {
		fin.Go(s.finishCats)
	}
	fin.Wait()
	a := &Aggregates{Dataset: ds, opt: opt, info: e.info, shards: e.shards}
	a.order()
	// The decode buffers, blocks and lookup tables are garbage now. One
	// collection here lets the feature columns reuse their memory instead
	// of growing the heap past it: the peak is the aggregates plus the
	// columns, not plus a few hundred megabytes of dead buffers.
	runtime.GC()
	var unknown int64
	for _, s := range a.shards {
		unknown += s.unknownEv
		ds.Events += int(s.events)
	}
	if unknown > 0 {
		if ds.Quality.Excluded["events"] == nil {
			ds.Quality.Excluded["events"] = map[string]int64{}
		}
		ds.Quality.Excluded["events"][extract.ExcludedUnknownCustomer] += unknown
	}
	return a, nil
}

// engine is the extract.Sink: it fans every block out to all shards, each
// running on its own goroutine, and releases a block when the last shard
// is done with it. The number of shards never changes a result: every
// shard sees every block in input order and owns its customers outright.
type engine struct {
	opt    *Options
	info   extract.Info
	shards []*shard
	in     []chan *shared
	wg     sync.WaitGroup
}

type shared struct {
	blk  any // *extract.OrderBlock, *extract.CustomerBlock or *extract.EventBlock
	rel  func()
	left atomic.Int32
}

func (e *engine) Begin(info extract.Info) error {
	e.info = info
	// Shards: the readers sort each block's rows by shard (Parts), so
	// shards do not scan each other's rows. While reading, decoding a row
	// and aggregating it cost about the same and the decoders are Workers
	// goroutines already, so half as many shards keep the processors busy
	// (and hold less memory: on 50M rows, 457 MiB with one shard on 2
	// cores, 750 MiB with two).
	n := shardCount(e.opt.Workers, info.Rows, e.opt.shardRows)
	for i := range n {
		s := newShard(i, n, e.opt, info)
		ch := make(chan *shared, 4)
		e.shards = append(e.shards, s)
		e.in = append(e.in, ch)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for m := range ch {
				switch b := m.blk.(type) {
				case *extract.OrderBlock:
					s.orders(b)
				case *extract.CustomerBlock:
					s.customers(b)
				case *extract.EventBlock:
					s.eventsOf(b)
				}
				if m.left.Add(-1) == 0 {
					m.rel()
				}
			}
			s.endBatches()
		}()
	}
	return nil
}

// shardCount is the number of shards for workers reading rows rows (-1:
// unknown, CSV): half the workers, but no more than one per shardRows
// rows (default a page of records, pageRows). A shard's arrays start at a
// whole page of customers, and a huge one faults in the next ahead of
// need: 300 workers on 30,000 orders made 150 shards holding 2.7 GiB of
// pages for 3,000 customers. Fewer shards never change a result.
func shardCount(workers int, rows int64, shardRows int) int {
	n := max((workers+1)/2, 1)
	if shardRows <= 0 {
		shardRows = pageRows
	}
	if rows >= 0 {
		n = min(n, max(1, int((rows+int64(shardRows)-1)/int64(shardRows))))
	}
	return n
}

// Parts and Part make the engine an extract.Partitioner: the readers
// sort each order block's rows by shard, in parallel, so a shard reads
// only its own rows.
func (e *engine) Parts() int { return len(e.shards) }

func (e *engine) Part(k *extract.Keys, i int) int {
	for p, s := range e.shards {
		if s.mine(k, i) {
			return p
		}
	}
	return 0 // unreachable: every id belongs to one shard
}

// HintOrders makes the engine an extract.Hinter: with one shard of
// directly addressed ids, the readers look each row's customer up in the
// shard's direct table. The lookups are a cache miss each on a table of
// megabytes, and the shard's goroutine is the stream's busiest: on 10M
// orders it waited on them for a third of its time while the readers had
// room. When none of the block's rows can be dropped as a duplicate, the
// readers add the customers the table lacks too (directRows with add):
// adding them was a fifth of the shard's time on 10M orders, a million
// customers.
// Otherwise the shard adds them as it meets them, and looks up again a
// customer the table did not have yet.
func (e *engine) HintOrders(b *extract.OrderBlock) {
	if len(e.shards) != 1 || e.shards[0].dict.direct == nil || b.Int == nil {
		b.Hint = b.Hint[:0]
		return
	}
	if b.Hint == nil {
		b.Hint = make([]int32, 0, extract.BlockRows)
	}
	b.Hint = e.shards[0].dict.directRows(b.Int[:b.N], b.Hint[:0], !b.MayDrop())
}

func (e *engine) send(blk any, rel func()) error {
	m := &shared{blk: blk, rel: rel}
	m.left.Store(int32(len(e.in)))
	for _, ch := range e.in {
		ch <- m
	}
	return nil
}

func (e *engine) Customers(b *extract.CustomerBlock) error { return e.send(b, b.Release) }
func (e *engine) Orders(b *extract.OrderBlock) error {
	if tap := e.opt.OrderTap; tap != nil {
		tap(b)
	}
	return e.send(b, b.Release)
}
func (e *engine) Events(b *extract.EventBlock) error { return e.send(b, b.Release) }

// stop lets the shards finish the blocks they have and waits for them.
func (e *engine) stop() {
	for _, ch := range e.in {
		close(ch)
	}
	e.wg.Wait()
	e.in = nil
}
