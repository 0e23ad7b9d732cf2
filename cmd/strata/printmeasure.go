package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/strata-oss/strata/pipeline/measure"
	"github.com/strata-oss/strata/pipeline/output"
	"github.com/strata-oss/strata/pipeline/stages"
)

// printCampaigns prints, for `strata show`, the groups of each audience
// with a control group and what the run measured of earlier runs: each
// campaign's lift per window, and the segment KPIs' and backtest's
// earlier runs.
func printCampaigns(w io.Writer, m *output.Model) {
	for _, a := range m.Audiences {
		if a.Balance == nil || a.Treatment == nil || a.Control == nil {
			continue
		}
		fmt.Fprintf(w, "audience %s, campaign %s from %s: %d treatment, %d control (balance p = %.3g over %d strata)\n",
			a.Name, a.Campaign, a.Starts, *a.Treatment, *a.Control, a.Balance.P, len(a.Balance.Strata))
	}
	raw, ok := m.Stages["measure"]
	if !ok {
		return
	}
	var mm stages.MeasureModel
	data, err := json.Marshal(raw)
	if err == nil {
		err = json.Unmarshal(data, &mm)
	}
	if err != nil {
		fmt.Fprintf(w, "measurement: unreadable section: %v\n", err)
		return
	}
	for _, c := range mm.Campaigns {
		if c.Status != stages.StatusMeasured {
			fmt.Fprintf(w, "campaign %s (%s): %s\n", c.Campaign, c.Audience, c.Status)
			continue
		}
		fmt.Fprintf(w, "campaign %s (%s, audience of %s):", c.Campaign, c.Audience, c.EarlierAsOf)
		for _, r := range c.Rows {
			if r.Group == measure.GroupTreated {
				fmt.Fprintf(w, "  %dd lift %+.2f pts [%+.2f, %+.2f] p=%.3g", r.WindowDays,
					100*float64(r.Lift), 100*float64(r.LiftLo), 100*float64(r.LiftHi), float64(r.PConversion))
			}
		}
		fmt.Fprintln(w)
	}
	for _, s := range mm.Segments {
		fmt.Fprintf(w, "segment KPIs of the run of %s over %v days: %d rows (segment_kpis)\n", s.EarlierAsOf, s.Windows, len(s.Rows))
	}
	if b := mm.Backtest; b != nil {
		fmt.Fprintf(w, "CLV backtest of the run of %s: %s", b.EarlierAsOf, b.Status)
		for _, r := range b.Rows {
			if r.Decile == 1 {
				fmt.Fprintf(w, "; %s calibration error %.3g, Gini %.3f", r.Metric, float64(r.CalibrationError), float64(r.Gini))
			}
		}
		fmt.Fprintln(w)
	}
}
