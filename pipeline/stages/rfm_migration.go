package stages

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

// RFMMigration is the RFM segments' dynamics: each customer's RFM segment
// in the previous published run (the previous_rfm_segment column), and the
// run-wide rfm_segment_migration table counting the customers by (previous
// segment, segment), as the cluster stage does for the clusters. Segments
// are compared by name: a run whose rfm.segments grid renamed them shows
// the renaming as moves.
type RFMMigration struct{}

func (RFMMigration) Info() Info { return Info{Name: "rfm_migration", Reads: []string{"rfm"}} }

func (RFMMigration) On(*config.Config) bool { return true }

// PreviousRef names the run a stage compared this one with.
type PreviousRef struct {
	AsOf    string `json:"as_of"`
	Attempt string `json:"attempt"`
}

// rfmMigrationModel is the run the segments moved from; Previous is nil
// when no run was published before this one.
type rfmMigrationModel struct {
	Previous *PreviousRef `json:"previous"`
}

func (RFMMigration) Fit(ctx context.Context, r *Run) (any, error) {
	prev, err := previous(ctx, r)
	if err != nil {
		return nil, err
	}
	m := &rfmMigrationModel{}
	if prev != nil {
		m.Previous = &PreviousRef{AsOf: prev.manifest.AsOf, Attempt: prev.manifest.Attempt}
	}
	return m, nil
}

// rfmMigrationResult is each customer's previous segment: Previous[c]
// indexes Names, -1 for a customer absent from the previous run.
type rfmMigrationResult struct {
	Previous []int32
	Names    []string
}

func (RFMMigration) Apply(ctx context.Context, r *Run, model any) (any, error) {
	m, _ := model.(*rfmMigrationModel)
	if m == nil {
		return nil, fmt.Errorf("rfm_migration: the fitted model has no rfm_migration section")
	}
	if resultOf[rfmScores](r, "rfm") == nil {
		return nil, fmt.Errorf("rfm_migration: the RFM stage did not run before it")
	}
	prev, err := previous(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := samePrevious(m.Previous, prev); err != nil {
		return nil, fmt.Errorf("rfm_migration: %w", err)
	}
	res := &rfmMigrationResult{Previous: make([]int32, r.Behaviour.N)}
	for i := range res.Previous {
		res.Previous[i] = -1
	}
	if prev == nil {
		return res, nil
	}
	// A handful of names for millions of rows: each interned once (and
	// cloned: a string read from Parquet holds its whole page).
	at := map[string]int32{}
	code := func(col *tables.Column, i int) int32 {
		s := col.Str[i]
		k, ok := at[s]
		if !ok {
			k = int32(len(res.Names))
			at[strings.Clone(s)] = k
			res.Names = append(res.Names, strings.Clone(s))
		}
		return k
	}
	field := tables.Field{Name: "rfm_segment", Kind: tables.String}
	if err := previousCodes(ctx, r.Out, prev.manifest, r.IDs, field, code, res.Previous); err != nil {
		return nil, fmt.Errorf("rfm_migration: %w", err)
	}
	var found int
	for _, p := range res.Previous {
		if p >= 0 {
			found++
		}
	}
	r.Log.Info().Str("previous_as_of", prev.manifest.AsOf).Int("in_previous_run", found).Int("new", len(res.Previous)-found).
		Msg("rfm segments compared with the previous run")
	return res, nil
}

// samePrevious fails when the run an Apply reads is not the one its Fit
// read (a run was published for an earlier date in between): the
// migrations would mix two baselines.
func samePrevious(fitted *PreviousRef, prev *previousRun) error {
	switch {
	case fitted == nil && prev == nil:
		return nil
	case fitted == nil:
		return fmt.Errorf("the model was fitted without a previous run, but the run of %s is published now; fit again", prev.manifest.AsOf)
	case prev == nil:
		return fmt.Errorf("the model was fitted against the run of %s, which is no longer the previous run; fit again", fitted.AsOf)
	case fitted.AsOf != prev.manifest.AsOf || fitted.Attempt != prev.manifest.Attempt:
		return fmt.Errorf("the model was fitted against the run of %s (attempt %s), the previous run is now %s (attempt %s); fit again",
			fitted.AsOf, fitted.Attempt, prev.manifest.AsOf, prev.manifest.Attempt)
	}
	return nil
}

func (RFMMigration) Decode(data []byte) (any, error) { return decodeAs[rfmMigrationModel](data) }

// Inputs is the previous run's model.json, when there is one (the same
// input as the cluster stage's).
func (RFMMigration) Inputs(ctx context.Context, _ *config.Config, out objstore.Bucket, asOf string) ([]extract.Input, error) {
	return previousInputs(ctx, out, asOf)
}

// Columns is the customer's RFM segment in the previous run, null for a
// customer new to this one.
func (RFMMigration) Columns(r *Run, result any, _ int32) []tables.OutColumn {
	res, _ := result.(*rfmMigrationResult)
	n := r.Behaviour.N
	// Codes into the names, not a string per customer: the column lives
	// through the publish stage's collections (tables.OutColumn). Code 0
	// is "", for customers new to this run.
	code, null := make([]int32, n), make([]bool, n)
	dict := []string{""}
	if res != nil {
		dict = append(dict, res.Names...)
	}
	for c := range n {
		if res == nil || res.Previous[c] < 0 {
			null[c] = true
			continue
		}
		code[c] = res.Previous[c] + 1
	}
	return []tables.OutColumn{{Name: "previous_rfm_segment", Type: tables.OutString, Optional: true, Codes: code, Dict: dict, Null: null}}
}

// rfmMove is one cell of the RFM migration matrix: the customers whose
// segment was From in the previous run (New: absent from it) and is To.
type rfmMove struct {
	New       bool   `json:"new,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to"`
	Customers int64  `json:"customers"`
}

// rfmMigrationPart is the migration matrix of a process's customers; Both
// and Moved count those in both runs and those whose segment changed.
type rfmMigrationPart struct {
	Moves []rfmMove `json:"moves"`
	Both  int64     `json:"both"`
	Moved int64     `json:"moved"`
}

func (RFMMigration) NewPart() Part { return &rfmMigrationPart{} }

func (p *rfmMigrationPart) Merge(other Part) error {
	o := other.(*rfmMigrationPart)
	p.Moves = sortMoves(append(p.Moves, o.Moves...))
	p.Both += o.Both
	p.Moved += o.Moved
	return nil
}

func (RFMMigration) Sum(r *Run, result any) Part {
	res := result.(*rfmMigrationResult)
	s := resultOf[rfmScores](r, "rfm")
	// Counted by (previous name's index, segment's index): a cell per
	// pair of segments, not a move per customer.
	counts := countPairs(res.Previous, s.Seg)
	p := &rfmMigrationPart{Moves: make([]rfmMove, 0, len(counts))}
	for _, k := range counts {
		n := k.Customers
		mv := rfmMove{New: k.From < 0, To: s.Segments[k.To], Customers: n}
		if !mv.New {
			mv.From = res.Names[k.From]
			p.Both += n
			if mv.From != mv.To {
				p.Moved += n
			}
		}
		p.Moves = append(p.Moves, mv)
	}
	p.Moves = sortMoves(p.Moves)
	return p
}

// sortMoves adds up the moves of the same cell and orders the cells: the
// new customers first, then by previous segment, then by segment, by name.
func sortMoves(moves []rfmMove) []rfmMove {
	slices.SortFunc(moves, compareMoves)
	out := moves[:0]
	for _, m := range moves {
		if k := len(out) - 1; k >= 0 && compareMoves(out[k], m) == 0 {
			out[k].Customers += m.Customers
			continue
		}
		out = append(out, m)
	}
	return slices.Clip(out)
}

func compareMoves(a, b rfmMove) int {
	if a.New != b.New {
		if a.New {
			return -1
		}
		return 1
	}
	return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(a.To, b.To))
}

// RFMMigrationSection is model.json's stages.rfm_migration: which run the
// segments were compared with and how many customers changed segment.
type RFMMigrationSection struct {
	Previous *PreviousRef `json:"previous"`
	// Both are the customers in both runs, Moved those of them whose
	// segment changed, MovedShare Moved / Both (null without a previous
	// run or a customer in both).
	Both       int64    `json:"customers_in_both"`
	Moved      int64    `json:"moved"`
	MovedShare *float64 `json:"moved_share"`
}

// Describe adds the rfm_segment_migration table and model.json's section.
func (RFMMigration) Describe(d *Description, model any) {
	m := model.(*rfmMigrationModel)
	p, _ := d.Parts["rfm_migration"].(*rfmMigrationPart)
	if p == nil {
		p = &rfmMigrationPart{}
	}
	sec := RFMMigrationSection{Previous: m.Previous, Both: p.Both, Moved: p.Moved}
	if p.Both > 0 {
		share := float64(p.Moved) / float64(p.Both)
		sec.MovedShare = &share
	}
	d.Section("rfm_migration", sec)
	d.Tables = append(d.Tables, Table{Name: "rfm_segment_migration", Columns: rfmMigrationColumns(p.Moves, d.AsOfDay)})
}

func rfmMigrationColumns(moves []rfmMove, asOfDay int32) []tables.OutColumn {
	n := len(moves)
	from := tables.OutColumn{Name: "from_segment", Type: tables.OutString, Optional: true, Str: make([]string, n), Null: make([]bool, n)}
	to := tables.OutColumn{Name: "to_segment", Type: tables.OutString, Str: make([]string, n)}
	count := tables.OutColumn{Name: "customers", Type: tables.OutInt64, I64: make([]int64, n)}
	for i, m := range moves {
		from.Str[i], from.Null[i] = m.From, m.New
		to.Str[i], count.I64[i] = m.To, m.Customers
	}
	return []tables.OutColumn{{Name: "as_of", Type: tables.OutDate, I32: tables.Repeat(asOfDay, n)}, from, to, count}
}
