package extract

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/strata-oss/strata/pipeline/tables"
)

// FX is an exchange-rate table: on each date, how many units of the
// reporting currency one unit of a currency is worth. Its logical columns
// are date, currency and rate.
type FX struct {
	Table
	Reporting string
}

// CurrencyError: the orders hold amounts in more than one currency and
// the run has no rates to convert them with (or names a currency the
// rates do not know). It is the configuration's to fix.
type CurrencyError struct {
	Currencies []string
	Msg        string
}

func (e *CurrencyError) Error() string {
	return fmt.Sprintf("orders are in %d currencies (%s): %s", len(e.Currencies), strings.Join(e.Currencies, ", "), e.Msg)
}

// fxRates holds the rates by currency, by day ascending.
type fxRates struct {
	reporting string
	by        map[string][]fxRate
}

type fxRate struct {
	day  int32
	rate float64
}

// rate is the factor converting row i's amount, whose currency is in
// cur, on day; false when there is no rate on or before day. Without
// rates (r nil) every amount stays as it is.
func (r *fxRates) rate(cur *tables.Column, i int, day int32) (float64, bool) {
	if r == nil || !cur.Present || cur.IsNull(i) {
		return 1, true
	}
	c := strings.TrimSpace(cur.Str[i])
	if c == "" || c == r.reporting {
		return 1, true
	}
	rs := r.by[c]
	k := sort.Search(len(rs), func(k int) bool { return rs[k].day > day })
	if k == 0 {
		return 0, false
	}
	return rs[k-1].rate, true
}

func fxFields() []tables.Field {
	return []tables.Field{
		{Name: "date", Kind: tables.Time, Required: true},
		{Name: "currency", Kind: tables.String, Required: true},
		{Name: "rate", Kind: tables.Float, Required: true},
	}
}

// readFX reads the rates table whole (a few rows a currency a day) and
// fingerprints its objects. A rate that is missing, not positive or not
// finite, or a date that does not parse, fails the run: an amount
// converted with a wrong rate is wrong revenue.
func readFX(ctx context.Context, fx *FX, clock *Clock) (*fxRates, []Input, error) {
	cols := map[string]string{"date": "date", "currency": "currency", "rate": "rate"}
	for k, v := range fx.Columns {
		cols[k] = v
	}
	t := fx.Table
	t.Columns = cols
	src := t.source(fxFields())
	var ds Dataset
	if err := ds.fingerprint(ctx, "fx", &t, src); err != nil {
		return nil, nil, err
	}
	r := &fxRates{reporting: fx.Reporting, by: map[string][]fxRate{}}
	for _, in := range ds.Inputs {
		err := src.ScanObject(ctx, in.Key, func(b *tables.Batch) error {
			d, c, v := &b.Cols[0], &b.Cols[1], &b.Cols[2]
			for i := range b.N {
				row := b.FirstRow + int64(i)
				switch {
				case b.Malformed != nil && b.Malformed[i] != "":
					return fmt.Errorf("%s row %d: %s", b.Key, row, b.Malformed[i])
				case d.IsNull(i) || c.IsNull(i) || strings.TrimSpace(c.Str[i]) == "":
					return fmt.Errorf("%s row %d: a rate needs a date and a currency", b.Key, row)
				case v.IsNull(i) || !(v.F[i] > 0) || math.IsInf(v.F[i], 0):
					return fmt.Errorf("%s row %d: rate %q is not a positive number", b.Key, row, v.Text(i))
				}
				cur := strings.Clone(strings.TrimSpace(c.Str[i]))
				r.by[cur] = append(r.by[cur], fxRate{day: clock.Day(d.I[i]), rate: v.F[i]})
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("fx: read %s: %w", in.Key, err)
		}
	}
	for c, rs := range r.by {
		slices.SortStableFunc(rs, func(a, b fxRate) int { return int(a.day) - int(b.day) })
		for k := 1; k < len(rs); k++ {
			if rs[k].day == rs[k-1].day && rs[k].rate != rs[k-1].rate {
				return nil, nil, fmt.Errorf("fx: two rates for %s on one day", c)
			}
		}
	}
	return r, ds.Inputs, nil
}
