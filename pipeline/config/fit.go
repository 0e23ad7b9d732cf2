package config

// Fit says what the models are fitted on. By default every customer; a
// sample_fraction below 1 fits the scaler, the clusters, the CLV models,
// the RFM quintiles, the feature levels and the category lifts on a
// seeded uniform sample of the customers (chosen by a hash of their id
// and the seed) and scores everyone with them: how a sharded run fits
// once for all its shards, and what a single-process run does too with
// the same setting, so that both publish the same rows.
type Fit struct {
	SampleFraction float64 `yaml:"sample_fraction"`
}

// Fraction is the share of customers fitted on: SampleFraction, or 1.
func (f *Fit) Fraction() float64 {
	if f == nil || f.SampleFraction == 0 {
		return 1
	}
	return f.SampleFraction
}

func (f *Fit) validate(add func(path, msg string, args ...any)) {
	if f == nil {
		return
	}
	if !(f.SampleFraction > 0 && f.SampleFraction <= 1) {
		add("fit.sample_fraction", "must be above 0 and at most 1 (unset: 1, every customer), got %v", f.SampleFraction)
	}
}
