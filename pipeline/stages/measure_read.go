package stages

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/holdout"
	"github.com/strata-oss/strata/pipeline/measure"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/tables"
)

// readAudience reads the customers and groups of audience name as run m
// published them. ok is false when the table has no group column (or a
// group that is neither treatment nor control), or no customer_id: the
// audience had no control group then.
func readAudience(ctx context.Context, out objstore.Bucket, m *publish.Manifest, name string) (ids, groups []string, ok bool, err error) {
	src := tables.Source{Bucket: out, Format: "parquet", Fields: []tables.Field{
		{Name: "customer_id", Kind: tables.String},
		{Name: "group", Kind: tables.String},
	}}
	ok = true
	for _, key := range m.Tables[audienceTable(name)].Keys {
		if !strings.HasSuffix(key, ".parquet") {
			continue
		}
		err := src.ScanObject(ctx, key, func(b *tables.Batch) error {
			id, g := &b.Cols[0], &b.Cols[1]
			if !id.Present || !g.Present {
				ok = false
				return nil
			}
			for i := range b.N {
				if id.IsNull(i) {
					continue
				}
				switch {
				case g.IsNull(i):
					ok = false
				case g.Str[i] == holdout.Control:
					groups = append(groups, measure.GroupControl)
				case g.Str[i] == holdout.Treatment:
					groups = append(groups, measure.GroupTreated)
				default:
					ok = false
				}
				if !ok {
					return nil
				}
				ids = append(ids, strings.Clone(id.Str[i])) // the batch's strings are reused
			}
			return nil
		})
		if err != nil {
			return nil, nil, false, fmt.Errorf("read audience %s of the run of %s: %w", name, m.AsOf, err)
		}
		if !ok {
			return nil, nil, false, nil
		}
	}
	return ids, groups, true, nil
}

// orderSink keeps, of the cleaned orders a run reads, those of the
// customers in want (ids as published) stamped in [from, to): what the
// measured windows can hold, and nothing after them. Memory is the kept
// orders, not the run's.
type orderSink struct {
	from, to int64 // µs
	// want maps each measured id to itself: the copy the sink keeps (a
	// block's ids may be views of buffers the reader reuses).
	want   map[string]string
	pub    func(string) string
	orders measure.Orders
}

func (s *orderSink) Begin(extract.Info) error { return nil }

func (s *orderSink) Customers(b *extract.CustomerBlock) error { b.Release(); return nil }

func (s *orderSink) Events(b *extract.EventBlock) error { b.Release(); return nil }

func (s *orderSink) Orders(b *extract.OrderBlock) error {
	s.collect(b)
	b.Release()
	return nil
}

// sink returns a sink of the orders sp spans; pub maps an id as read to
// the id as published (nil: the same).
func (sp *span) sink(pub func(string) string) *orderSink {
	return &orderSink{from: sp.from.UnixMicro(), to: sp.to.UnixMicro(), want: sp.want, pub: pub}
}

// collect keeps the orders of b the sink wants; it neither keeps nor
// releases b.
func (s *orderSink) collect(b *extract.OrderBlock) {
	for i := range b.N {
		if b.Drop != nil && b.Drop[i] {
			continue
		}
		t := b.Time[i]
		if t < s.from || t >= s.to {
			continue
		}
		id := b.ID(i)
		if s.pub != nil {
			id = s.pub(id)
		}
		kept, ok := s.want[id]
		if !ok {
			continue
		}
		s.orders.CustomerID = append(s.orders.CustomerID, kept)
		s.orders.At = append(s.orders.At, time.UnixMicro(t))
		s.orders.Net = append(s.orders.Net, b.Amount[i])
	}
}

// laterOrders streams r's orders again, over every customer, and returns
// those sp spans (its customers, its instants): the same cleaning
// as the run's (duplicates dropped, returns negative, rates applied,
// suppressed customers left out), the same as-of cutoff.
func laterOrders(ctx context.Context, r *Run, sp *span) (measure.Orders, error) {
	spec := r.Spec
	spec.Keep, spec.Customers, spec.Events = nil, nil, nil
	s := sp.sink(r.PublishedID)
	if _, err := extract.Stream(ctx, spec, r.Config.Workers, s); err != nil {
		return measure.Orders{}, fmt.Errorf("read the orders after the measured runs: %w", err)
	}
	return s.orders, nil
}

// readSegments reads what the measurement needs of run m's segments
// table: each customer's RFM segment, cluster, frequency and CLV
// predictions (null predictions NaN).
func readSegments(ctx context.Context, out objstore.Bucket, m *publish.Manifest) (*measure.Customers, error) {
	src := tables.Source{Bucket: out, Format: "parquet", Fields: []tables.Field{
		{Name: "customer_id", Kind: tables.String, Required: true},
		{Name: "rfm_segment", Kind: tables.String, Required: true},
		{Name: "frequency", Kind: tables.Int, Required: true},
		{Name: "cluster_id", Kind: tables.Int},
		{Name: "cluster_name", Kind: tables.String},
		{Name: "expected_purchases", Kind: tables.Float},
		{Name: "clv", Kind: tables.Float},
	}}
	c := &measure.Customers{}
	names := interner{}
	num := func(col *tables.Column, i int) float64 {
		if !col.Present || col.IsNull(i) {
			return math.NaN()
		}
		return col.F[i]
	}
	for _, key := range m.Tables["segments"].Keys {
		if !strings.HasSuffix(key, ".parquet") {
			continue
		}
		err := src.ScanObject(ctx, key, func(b *tables.Batch) error {
			id, seg, freq, cl, name := &b.Cols[0], &b.Cols[1], &b.Cols[2], &b.Cols[3], &b.Cols[4]
			for i := range b.N {
				if id.IsNull(i) {
					continue
				}
				c.ID = append(c.ID, strings.Clone(id.Str[i])) // the batch's strings are reused
				s := ""
				if !seg.IsNull(i) {
					s = names.of(seg.Str[i])
				}
				c.RFMSegment = append(c.RFMSegment, s)
				var f int32
				if !freq.IsNull(i) {
					f = int32(freq.I[i])
				}
				c.Frequency = append(c.Frequency, f)
				clustered := cl.Present && !cl.IsNull(i)
				c.Clustered = append(c.Clustered, clustered)
				var cid int32
				var cname string
				if clustered {
					cid = int32(cl.I[i])
					if name.Present && !name.IsNull(i) {
						cname = names.of(name.Str[i])
					}
				}
				c.ClusterID = append(c.ClusterID, cid)
				c.ClusterName = append(c.ClusterName, cname)
				c.ExpectedPurchases = append(c.ExpectedPurchases, num(&b.Cols[5], i))
				c.CLV = append(c.CLV, num(&b.Cols[6], i))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the segments of the run of %s: %w", m.AsOf, err)
		}
	}
	return c, nil
}

// interner keeps one copy of each of a column's few distinct strings
// (segment and cluster names).
type interner map[string]string

func (in interner) of(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	v := strings.Clone(s)
	in[v] = v
	return v
}
