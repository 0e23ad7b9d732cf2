package config

import "slices"

// Measurement configures what each run measures of the earlier runs'
// campaigns from the orders after them (pipeline/measure):
//
//	measurement:
//	  windows: [7, 30, 90]   # days after a campaign's start, or an earlier run
//	  segments: true         # also segment_kpis and clv_backtest
//
// A pointer in Config, so that configurations without it keep their hash.
type Measurement struct {
	// Windows are the lengths, in days, of the windows measured from a
	// campaign's start; default DefaultMeasurementWindows. A window is
	// measured once it has fully elapsed.
	Windows []int `yaml:"windows" json:",omitempty"`
	// Segments turns on the measurement of earlier runs' segments and CLV
	// predictions (segment_kpis, clv_backtest). Off by default: it reads
	// every order of the measured windows a second time.
	Segments bool `yaml:"segments" json:",omitempty"`
}

// SegmentsOn reports whether segment_kpis and clv_backtest are measured.
// m may be nil.
func (m *Measurement) SegmentsOn() bool { return m != nil && m.Segments }

// DefaultMeasurementWindows are measurement.windows' default.
var DefaultMeasurementWindows = []int{7, 30, 90}

// MaxMeasurementWindow bounds a window: ten years of days.
const MaxMeasurementWindow = 3653

// WindowsOr returns the windows with their default, sorted, without
// repeats. m may be nil.
func (m *Measurement) WindowsOr() []int {
	if m == nil || len(m.Windows) == 0 {
		return slices.Clone(DefaultMeasurementWindows)
	}
	w := slices.Clone(m.Windows)
	slices.Sort(w)
	return slices.Compact(w)
}

// resolved is m as Config.Hash sees it: the default spelled out hashes as
// if left unset, and so does the same set of windows in another order.
func (m *Measurement) resolved() *Measurement {
	if m == nil || !m.Segments && slices.Equal(m.WindowsOr(), DefaultMeasurementWindows) {
		return nil
	}
	r := &Measurement{Windows: m.WindowsOr(), Segments: m.Segments}
	if slices.Equal(r.Windows, DefaultMeasurementWindows) {
		r.Windows = nil
	}
	return r
}

func (m *Measurement) validate(add func(path, msg string, args ...any)) {
	if m == nil {
		return
	}
	for i, w := range m.Windows {
		if w < 1 || w > MaxMeasurementWindow {
			add("measurement.windows", "window %d is %d days: want 1 to %d", i, w, MaxMeasurementWindow)
		}
	}
}
