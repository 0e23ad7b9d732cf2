package config

import "math"

// CLV configures the lifetime-value models fitted by every run.
type CLV struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// Model is the purchase model: bgnbd (default), mbgnbd or pnbd.
	Model string `yaml:"model"`
	// TimeUnit is the model's time unit: week (default) or day. It changes
	// the parameters' scale, not the predictions.
	TimeUnit string `yaml:"time_unit"`
	// HorizonMonths is the horizon of expected_purchases and clv; default 12.
	HorizonMonths int `yaml:"horizon_months"`
	// Margin is the share of revenue that is profit, applied to clv;
	// default 1 (clv is then discounted revenue).
	Margin *float64 `yaml:"margin"`
	// AnnualDiscountRate discounts future months at (1+rate)^(1/12) per
	// month; default 0.10.
	AnnualDiscountRate *float64 `yaml:"annual_discount_rate"`
	// HoldoutDays is the length of the held-out window of the calibration
	// check (the model is refitted on the history before it and scored on
	// it); default 90, 0 turns the check off.
	HoldoutDays *int `yaml:"holdout_days"`
}

// CLV defaults.
const (
	DefaultCLVModel           = "bgnbd"
	DefaultCLVTimeUnit        = "week"
	DefaultHorizonMonths      = 12
	DefaultMargin             = 1.0
	DefaultAnnualDiscountRate = 0.10
	DefaultHoldoutDays        = 90
)

// On reports whether CLV is enabled.
func (c CLV) On() bool { return c.Enabled == nil || *c.Enabled }

// ModelName returns the purchase model with its default.
func (c CLV) ModelName() string { return cmpOr(c.Model, DefaultCLVModel) }

// UnitDays is the model time unit in days.
func (c CLV) UnitDays() float64 {
	if cmpOr(c.TimeUnit, DefaultCLVTimeUnit) == "day" {
		return 1
	}
	return 7
}

// Horizon returns the horizon in months with its default.
func (c CLV) Horizon() int {
	if c.HorizonMonths == 0 {
		return DefaultHorizonMonths
	}
	return c.HorizonMonths
}

// MarginOr returns the margin with its default.
func (c CLV) MarginOr() float64 { return floatOr(c.Margin, DefaultMargin) }

// DiscountRate returns the annual discount rate with its default.
func (c CLV) DiscountRate() float64 { return floatOr(c.AnnualDiscountRate, DefaultAnnualDiscountRate) }

// Holdout returns the holdout length in days with its default.
func (c CLV) Holdout() int {
	if c.HoldoutDays == nil {
		return DefaultHoldoutDays
	}
	return *c.HoldoutDays
}

func (c CLV) resolved() CLV {
	on := c.On()
	m, d, h := c.MarginOr(), c.DiscountRate(), c.Holdout()
	return CLV{Enabled: &on, Model: c.ModelName(), TimeUnit: cmpOr(c.TimeUnit, DefaultCLVTimeUnit),
		HorizonMonths: c.Horizon(), Margin: &m, AnnualDiscountRate: &d, HoldoutDays: &h}
}

func (c CLV) validate(add func(path, msg string, args ...any)) {
	switch c.Model {
	case "", "bgnbd", "mbgnbd", "pnbd":
	default:
		add("clv.model", "must be bgnbd, mbgnbd or pnbd, got %q", c.Model)
	}
	switch c.TimeUnit {
	case "", "day", "week":
	default:
		add("clv.time_unit", "must be day or week, got %q", c.TimeUnit)
	}
	if c.HorizonMonths < 0 || c.HorizonMonths > 120 {
		add("clv.horizon_months", "must be between 1 and 120, got %d", c.HorizonMonths)
	}
	if m := c.MarginOr(); !(m > 0 && m <= 1) {
		add("clv.margin", "must be in (0, 1], got %v", m)
	}
	if d := c.DiscountRate(); !(d >= 0 && d < 10) || math.IsNaN(d) {
		add("clv.annual_discount_rate", "must be in [0, 10), got %v", d)
	}
	if h := c.Holdout(); h < 0 || h > 3650 {
		add("clv.holdout_days", "must be between 0 (off) and 3650, got %d", h)
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func floatOr(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}
