package output

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/audience"
	"github.com/strata-oss/strata/pipeline/channel"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/holdout"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/stages"
	"github.com/strata-oss/strata/pipeline/tables"
)

// columnTable lets audience filters read the segments table's columns as
// they are about to be published, so a filter sees exactly what a BI
// tool will.
type columnTable struct {
	n    int
	cols map[string]*tables.OutColumn
	nums map[string][]float64 // integer columns converted once
	// strs are the string columns held without pointers that a filter
	// reads, as []string, made once: only those a filter names.
	strs map[string][]string
}

func newColumnTable(cols []tables.OutColumn) *columnTable {
	t := &columnTable{cols: map[string]*tables.OutColumn{}, nums: map[string][]float64{}, strs: map[string][]string{}}
	for i := range cols {
		t.cols[cols[i].Name] = &cols[i]
	}
	if len(cols) > 0 {
		t.n = cols[0].Len()
	}
	return t
}

// schema returns the kinds of the columns a filter may use. Dates and
// timestamps are left out: the language has no literal for them.
func (t *columnTable) schema() audience.Schema {
	s := audience.Schema{}
	for name, c := range t.cols {
		switch c.Type {
		case tables.OutInt32, tables.OutInt64, tables.OutDouble:
			s[name] = audience.Number
		case tables.OutString:
			s[name] = audience.String
		case tables.OutBool:
			s[name] = audience.Bool
		}
	}
	return s
}

func (t *columnTable) Len() int { return t.n }

func (t *columnTable) Numbers(name string) ([]float64, []bool) {
	c := t.cols[name]
	switch c.Type {
	case tables.OutDouble:
		return c.F64, c.Null
	case tables.OutInt32:
		if t.nums[name] == nil {
			t.nums[name] = floats(c.I32)
		}
	case tables.OutInt64:
		if t.nums[name] == nil {
			t.nums[name] = floats(c.I64)
		}
	}
	return t.nums[name], c.Null
}

// floats converts an integer column for the filter, which compares numbers
// as float64.
func floats[T int32 | int64](xs []T) []float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = float64(x)
	}
	return v
}

func (t *columnTable) Strings(name string) ([]string, []bool) {
	c := t.cols[name]
	if c.Str != nil || c.Type != tables.OutString {
		return c.Str, c.Null
	}
	if t.strs[name] == nil {
		v := make([]string, c.Len())
		for i := range v {
			v[i] = c.StrAt(i)
		}
		t.strs[name] = v
	}
	return t.strs[name], c.Null
}
func (t *columnTable) Bools(name string) ([]bool, []bool) { c := t.cols[name]; return c.B, c.Null }

// compiledAudience is an audience ready to run.
type compiledAudience struct {
	cfg    config.Audience
	filter *audience.Filter
	cols   []string
}

// compileAudiences type-checks every audience of cfg against the segments
// table's columns; a problem is the user's config to fix.
func compileAudiences(cfg *config.Config, segs []tables.OutColumn) ([]compiledAudience, error) {
	t := newColumnTable(segs)
	schema := t.schema()
	var out []compiledAudience
	for i, a := range cfg.Audiences {
		f, err := audience.Compile(a.Filter, schema)
		if err != nil {
			return nil, &stages.ConfigError{Err: fmt.Errorf("audiences[%d] (%s): filter %q: %w%s", i, a.Name, a.Filter, err, filterHint(err))}
		}
		cols := a.Columns
		if len(cols) == 0 {
			cols = append([]string{"customer_id"}, f.Columns()...)
		}
		seen := map[string]bool{}
		var uniq []string
		for _, c := range cols {
			if _, ok := t.cols[c]; !ok {
				return nil, &stages.ConfigError{Err: fmt.Errorf("audiences[%d] (%s): columns: the segments table has no column %q%s", i, a.Name, c, columnHint(c))}
			}
			if !seen[c] {
				seen[c] = true
				uniq = append(uniq, c)
			}
		}
		if a.Control != nil && !slices.Contains(uniq, "customer_id") {
			return nil, &stages.ConfigError{Err: fmt.Errorf("audiences[%d] (%s): columns: an audience with a control group must publish customer_id (its campaign is measured by it)", i, a.Name)}
		}
		if c := a.Control; c != nil && c.Stratify != "" {
			if _, ok := t.cols[c.Stratify]; !ok {
				return nil, &stages.ConfigError{Err: fmt.Errorf("audiences[%d] (%s): control.stratify: the segments table has no column %q", i, a.Name, c.Stratify)}
			}
		}
		out = append(out, compiledAudience{cfg: a, filter: f, cols: uniq})
	}
	return out, nil
}

// filterHint says how to get a consent column a filter names but the
// run lacks.
func filterHint(err error) string {
	for _, name := range consentNames {
		if strings.Contains(err.Error(), fmt.Sprintf("unknown column %q", name)) {
			return fmt.Sprintf("; map the consent column as input.customers.consent.%s", name)
		}
	}
	return ""
}

// columnHint says why a contact field is no audience column.
func columnHint(col string) string {
	if slices.Contains(config.ContactFieldNames, col) {
		return "; contact fields are written only to channel files (formats: google_ads, meta, email)"
	}
	return filterHint(fmt.Errorf("unknown column %q", col))
}

// CheckAudiences compiles cfg's audiences against the columns a run of
// list's stages publishes, without data: a run finds a bad filter before
// it reads any, and `strata validate` before any run does.
func CheckAudiences(cfg *config.Config, list stages.List) error {
	st := &Customers{Run: &stages.Run{Config: cfg, Data: emptyDataset(), Behaviour: &features.Behaviour{}}, Stages: list, schema: true}
	_, err := compileAudiences(cfg, audienceColumns(st, segmentColumns(st, 0), nil))
	return err
}

func emptyDataset() *extract.Dataset { return &extract.Dataset{Location: time.UTC} }

// AudienceResult counts one published audience.
type AudienceResult struct {
	Name      string `json:"name"`
	Filter    string `json:"filter"`
	Customers int    `json:"customers"`
	// Channels counts each channel file's rows (formats google_ads, meta,
	// email): written, and skipped by reason (control_group,
	// no_contact, ...), with the unusable values found; no values.
	Channels []channel.Summary `json:"channels,omitempty"`
	// The campaign the audience feeds, when it has one.
	Campaign string `json:"campaign,omitempty"`
	Starts   string `json:"starts,omitempty"`
	Ends     string `json:"ends,omitempty"`
	// With a control group: how many customers are in each group, and
	// whether the groups are balanced within each value of
	// control.stratify (one stratum "" without it).
	Treatment *int             `json:"treatment,omitempty"`
	Control   *int             `json:"control,omitempty"`
	Balance   *holdout.Balance `json:"balance,omitempty"`
	// BySegment counts the audience's customers by RFM segment, for the
	// report's brief.
	BySegment map[string]int `json:"by_segment,omitempty"`
}

// bySegment counts rows by their rfm_segment (nil without the column).
func bySegment(t *columnTable, rows []int) map[string]int {
	c, ok := t.cols["rfm_segment"]
	if !ok || c.Type != tables.OutString {
		return nil
	}
	out := map[string]int{}
	for _, r := range rows {
		if c.Null == nil || !c.Null[r] {
			out[c.StrAt(r)]++
		}
	}
	return out
}

// merge adds o, the same audience's result in another shard, to a; the
// channel counts are merged by the caller.
func (a *AudienceResult) merge(o AudienceResult) error {
	if a.Name != o.Name {
		return fmt.Errorf("audience %s merged with %s", a.Name, o.Name)
	}
	a.Customers += o.Customers
	if (a.Balance == nil) != (o.Balance == nil) {
		return fmt.Errorf("audience %s has a control group in some shards only", a.Name)
	}
	if a.Balance == nil {
		return nil
	}
	t, c := *a.Treatment+*o.Treatment, *a.Control+*o.Control
	b, err := a.Balance.Merge(*o.Balance)
	if err != nil {
		return fmt.Errorf("audience %s: %w", a.Name, err)
	}
	a.Treatment, a.Control, a.Balance = &t, &c, &b
	return nil
}

// writeAudiences publishes each audience under
// audiences/name=<name>/dt=D/: its table as Parquet, and as CSV and as
// channel files when its formats list them. ct holds the customers'
// contact fields, rawIDs their ids as read, row for row with segs: the
// control group's draw (config.AudienceCampaign.InControl) is of the raw
// id, so that rotating the pseudonym key moves no one. An audience with a
// control group publishes each customer's group after customer_id.
func writeAudiences(ctx context.Context, pub *publish.Publisher, wo tables.WriteOptions, part int, auds []compiledAudience,
	segs []tables.OutColumn, meta map[string]string, ct *contactTable, rawIDs strcol.Column) ([]AudienceResult, error) {
	t := newColumnTable(segs)
	var res []AudienceResult
	for _, a := range auds {
		rows := a.filter.Select(t)
		cols := make([]tables.OutColumn, 0, len(a.cols)+1)
		for _, name := range a.cols {
			cols = append(cols, gatherColumn(t.cols[name], rows))
		}
		r := AudienceResult{Name: a.cfg.Name, Filter: a.cfg.Filter, Customers: len(rows),
			Campaign: a.cfg.Campaign, Starts: a.cfg.Starts, Ends: a.cfg.Ends}
		if a.cfg.Control != nil {
			group, err := audienceGroups(a.cfg.AudienceCampaign, t, rows, rawIDs, &r)
			if err != nil {
				return nil, fmt.Errorf("audience %s: %w", a.cfg.Name, err)
			}
			at := 0
			if len(cols) > 0 && cols[0].Name == "customer_id" {
				at = 1
			}
			cols = slices.Insert(cols, at, group)
		}
		table := "audiences/name=" + a.cfg.Name
		m := map[string]string{"strata.audience.filter": a.cfg.Filter}
		for k, v := range meta {
			m[k] = v
		}
		if err := writeTable(ctx, pub, wo, part, table, cols, m); err != nil {
			return nil, err
		}
		// The CSV holds the Parquet part's rows again: the table's rows (in
		// the manifest, the ledger, strata_published_rows) count them once.
		if slices.Contains(a.cfg.FormatsOr(), "csv") {
			if err := pub.WritePart(ctx, table, part, "csv", 0, func(w io.Writer) error { return tables.WriteCSV(w, cols) }); err != nil {
				return nil, err
			}
		}
		chans, err := writeChannelFiles(ctx, pub, part, a, rows, ct, rawIDs)
		if err != nil {
			return nil, err
		}
		r.Channels, r.BySegment = chans, bySegment(t, rows)
		res = append(res, r)
	}
	return res, nil
}

// audienceColumns are the columns audiences may filter on and publish:
// the segments table's, the own attributes' and measures', and the
// consent flags (from ct; nil for a schema check).
func audienceColumns(st *Customers, segs []tables.OutColumn, ct *contactTable) []tables.OutColumn {
	cols := append(slices.Clip(segs), ownColumns(st.Run)...)
	return append(cols, consentColumns(st.Config, ct, st.IDs.Len())...)
}

// gatherStrings returns the rows of ids, in order, as a Column too.
func gatherStrings(rows []int, ids strcol.Column) strcol.Column {
	size := 0
	for _, r := range rows {
		size += len(ids.At(r))
	}
	b := strcol.NewBuilder(len(rows), size)
	for _, r := range rows {
		b.Append(ids.At(r))
	}
	return b.Column()
}

// gatherColumn returns the rows of c, in order.
func gatherColumn(c *tables.OutColumn, rows []int) tables.OutColumn {
	out := tables.OutColumn{Name: c.Name, Type: c.Type, Optional: c.Optional}
	if c.Null != nil {
		out.Null = make([]bool, len(rows))
		for i, r := range rows {
			out.Null[i] = c.Null[r]
		}
	}
	switch c.Type {
	case tables.OutString:
		switch {
		case c.Str != nil:
			out.Str = tables.Gather(rows, c.Str)
		case c.Codes != nil:
			out.Codes, out.Dict = tables.Gather(rows, c.Codes), c.Dict
		default:
			out.StrCol = gatherStrings(rows, c.StrCol)
		}
	case tables.OutInt32, tables.OutDate:
		out.I32 = tables.Gather(rows, c.I32)
	case tables.OutInt64, tables.OutTimestamp:
		out.I64 = tables.Gather(rows, c.I64)
	case tables.OutDouble:
		out.F64 = tables.Gather(rows, c.F64)
	case tables.OutBool:
		out.B = tables.Gather(rows, c.B)
	}
	return out
}
