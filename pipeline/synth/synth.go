// Package synth generates Strata's deterministic synthetic shop: customers,
// orders, engagement events and the ground truth they were drawn from.
//
// The data tell a true story so that downstream models have something to
// find. Each customer belongs to a planted Archetype; purchases follow the
// BG/NBD process and order values the Gamma-Gamma model, with the per-customer
// parameters written to the truth table. On top of the story the generator
// plants what real exports contain: malformed order rows, exact duplicates,
// refunds, and customers whose attributes change over time, so that
// quarantine and point-in-time logic are exercised too.
//
// Layout in the bucket (".csv" instead of ".parquet" in CSV mode):
//
//	customers/part-NNNNN.parquet  one row per customer version (updated_at)
//	orders/part-NNNNN.parquet     orders, refunds and noise, by customer then time
//	events/part-NNNNN.parquet     email opens and clicks, web and app sessions
//	truth/customers.parquet       archetype, λ, p, ν, purchases, dropout_at
//	truth/campaign.csv            a planted campaign's groups and effect (Campaign; CSV in either mode)
//	generate.json                 the Config used and the Stats; written last
//
// Output is a pure function of Config (Workers aside): every customer's draws
// come from PCG streams seeded by (Seed, customer index), customers are
// generated in fixed-size chunks by a bounded pool of workers, and chunks are
// written in index order. Chunks are streamed to the bucket, so memory stays
// bounded whatever the number of customers.
package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/strata-oss/strata/pipeline/holdout"
	"github.com/strata-oss/strata/pipeline/objstore"
)

// DefaultWindow is the demo shop's observation window, [start, end): data
// run from 2023-01-01 through 2025-09-30, UTC.
func DefaultWindow() (start, end time.Time) {
	return time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
}

// Defaults for Config's zero values.
const (
	DefaultRowsPerFile   = 1_000_000
	DefaultRowGroupRows  = 128 << 10
	DefaultBadRowRate    = 0.001
	DefaultDuplicateRate = 0.002
	DefaultRefundRate    = 0.02
)

// Fixed parts of the story that are not worth a knob.
const (
	// prospectRate is the share of customers who sign up and never buy.
	prospectRate = 0.05
	// secondVersionRate is the share of customers with a second, later
	// row in the customers table (moved city or changed income).
	secondVersionRate = 0.02
	// signupMargin keeps signups at least this long before End so that
	// every buyer's first order falls inside the window.
	signupMargin = 30 * 24 * time.Hour
	// chunkSize is the unit of parallel work. It must not depend on
	// Workers: parquet page boundaries follow the Write batches.
	chunkSize = 1024
	// maxCustomers is what fits the "C" + 8 digits id format.
	maxCustomers = 99_999_999
)

// Config says what to generate. The zero value of every field but Customers
// means its default; Generate's output is a function of Config only, and
// identical for any Workers.
type Config struct {
	Customers int       `json:"customers"`
	Seed      uint64    `json:"seed"`
	Start     time.Time `json:"start"`  // first instant of the shop's window; zero: DefaultWindow()
	End       time.Time `json:"end"`    // exclusive end of the window; zero: DefaultWindow()
	Format    string    `json:"format"` // "parquet" (default) or "csv"

	Archetypes []Archetype `json:"archetypes"` // nil: DefaultArchetypes()

	Workers      int `json:"-"`              // generating goroutines; ≤ 0: GOMAXPROCS. Never affects output.
	RowsPerFile  int `json:"rows_per_file"`  // rows per part file of each table; ≤ 0: DefaultRowsPerFile
	RowGroupRows int `json:"row_group_rows"` // Parquet row group size; ≤ 0: DefaultRowGroupRows

	// Noise rates per genuine order; 0 means the default, negative disables.
	BadRowRate    float64 `json:"bad_row_rate"`
	DuplicateRate float64 `json:"duplicate_rate"`
	RefundRate    float64 `json:"refund_rate"`

	// Campaign, when set, plants a campaign with a known uplift and
	// writes its truth to CampaignTruthKey. Nil leaves the output exactly
	// as it was before campaigns existed.
	Campaign *Campaign `json:"campaign,omitempty"`
}

// Stats counts what Generate wrote.
type Stats struct {
	Customers       int `json:"customers"`        // distinct customers
	CustomerRows    int `json:"customer_rows"`    // rows of the customers table (some customers have two versions)
	Orders          int `json:"orders"`           // rows of the orders table, noise included
	Events          int `json:"events"`           // rows of the events table
	BadOrders       int `json:"bad_orders"`       // malformed order rows
	DuplicateOrders int `json:"duplicate_orders"` // extra copies of an order row
	Refunds         int `json:"refunds"`          // refund rows
	// A planted campaign's audience, its control group, and the extra
	// purchases it added (before noise); absent without a campaign.
	CampaignAudience int      `json:"campaign_audience,omitempty"`
	CampaignControl  int      `json:"campaign_control,omitempty"`
	CampaignExtra    int      `json:"campaign_extra_purchases,omitempty"`
	Files            []string `json:"files"` // every object written, generate.json last
}

// ManifestKey is the object Generate writes last: the Config used and the
// Stats. Its presence means the data set is complete.
const ManifestKey = "generate.json"

// Generate writes a synthetic data set to b (see the package documentation
// for the layout) and reports what it wrote. On error some objects may
// already exist, but ManifestKey does not.
func Generate(ctx context.Context, b objstore.Bucket, cfg Config) (Stats, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return Stats{}, fmt.Errorf("synth: %w", err)
	}
	p, err := newPlan(cfg)
	if err != nil {
		return Stats{}, fmt.Errorf("synth: %w", err)
	}
	stats, err := run(ctx, b, p)
	if err != nil {
		return Stats{}, fmt.Errorf("synth: %w", err)
	}
	stats.Files = append(stats.Files, ManifestKey)
	manifest, err := json.MarshalIndent(struct {
		Config Config `json:"config"`
		Stats  Stats  `json:"stats"`
	}{cfg, stats}, "", "  ")
	if err != nil {
		return Stats{}, fmt.Errorf("synth: encode %s: %w", ManifestKey, err)
	}
	if err := b.Upload(ctx, ManifestKey, bytes.NewReader(append(manifest, '\n'))); err != nil {
		return Stats{}, fmt.Errorf("synth: upload %s: %w", ManifestKey, err)
	}
	return stats, nil
}

// normalize fills defaults and rejects what cannot be generated.
func (c Config) normalize() (Config, error) {
	if c.Customers <= 0 || c.Customers > maxCustomers {
		return c, fmt.Errorf("customers must be in 1..%d, got %d", maxCustomers, c.Customers)
	}
	defStart, defEnd := DefaultWindow()
	if c.Start.IsZero() {
		c.Start = defStart
	}
	if c.End.IsZero() {
		c.End = defEnd
	}
	// Whole seconds: CSV timestamps are RFC 3339 without a fraction, and
	// both formats must carry the same values.
	c.Start = c.Start.UTC().Truncate(time.Second)
	c.End = c.End.UTC().Truncate(time.Second)
	if c.End.Sub(c.Start) <= signupMargin {
		return c, fmt.Errorf("window %s..%s must be longer than %s", c.Start, c.End, signupMargin)
	}
	switch c.Format {
	case "":
		c.Format = "parquet"
	case "parquet", "csv":
	default:
		return c, fmt.Errorf("unknown format %q (want parquet or csv)", c.Format)
	}
	if c.Archetypes == nil {
		c.Archetypes = DefaultArchetypes()
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.RowsPerFile <= 0 {
		c.RowsPerFile = DefaultRowsPerFile
	}
	if c.RowGroupRows <= 0 {
		c.RowGroupRows = DefaultRowGroupRows
	}
	for _, r := range []struct {
		name string
		v    *float64
		def  float64
	}{{"bad row rate", &c.BadRowRate, DefaultBadRowRate}, {"duplicate rate", &c.DuplicateRate, DefaultDuplicateRate}, {"refund rate", &c.RefundRate, DefaultRefundRate}} {
		if *r.v == 0 {
			*r.v = r.def
		}
		if math.IsNaN(*r.v) || *r.v > 1 {
			return c, fmt.Errorf("%s must be at most 1, got %v", r.name, *r.v)
		}
	}
	if c.Campaign != nil {
		cp, err := c.Campaign.normalize(c.Start, c.End)
		if err != nil {
			return c, err
		}
		c.Campaign = &cp
	}
	return c, nil
}

// rate is a noise rate in effect: negative means disabled.
func rate(v float64) float64 { return max(v, 0) }

// chunk is the output of chunkSize consecutive customers.
type chunk struct {
	customers []customerRecord
	orders    []orderRecord
	orderSeq  []int64 // per order row: its id relative to the chunk; duplicates share one
	orderIDs  int64   // distinct order ids in the chunk
	events    []eventRecord
	truth     []truthRecord
	campaign  []campaignRecord

	bad, dups, refunds int

	// pending counts the table writers that have yet to finish with the
	// chunk; the last one hands it back for reuse.
	pending atomic.Int32
}

// reset empties c for reuse, keeping its buffers.
func (c *chunk) reset() {
	c.customers = c.customers[:0]
	c.orders = c.orders[:0]
	c.orderSeq = c.orderSeq[:0]
	c.orderIDs = 0
	c.events = c.events[:0]
	c.truth = c.truth[:0]
	c.campaign = c.campaign[:0]
	c.bad, c.dups, c.refunds = 0, 0, 0
}

// run generates chunks in parallel and streams them, in index order, to one
// writer goroutine per table.
func run(ctx context.Context, b objstore.Bucket, p *plan) (Stats, error) {
	g, ctx := errgroup.WithContext(ctx)
	nChunks := (p.cfg.Customers + chunkSize - 1) / chunkSize

	type job struct {
		index int
		out   chan<- *chunk
	}
	jobs := make(chan job)
	// futures holds one result slot per chunk in index order; its capacity
	// bounds how far generation may run ahead of writing.
	futures := make(chan chan *chunk, 2*p.cfg.Workers)

	g.Go(func() error {
		defer close(futures)
		defer close(jobs)
		for i := range nChunks {
			out := make(chan *chunk, 1)
			select {
			case futures <- out:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- job{i, out}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	// Chunks in flight are recycled: the allocator, not the CPU, is
	// otherwise the bottleneck at millions of rows.
	free := make(chan *chunk, cap(futures)+p.cfg.Workers+8)
	for range p.cfg.Workers {
		g.Go(func() error {
			gen := newGenerator(p)
			for j := range jobs {
				if err := ctx.Err(); err != nil {
					return err
				}
				var c *chunk
				select {
				case c = <-free:
					c.reset()
				default:
					c = new(chunk)
				}
				lo := j.index * chunkSize
				hi := min(lo+chunkSize, p.cfg.Customers)
				gen.chunk(c, lo, hi)
				j.out <- c
			}
			return nil
		})
	}

	tables := newTables(ctx, b, p.cfg)
	sinks := make([]chan *chunk, len(tables))
	for i, t := range tables {
		sinks[i] = make(chan *chunk, 2)
		g.Go(func() (err error) {
			defer func() {
				if err != nil {
					t.abort(err)
				}
			}()
			for c := range sinks[i] {
				if err := t.writeChunk(c); err != nil {
					return err
				}
				if c.pending.Add(-1) == 0 {
					select {
					case free <- c:
					default:
					}
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			return t.close()
		})
	}

	var stats Stats
	g.Go(func() error {
		defer func() {
			for _, s := range sinks {
				close(s)
			}
		}()
		for out := range futures {
			var c *chunk
			select {
			case c = <-out:
			case <-ctx.Done():
				return ctx.Err()
			}
			stats.Customers += len(c.truth)
			stats.CustomerRows += len(c.customers)
			stats.Orders += len(c.orders)
			stats.Events += len(c.events)
			stats.BadOrders += c.bad
			stats.DuplicateOrders += c.dups
			stats.Refunds += c.refunds
			for _, r := range c.campaign {
				stats.CampaignAudience++
				if r.Group == holdout.Control {
					stats.CampaignControl++
				}
				stats.CampaignExtra += r.Extra
			}
			c.pending.Store(int32(len(sinks)))
			for _, s := range sinks {
				select {
				case s <- c:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return Stats{}, err
	}
	if stats.Customers != p.cfg.Customers {
		return Stats{}, errors.New("internal error: lost customers") // a dispatch bug, never data
	}
	for _, t := range tables {
		stats.Files = append(stats.Files, t.files()...)
	}
	return stats, nil
}
