package config

import (
	"fmt"
	"math"
)

// CLV configures the lifetime-value models fitted by every run.
type CLV struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// Model is the purchase model: auto (default) chooses among BG/NBD,
	// MBG/NBD and Pareto/NBD (the NBD for one that finds no drop-out) by
	// how well each, fitted on the
	// history before the holdout window, predicts that window (SelectBy);
	// bgnbd, mbgnbd or pnbd force one.
	Model string `yaml:"model"`
	// SelectBy is how auto scores the candidates on the holdout window:
	// log_likelihood (default: the log-probability each gave the counts
	// that happened) or mae (mean absolute error of the expected counts).
	SelectBy string `yaml:"select_by"`
	// IntervalLevel is the coverage of the per-customer low/high columns;
	// default 0.9.
	IntervalLevel *float64 `yaml:"interval_level"`
	// IntervalDraws is how many parameter vectors the bounds are quantiles
	// over; default 50; 0 publishes no bounds (the columns are null). The
	// CLV bounds cost a CLV per draw and customer: most of the CLV
	// stage's time (docs/performance.md).
	IntervalDraws *int `yaml:"interval_draws" json:",omitempty"`
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
	// NoDropout says what to do when the purchase model's likelihood is
	// maximised at the no-dropout boundary (data in which nobody appears
	// to have lapsed: BG/NBD b → ∞, Pareto/NBD β → ∞), where the model has
	// no estimate: nbd (default) fits its limit, the NBD, instead and
	// publishes p_alive = 1; fail fails the run.
	NoDropout string `yaml:"no_dropout"`
}

// CLV defaults.
const (
	DefaultCLVModel      = "auto"
	DefaultSelectBy      = "log_likelihood"
	DefaultIntervalLevel = 0.9
	DefaultIntervalDraws = 50
	// AutoFallbackModel is what auto fits when there is no holdout window
	// to choose by (clv.holdout_days: 0): Pareto/NBD, whose P(alive) of a
	// one-time buyer falls with the time since the purchase.
	AutoFallbackModel         = "pnbd"
	DefaultCLVTimeUnit        = "week"
	DefaultHorizonMonths      = 12
	DefaultMargin             = 1.0
	DefaultAnnualDiscountRate = 0.10
	DefaultHoldoutDays        = 90
	DefaultNoDropout          = "nbd"
)

// On reports whether CLV is enabled.
func (c CLV) On() bool { return c.Enabled == nil || *c.Enabled }

// ModelName returns the purchase model with its default.
func (c CLV) ModelName() string { return cmpOr(c.Model, DefaultCLVModel) }

// Auto reports whether the purchase model is chosen by the holdout.
func (c CLV) Auto() bool { return c.ModelName() == "auto" }

// Selection returns SelectBy with its default.
func (c CLV) Selection() string { return cmpOr(c.SelectBy, DefaultSelectBy) }

// Draws returns IntervalDraws with its default.
func (c CLV) Draws() int {
	if c.IntervalDraws == nil {
		return DefaultIntervalDraws
	}
	return *c.IntervalDraws
}

// Level returns IntervalLevel with its default.
func (c CLV) Level() float64 { return floatOr(c.IntervalLevel, DefaultIntervalLevel) }

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

// NoDropoutPolicy returns NoDropout with its default.
func (c CLV) NoDropoutPolicy() string { return cmpOr(c.NoDropout, DefaultNoDropout) }

func (c CLV) resolved() CLV {
	on := c.On()
	m, d, h, l := c.MarginOr(), c.DiscountRate(), c.Holdout(), c.Level()
	r := CLV{Enabled: &on, Model: c.ModelName(), TimeUnit: cmpOr(c.TimeUnit, DefaultCLVTimeUnit),
		HorizonMonths: c.Horizon(), Margin: &m, AnnualDiscountRate: &d, HoldoutDays: &h,
		NoDropout: c.NoDropoutPolicy(), IntervalLevel: &l}
	if c.Auto() {
		r.SelectBy = c.Selection()
	}
	if d := c.Draws(); d != DefaultIntervalDraws {
		r.IntervalDraws = &d
	}
	return r
}

func (c CLV) validate(add func(path, msg string, args ...any)) {
	switch c.Model {
	case "", "auto", "bgnbd", "mbgnbd", "pnbd":
	default:
		add("clv.model", "must be auto, bgnbd, mbgnbd or pnbd, got %q", c.Model)
	}
	switch c.SelectBy {
	case "", "log_likelihood", "mae":
		if c.SelectBy != "" && !c.Auto() {
			add("clv.select_by", "applies to clv.model: auto only (the model is %s)", c.Model)
		}
	default:
		add("clv.select_by", "must be log_likelihood or mae, got %q", c.SelectBy)
	}
	if l := c.Level(); !(l >= 0.5 && l < 1) {
		add("clv.interval_level", "must be in [0.5, 1), got %v", l)
	}
	if d := c.Draws(); d < 0 || d > 10_000 || d > 0 && d < 20 {
		add("clv.interval_draws", "must be 0 (no bounds) or between 20 and 10000, got %d", d)
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
	switch c.NoDropout {
	case "", "nbd", "fail":
	default:
		add("clv.no_dropout", "must be nbd (fit the NBD when nobody appears to drop out) or fail, got %q", c.NoDropout)
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

// Cluster configures k-means segmentation of the customers who bought.
type Cluster struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// Features are the per-customer features clustered on, by name, each
	// with its scaling; the default is DefaultClusterFeatures.
	Features []ClusterFeature `yaml:"features"`
	// K fixes the number of clusters; 0 (default) chooses it in KRange by
	// silhouette.
	K int `yaml:"k"`
	// KRange is the inclusive range k is chosen in; default [3, 8].
	KRange []int `yaml:"k_range"`
	// NInit is the number of seeded k-means++ restarts; default 10.
	NInit int `yaml:"n_init"`
	// MaxIter bounds the iterations of a restart; default 300.
	MaxIter int `yaml:"max_iter"`
	// Algorithm is auto (default), lloyd, hamerly or minibatch.
	Algorithm string `yaml:"algorithm"`
	// SilhouetteSample is the rows silhouette is computed on when choosing
	// k; default 10000 (memory and time grow with its square).
	SilhouetteSample int `yaml:"silhouette_sample"`
	// WarmStart starts k-means from the previous run's centroids when it
	// used the same features.
	WarmStart bool `yaml:"warm_start"`
	// MaxMatchDistance, in scaled units, is the farthest a new centroid may
	// be from a previous one and keep its id; 0 (default) keeps as many ids
	// as the cluster counts allow.
	MaxMatchDistance float64 `yaml:"max_match_distance"`
}

// ClusterFeature is one clustering input.
type ClusterFeature struct {
	Name string `yaml:"name"`
	// Scale is none, log1p, zscore or log1p+zscore (default).
	Scale string `yaml:"scale"`
	// Fill says what a buyer without a value gets (gap_mean_days of
	// someone with one purchase day, age_years without a birth date):
	// empty, the default, fails the run naming the customer, so that no
	// value is invented silently; zero, mean or median (over the buyers
	// who have one) fill it, and model.json records the value used.
	Fill string `yaml:"fill" json:"Fill,omitempty"`
}

// Cluster defaults.
const (
	DefaultKMin             = 3
	DefaultKMax             = 8
	DefaultNInit            = 10
	DefaultMaxIter          = 300
	DefaultSilhouetteSample = 10_000
	DefaultScale            = "log1p+zscore"
)

// DefaultClusterFeatures are the behavioural features clustered on when the
// config names none: heavy-tailed, so log1p before z-scoring.
var DefaultClusterFeatures = []string{"recency_days", "frequency", "monetary_value", "avg_order_value", "tenure_days"}

// On reports whether clustering is enabled.
func (c Cluster) On() bool { return c.Enabled == nil || *c.Enabled }

// FeatureList returns the features with defaults applied.
func (c Cluster) FeatureList() []ClusterFeature {
	if len(c.Features) == 0 {
		out := make([]ClusterFeature, len(DefaultClusterFeatures))
		for i, f := range DefaultClusterFeatures {
			out[i] = ClusterFeature{Name: f, Scale: DefaultScale}
		}
		return out
	}
	out := make([]ClusterFeature, len(c.Features))
	for i, f := range c.Features {
		out[i] = ClusterFeature{Name: f.Name, Scale: cmpOr(f.Scale, DefaultScale), Fill: f.Fill}
	}
	return out
}

// Range returns the k range with its default.
func (c Cluster) Range() (int, int) {
	if len(c.KRange) == 2 {
		return c.KRange[0], c.KRange[1]
	}
	return DefaultKMin, DefaultKMax
}

// Restarts returns NInit with its default.
func (c Cluster) Restarts() int { return intOr(c.NInit, DefaultNInit) }

// Iterations returns MaxIter with its default.
func (c Cluster) Iterations() int { return intOr(c.MaxIter, DefaultMaxIter) }

// Sample returns SilhouetteSample with its default.
func (c Cluster) Sample() int { return intOr(c.SilhouetteSample, DefaultSilhouetteSample) }

func (c Cluster) resolved() Cluster {
	on := c.On()
	lo, hi := c.Range()
	r := c
	r.Enabled, r.Features, r.KRange = &on, c.FeatureList(), []int{lo, hi}
	r.NInit, r.MaxIter, r.SilhouetteSample = c.Restarts(), c.Iterations(), c.Sample()
	r.Algorithm = cmpOr(c.Algorithm, "auto")
	if c.K > 0 {
		r.KRange, r.SilhouetteSample = nil, 0
	}
	return r
}

func (c Cluster) validate(add func(path, msg string, args ...any)) {
	seen := map[string]bool{}
	for i, f := range c.Features {
		p := fmt.Sprintf("cluster.features[%d]", i)
		if f.Name == "" {
			add(p+".name", "is required")
		} else if seen[f.Name] {
			add(p+".name", "%q is listed twice", f.Name)
		}
		seen[f.Name] = true
		switch f.Scale {
		case "", "none", "log1p", "zscore", "log1p+zscore":
		default:
			add(p+".scale", "must be none, log1p, zscore or log1p+zscore, got %q", f.Scale)
		}
		switch f.Fill {
		case "", "zero", "mean", "median":
		default:
			add(p+".fill", "must be zero, mean or median (or unset: a missing value fails the run), got %q", f.Fill)
		}
	}
	if c.K < 0 || c.K == 1 || c.K > 100 {
		add("cluster.k", "must be 0 (choose) or between 2 and 100, got %d", c.K)
	}
	if c.KRange != nil {
		if len(c.KRange) != 2 || c.KRange[0] < 2 || c.KRange[1] < c.KRange[0] || c.KRange[1] > 100 {
			add("cluster.k_range", "must be [min, max] with 2 ≤ min ≤ max ≤ 100, got %v", c.KRange)
		} else if c.K > 0 {
			add("cluster.k_range", "set either k or k_range, not both")
		}
	}
	if c.NInit < 0 || c.NInit > 1000 {
		add("cluster.n_init", "must be between 1 and 1000 (0 = default %d), got %d", DefaultNInit, c.NInit)
	}
	if c.MaxIter < 0 {
		add("cluster.max_iter", "must be positive (0 = default %d), got %d", DefaultMaxIter, c.MaxIter)
	}
	switch c.Algorithm {
	case "", "auto", "lloyd", "hamerly", "minibatch":
	default:
		add("cluster.algorithm", "must be auto, lloyd, hamerly or minibatch, got %q", c.Algorithm)
	}
	if c.SilhouetteSample < 0 || c.SilhouetteSample > 100_000 {
		add("cluster.silhouette_sample", "must be between 100 and 100000 (0 = default %d), got %d", DefaultSilhouetteSample, c.SilhouetteSample)
	}
	if c.MaxMatchDistance < 0 || math.IsNaN(c.MaxMatchDistance) {
		add("cluster.max_match_distance", "must be 0 (no limit) or positive, got %v", c.MaxMatchDistance)
	}
}

func intOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Recommendations configures the per-customer category offers: the
// categories a customer's cluster buys more than the whole base does
// (lift), that the customer has not bought, best first. They need
// clustering and an orders category column; without either, none are
// made.
type Recommendations struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// TopN is the number of offers per customer. Default 3.
	TopN int `yaml:"top_n"`
}

// DefaultRecommendations is the default number of offers per customer.
const DefaultRecommendations = 3

// On reports whether recommendations are enabled.
func (r Recommendations) On() bool { return r.Enabled == nil || *r.Enabled }

// N returns TopN with its default.
func (r Recommendations) N() int { return intOr(r.TopN, DefaultRecommendations) }

func (r Recommendations) resolved() Recommendations {
	on := r.On()
	return Recommendations{Enabled: &on, TopN: r.N()}
}

func (r Recommendations) validate(add func(path, msg string, args ...any)) {
	if r.TopN < 0 || r.TopN > 50 {
		add("recommendations.top_n", "must be between 1 and 50 (0 or unset: %d), got %d", DefaultRecommendations, r.TopN)
	}
}
