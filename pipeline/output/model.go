package output

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/features"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
	"github.com/strata-oss/strata/pipeline/stages"
)

// Model is the content of model.json: everything needed to understand and
// reproduce a run's outputs. It holds no wall-clock time, so it is as
// reproducible as the tables.
type Model struct {
	StrataVersion string               `json:"strata_version"`
	AsOf          string               `json:"as_of"`
	Attempt       string               `json:"attempt"`
	ConfigHash    string               `json:"config_hash"`
	Seed          uint64               `json:"seed"`
	Timezone      string               `json:"timezone"`
	Inputs        []extract.Input      `json:"inputs"`
	Counts        map[string]int64     `json:"counts"`
	Quality       extract.Quality      `json:"quality"`
	RFM           stages.RFMModel      `json:"rfm"`
	Tables        map[string][]string  `json:"tables"`
	Segments      []stages.SummaryRow  `json:"segments"`
	CLV           *stages.CLVModel     `json:"clv,omitempty"`
	Cluster       *stages.ClusterModel `json:"cluster,omitempty"`
	Audiences     []AudienceResult     `json:"audiences,omitempty"`
	// Recommendations records how the category offers were made.
	Recommendations *stages.RecommendModel `json:"recommendations,omitempty"`
	// Features is the catalogue of the run's features (what each column
	// of the features table is, where it comes from, when it is null):
	// the names cluster.features may use.
	Features []features.Feature `json:"features"`
	// Report is the key of the run's HTML report.
	Report string `json:"report"`
	// Privacy says what the run withheld: suppressed customers,
	// pseudonymised ids, personal features.
	Privacy *PrivacyModel `json:"privacy"`
	// Fit says what the models were fitted on: every customer, or a
	// sample of them.
	Fit *FitRecord `json:"fit,omitempty"`
	// GuestShare is the guest orders' share of the revenue, net of
	// returns (quality.guest_revenue against the customers' revenue);
	// absent without guest orders.
	GuestShare float64 `json:"guest_share,omitempty"`
	// Stages are the sections of the stages added after the first four
	// (whose sections keep their top-level keys above), by stage name.
	Stages map[string]any `json:"stages,omitempty"`
}

// Drift is model.json's drift section (stages.drift), nil when the run
// had no previous run to compare with.
func (m *Model) Drift() (*stages.DriftSection, error) {
	v, ok := m.Stages["drift"]
	if !ok {
		return nil, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("model.json stages.drift: %w", err)
	}
	var d stages.DriftSection
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("model.json stages.drift: %w", err)
	}
	return &d, nil
}

// FitRecord is model.json's note of a fit on a sample.
type FitRecord struct {
	SampleFraction float64 `json:"sample_fraction"`
	Customers      int     `json:"customers"`
}

// PrivacyModel is model.json's account of what the run withheld.
type PrivacyModel struct {
	// Suppression says a suppression list was applied; the rows it
	// dropped are in quality.excluded[table].suppressed.
	Suppression bool `json:"suppression"`
	// Pseudonymized says every published customer_id is a pseudonym.
	Pseudonymized bool   `json:"pseudonymized"`
	IDs           string `json:"ids"`
	// Withheld lists the features of the catalogue that the features
	// table leaves out as personal (privacy.publish_personal allows them).
	Withheld []string `json:"withheld_features,omitempty"`
}

func privacyModel(cfg *config.Config, withheld []string) *PrivacyModel {
	m := &PrivacyModel{Suppression: cfg.Privacy.Suppression != nil, Pseudonymized: cfg.Privacy.Pseudonymize,
		IDs: "as read", Withheld: withheld}
	if m.Pseudonymized {
		m.IDs = "hex HMAC-SHA256(key, id), 64 characters"
	}
	return m
}

// ReadModel reads the model.json a committed manifest names, returning it
// with its key.
func ReadModel(ctx context.Context, b objstore.Bucket, m *publish.Manifest) (*Model, string, error) {
	key := m.Object("model", "models", "model.json")
	data, err := objstore.ReadAll(ctx, b, key)
	if err != nil {
		return nil, key, fmt.Errorf("read model %s: %w", key, err)
	}
	var model Model
	if err := json.Unmarshal(data, &model); err != nil {
		return nil, key, fmt.Errorf("decode model %s: %w", key, err)
	}
	return &model, key, nil
}
