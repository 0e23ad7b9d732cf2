package output

import (
	"encoding/json"
	"fmt"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/stages"
)

// Aggregates are the sums and counts over a run's customers that the
// summary tables, the report and model.json are made of: the run's totals
// and each stage's part. Each shard of a sharded run adds up its own
// customers and the finishing step merges them in shard order; an
// unsharded run has one. Sums run in customer-row order within a shard, so
// the results are reproducible.
type Aggregates struct {
	Customers   int64           `json:"customers"`
	Buyers      int64           `json:"buyers"`
	Orders      int64           `json:"orders"`
	Quarantined int64           `json:"quarantined"`
	Quality     extract.Quality `json:"quality"`
	Revenue     float64         `json:"revenue"`
	// NewestOrder is the instant (µs) of the newest accepted order, for
	// the staleness check of a sharded run's finish; 0 when none.
	NewestOrder int64            `json:"newest_order,omitempty"`
	Audiences   []AudienceResult `json:"audiences,omitempty"`
	// Parts are the stages' sums by stage name; in a shard's record, their
	// JSON (RawParts), decoded by the finishing step's stages.
	Parts    map[string]stages.Part     `json:"-"`
	RawParts map[string]json.RawMessage `json:"stages,omitempty"`
}

// aggregate adds up st's customers: the totals, then each stage's part.
func aggregate(st *Customers) *Aggregates {
	b := st.Behaviour
	a := &Aggregates{Customers: int64(b.N), Orders: int64(st.Data.Orders), Quarantined: int64(st.Data.Quarantine.Len()),
		Quality: st.Data.Quality, Parts: map[string]stages.Part{}}
	if st.Data.LastOrder != extract.NoTime {
		a.NewestOrder = st.Data.LastOrder
	}
	for c := 0; c < b.N; c++ {
		a.Revenue += b.Monetary[c]
		if b.HasOrders[c] {
			a.Buyers++
		}
	}
	for _, s := range st.Stages {
		sum, ok := s.(stages.Summer)
		name := s.Info().Name
		if res := st.Result(name); ok && res != nil {
			a.Parts[name] = sum.Sum(st.Run, res)
		}
	}
	return a
}

// EncodeParts fills RawParts from Parts, for a shard's record.
func (a *Aggregates) EncodeParts() error {
	a.RawParts = map[string]json.RawMessage{}
	for name, p := range a.Parts {
		data, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode the %s stage's sums: %w", name, err)
		}
		a.RawParts[name] = data
	}
	return nil
}

// DecodeParts fills Parts from a shard record's RawParts with the stages of
// list.
func (a *Aggregates) DecodeParts(list stages.List) error {
	a.Parts = map[string]stages.Part{}
	for _, s := range list {
		name := s.Info().Name
		data, ok := a.RawParts[name]
		sum, isSummer := s.(stages.Summer)
		if !ok || !isSummer {
			continue
		}
		p := sum.NewPart()
		if err := json.Unmarshal(data, p); err != nil {
			return fmt.Errorf("decode the %s stage's sums: %w", name, err)
		}
		a.Parts[name] = p
	}
	if len(a.Parts) != len(a.RawParts) {
		return fmt.Errorf("the shard's record has sums of stages the run does not have: %d of %d known", len(a.Parts), len(a.RawParts))
	}
	return nil
}

// Merge adds o, another shard's aggregates, to a.
func (a *Aggregates) Merge(o *Aggregates) error {
	a.Customers += o.Customers
	a.Buyers += o.Buyers
	a.Orders += o.Orders
	a.Quarantined += o.Quarantined
	a.Revenue += o.Revenue
	if o.NewestOrder != 0 && (a.NewestOrder == 0 || o.NewestOrder > a.NewestOrder) {
		a.NewestOrder = o.NewestOrder
	}
	a.Quality.Merge(o.Quality)
	for name, p := range a.Parts {
		op, ok := o.Parts[name]
		if !ok {
			return fmt.Errorf("the %s stage has sums in some shards only", name)
		}
		if err := p.Merge(op); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(a.Parts) != len(o.Parts) {
		return fmt.Errorf("stages have sums in some shards only")
	}
	if len(a.Audiences) != len(o.Audiences) {
		return fmt.Errorf("audiences differ between shards")
	}
	for i := range a.Audiences {
		if err := a.Audiences[i].merge(o.Audiences[i]); err != nil {
			return err
		}
		for seg, n := range o.Audiences[i].BySegment {
			if a.Audiences[i].BySegment == nil {
				a.Audiences[i].BySegment = map[string]int{}
			}
			a.Audiences[i].BySegment[seg] += n
		}
		if err := mergeChannels(a.Audiences[i].Channels, o.Audiences[i].Channels); err != nil {
			return fmt.Errorf("audience %s: %w", a.Audiences[i].Name, err)
		}
	}
	return nil
}
