package stages

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/strata-oss/strata/pipeline/measure"
	"github.com/strata-oss/strata/pipeline/report"
	"github.com/strata-oss/strata/pipeline/tables"
)

// Num is a figure that may be undefined (NaN): null in JSON, as in the
// published tables, so that a model holding it round-trips through a
// sharded run's published fit.
type Num float64

func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	*n = Num(f)
	return err
}

// CampaignRow is one row of campaign_results (measure.CampaignRow; the
// comparison figures are on the treatment row, null elsewhere).
type CampaignRow struct {
	WindowDays         int    `json:"window_days"`
	Group              string `json:"group"`
	Customers          int    `json:"customers"`
	Converters         int    `json:"converters"`
	ConversionRate     Num    `json:"conversion_rate"`
	Orders             int    `json:"orders"`
	Revenue            Num    `json:"revenue"`
	RevenuePerCustomer Num    `json:"revenue_per_customer"`
	Lift               Num    `json:"lift"`
	LiftLo             Num    `json:"lift_lo"`
	LiftHi             Num    `json:"lift_hi"`
	RelativeLift       Num    `json:"relative_lift"`
	RelativeLiftLo     Num    `json:"relative_lift_lo"`
	RelativeLiftHi     Num    `json:"relative_lift_hi"`
	PConversion        Num    `json:"p_conversion"`
	RevenueLift        Num    `json:"revenue_lift"`
	RevenueLiftLo      Num    `json:"revenue_lift_lo"`
	RevenueLiftHi      Num    `json:"revenue_lift_hi"`
	PRevenue           Num    `json:"p_revenue"`
}

func campaignRow(r measure.CampaignRow) CampaignRow {
	return CampaignRow{WindowDays: r.WindowDays, Group: r.Group, Customers: r.Customers, Converters: r.Converters,
		ConversionRate: Num(r.ConversionRate), Orders: r.Orders, Revenue: Num(r.Revenue), RevenuePerCustomer: Num(r.RevenuePerCustomer),
		Lift: Num(r.Lift), LiftLo: Num(r.LiftLo), LiftHi: Num(r.LiftHi),
		RelativeLift: Num(r.RelativeLift), RelativeLiftLo: Num(r.RelativeLiftLo), RelativeLiftHi: Num(r.RelativeLiftHi),
		PConversion: Num(r.PConversion), RevenueLift: Num(r.RevenueLift), RevenueLiftLo: Num(r.RevenueLiftLo),
		RevenueLiftHi: Num(r.RevenueLiftHi), PRevenue: Num(r.PRevenue)}
}

// dayOf is the day number of a YYYY-MM-DD date (validated before).
func dayOf(date string) int32 {
	t, _ := time.Parse(time.DateOnly, date)
	return int32(t.Unix() / 86400)
}

// campaignColumns is campaign_results: a row per measured campaign,
// window and group, in the model's order (the configuration's audiences,
// then window, then group).
func campaignColumns(m *MeasureModel, asOfDay int32) []tables.OutColumn {
	var n int
	for _, c := range m.Campaigns {
		n += len(c.Rows)
	}
	str := func(name string) tables.OutColumn {
		return tables.OutColumn{Name: name, Type: tables.OutString, Str: make([]string, 0, n)}
	}
	date := func(name string) tables.OutColumn {
		return tables.OutColumn{Name: name, Type: tables.OutDate, I32: make([]int32, 0, n)}
	}
	i64 := func(name string) tables.OutColumn {
		return tables.OutColumn{Name: name, Type: tables.OutInt64, I64: make([]int64, 0, n)}
	}
	num := func(name string) tables.OutColumn {
		return tables.OutColumn{Name: name, Type: tables.OutDouble, Optional: true, F64: make([]float64, 0, n), Null: make([]bool, 0, n)}
	}
	cols := []tables.OutColumn{
		date("as_of"), str("audience"), str("campaign"), date("campaign_start"), date("earlier_as_of"),
		{Name: "window_days", Type: tables.OutInt32, I32: make([]int32, 0, n)}, str("group"),
		i64("customers"), i64("converters"), num("conversion_rate"), i64("orders"), num("revenue"), num("revenue_per_customer"),
		num("lift"), num("lift_lo"), num("lift_hi"), num("relative_lift"), num("relative_lift_lo"), num("relative_lift_hi"),
		num("p_conversion"), num("revenue_lift"), num("revenue_lift_lo"), num("revenue_lift_hi"), num("p_revenue"),
	}
	for _, c := range m.Campaigns {
		for _, r := range c.Rows {
			cols[0].I32 = append(cols[0].I32, asOfDay)
			cols[1].Str = append(cols[1].Str, c.Audience)
			cols[2].Str = append(cols[2].Str, c.Campaign)
			cols[3].I32 = append(cols[3].I32, dayOf(c.Starts))
			cols[4].I32 = append(cols[4].I32, dayOf(c.EarlierAsOf))
			cols[5].I32 = append(cols[5].I32, int32(r.WindowDays))
			cols[6].Str = append(cols[6].Str, r.Group)
			cols[7].I64 = append(cols[7].I64, int64(r.Customers))
			cols[8].I64 = append(cols[8].I64, int64(r.Converters))
			cols[10].I64 = append(cols[10].I64, int64(r.Orders))
			for k, v := range map[int]Num{9: r.ConversionRate, 11: r.Revenue, 12: r.RevenuePerCustomer,
				13: r.Lift, 14: r.LiftLo, 15: r.LiftHi, 16: r.RelativeLift, 17: r.RelativeLiftLo, 18: r.RelativeLiftHi,
				19: r.PConversion, 20: r.RevenueLift, 21: r.RevenueLiftLo, 22: r.RevenueLiftHi, 23: r.PRevenue} {
				f := float64(v)
				null := math.IsNaN(f) || math.IsInf(f, 0)
				if null {
					f = 0
				}
				cols[k].F64 = append(cols[k].F64, f)
				cols[k].Null = append(cols[k].Null, null)
			}
		}
	}
	return cols
}

// campaignReport is the report's table of each campaign: per window, the
// conversion of both groups and the lift with its interval.
func campaignReport(m *MeasureModel) []report.Table {
	var out []report.Table
	for _, c := range m.Campaigns {
		t := report.Table{Title: fmt.Sprintf("Campaign %s (audience %s, from %s)", c.Campaign, c.Audience, c.Starts)}
		if c.Status != StatusMeasured {
			t.Note = c.Status
			out = append(out, t)
			continue
		}
		t.Note = fmt.Sprintf("Audience as published by the run of %s; lift = treatment − control conversion, Newcombe 95%% interval.", c.EarlierAsOf)
		var control *CampaignRow
		for i := range c.Rows {
			r := &c.Rows[i]
			if r.Group == measure.GroupControl {
				control = r
				continue
			}
			if control == nil || control.WindowDays != r.WindowDays {
				continue
			}
			t.Rows = append(t.Rows, report.KV{Key: fmt.Sprintf("%d days", r.WindowDays),
				Value: fmt.Sprintf("conversion %s of %d vs %s of %d control; lift %s pts [%s, %s], p = %s",
					pct(r.ConversionRate), r.Customers, pct(control.ConversionRate), control.Customers,
					pts(r.Lift), pts(r.LiftLo), pts(r.LiftHi), fig(r.PConversion))})
		}
		out = append(out, t)
	}
	return out
}

func pct(v Num) string {
	if math.IsNaN(float64(v)) {
		return "–"
	}
	return strconv.FormatFloat(100*float64(v), 'f', 1, 64) + "%"
}

func pts(v Num) string {
	if math.IsNaN(float64(v)) {
		return "–"
	}
	return strconv.FormatFloat(100*float64(v), 'f', 2, 64)
}

func fig(v Num) string {
	if math.IsNaN(float64(v)) {
		return "–"
	}
	return strconv.FormatFloat(float64(v), 'g', 3, 64)
}
