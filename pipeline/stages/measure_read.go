package stages

import (
	"context"
	"fmt"
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
// group that is neither treatment nor control): the audience had no
// control group then.
func readAudience(ctx context.Context, out objstore.Bucket, m *publish.Manifest, name string) (ids, groups []string, ok bool, err error) {
	src := tables.Source{Bucket: out, Format: "parquet", Fields: []tables.Field{
		{Name: "customer_id", Kind: tables.String, Required: true},
		{Name: "group", Kind: tables.String},
	}}
	ok = true
	for _, key := range m.Tables[audienceTable(name)].Keys {
		if !strings.HasSuffix(key, ".parquet") {
			continue
		}
		err := src.ScanObject(ctx, key, func(b *tables.Batch) error {
			id, g := &b.Cols[0], &b.Cols[1]
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
				ids = append(ids, id.Str[i])
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
	want     map[string]struct{}
	pub      func(string) string
	orders   measure.Orders
}

func (s *orderSink) Begin(extract.Info) error { return nil }

func (s *orderSink) Customers(b *extract.CustomerBlock) error { b.Release(); return nil }

func (s *orderSink) Events(b *extract.EventBlock) error { b.Release(); return nil }

func (s *orderSink) Orders(b *extract.OrderBlock) error {
	defer b.Release()
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
		if _, ok := s.want[id]; !ok {
			continue
		}
		s.orders.CustomerID = append(s.orders.CustomerID, id)
		s.orders.At = append(s.orders.At, time.UnixMicro(t))
		s.orders.Net = append(s.orders.Net, b.Amount[i])
	}
	return nil
}

// laterOrders streams r's orders again, over every customer, and returns
// those of the customers in want stamped in [from, to): the same cleaning
// as the run's (duplicates dropped, returns negative, rates applied,
// suppressed customers left out), the same as-of cutoff.
func laterOrders(ctx context.Context, r *Run, want map[string]struct{}, from, to time.Time) (measure.Orders, error) {
	spec := r.Spec
	spec.Keep, spec.Customers, spec.Events = nil, nil, nil
	s := &orderSink{from: from.UnixMicro(), to: to.UnixMicro(), want: want, pub: r.PublishedID}
	if _, err := extract.Stream(ctx, spec, r.Config.Workers, s); err != nil {
		return measure.Orders{}, fmt.Errorf("read the orders after the measured runs: %w", err)
	}
	return s.orders, nil
}
