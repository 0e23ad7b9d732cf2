package output

import (
	"fmt"
	"strconv"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/holdout"
	"github.com/strata-oss/strata/pipeline/tables"
)

// audienceGroups returns the group column of an audience with a control
// group (rows are the audience's rows of t, rawIDs the ids as read of
// every row of t) and records in r the groups' sizes and their balance
// within each value of control.stratify.
func audienceGroups(a config.AudienceCampaign, t *columnTable, rows []int, rawIDs strcol.Column, r *AudienceResult) (tables.OutColumn, error) {
	if rawIDs.Len() != t.Len() {
		return tables.OutColumn{}, fmt.Errorf("%d raw ids for %d customers", rawIDs.Len(), t.Len())
	}
	k, err := holdout.NewCounter(a.Control.ShareOr())
	if err != nil {
		return tables.OutColumn{}, err
	}
	var strat *tables.OutColumn
	if a.Control.Stratify != "" {
		strat = t.cols[a.Control.Stratify] // checked by compileAudiences
	}
	group := tables.OutColumn{Name: "group", Type: tables.OutString, Str: make([]string, len(rows))}
	var control int
	for i, row := range rows {
		in := a.InControl(rawIDs.At(row))
		group.Str[i] = holdout.Treatment
		if in {
			group.Str[i] = holdout.Control
			control++
		}
		k.Add(stratumOf(strat, row), in)
	}
	treatment := len(rows) - control
	b := k.Balance()
	r.Treatment, r.Control, r.Balance = &treatment, &control, &b
	return group, nil
}

// stratumOf is row's value of column c as the balance check names it: the
// text of a string, the decimal form of a number, "" for a null or
// without a column.
func stratumOf(c *tables.OutColumn, row int) string {
	if c == nil || c.Null != nil && c.Null[row] {
		return ""
	}
	switch c.Type {
	case tables.OutString:
		return c.StrAt(row)
	case tables.OutInt32, tables.OutDate:
		return strconv.FormatInt(int64(c.I32[row]), 10)
	case tables.OutInt64, tables.OutTimestamp:
		return strconv.FormatInt(c.I64[row], 10)
	case tables.OutDouble:
		return strconv.FormatFloat(c.F64[row], 'g', -1, 64)
	case tables.OutBool:
		return strconv.FormatBool(c.B[row])
	}
	return ""
}
