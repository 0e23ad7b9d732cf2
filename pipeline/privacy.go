package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/privacy"
	"github.com/strata-oss/strata/pipeline/storage"
	"github.com/strata-oss/strata/pipeline/tables"
)

// pseudonymizer returns cfg's pseudonymizer, nil when ids are published as
// they are. A config that asks for pseudonyms without a key is the user's
// to fix; config.Parse reports it first, so this catches configs built
// some other way.
func pseudonymizer(cfg *config.Config) (*privacy.Pseudonymizer, error) {
	if !cfg.Privacy.Pseudonymize {
		return nil, nil
	}
	p, err := privacy.NewPseudonymizer(cfg.Privacy.Key())
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("privacy.pseudonymize: the key from $%s: %w", cfg.Privacy.KeyVar(), err)}
	}
	return p, nil
}

// keyInput fingerprints the pseudonym key as an input of the run: a new
// key makes new pseudonyms, so it must make a new attempt.
func keyInput(p *privacy.Pseudonymizer) extract.Input {
	return extract.Input{Table: "pseudonym_key", Key: "hmac-sha256", ETag: p.Fingerprint()}
}

// quarantineView is how the quarantine shows people under cfg.
func quarantineView(cfg *config.Config, p *privacy.Pseudonymizer) extract.QuarantineView {
	v := extract.QuarantineView{Withhold: cfg.Privacy.Policy().Withheld()}
	// The user's own attributes and measures are personal unless
	// publish_personal lists them.
	for _, n := range cfg.OwnNames() {
		if !slices.Contains(cfg.Privacy.PublishPersonal, n) {
			v.Withhold[n] = true
		}
	}
	if p != nil {
		v.ID = p.ID
	}
	withholdContacts(cfg, &v)
	return v
}

// withholdContacts keeps the customers table's contact and consent
// columns out of quarantine records: a malformed customers row's raw
// text, which may hold them, and any logical column read from one of
// them (mapped to it, or read by its own name when unmapped), which a
// record would otherwise show by name.
func withholdContacts(cfg *config.Config, v *extract.QuarantineView) {
	t := cfg.Input.Customers
	if t == nil || (t.Contact == nil && t.Consent == nil) {
		return
	}
	var cols []string
	if t.Contact != nil {
		cols = slices.AppendSeq(cols, maps.Values(t.Contact.Columns()))
	}
	if t.Consent != nil {
		cols = slices.AppendSeq(cols, maps.Values(t.Consent.Columns()))
	}
	if len(cols) == 0 {
		return
	}
	if v.HideRaw == nil {
		v.HideRaw = map[string]bool{}
	}
	v.HideRaw["customers"] = true
	if v.Withhold == nil {
		v.Withhold = map[string]bool{}
	}
	for _, col := range cols {
		if _, mapped := t.Columns[col]; !mapped {
			v.Withhold[col] = true // a logical name read from its own column
		}
		for logical, c := range t.Columns {
			if c == col {
				v.Withhold[logical] = true
			}
		}
	}
}

// suppressionTable is where cfg's suppression list is read, nil without
// one: under input.location (in, the input bucket itself, never its
// date window: a list is read whole) or its own location.
func suppressionTable(ctx context.Context, cfg *config.Config, in objstore.Bucket) (*extract.Table, error) {
	s := cfg.Privacy.Suppression
	if s == nil {
		return nil, nil
	}
	b := in
	if s.Location != "" {
		var err error
		if b, err = storage.Open(ctx, s.Location, StorageOptions(cfg)); err != nil {
			return nil, fmt.Errorf("suppression list: %w", err)
		}
	}
	var comma rune
	if s.CSV.Delimiter != "" {
		comma = []rune(s.CSV.Delimiter)[0]
	}
	return &extract.Table{Bucket: b, Prefix: s.Path, Format: s.Format,
		Columns: map[string]string{"customer_id": s.IDColumn()},
		CSV:     tables.CSVOptions{Comma: comma, TimeLayouts: s.CSV.TimeLayouts}}, nil
}

// publishedIDs are the customer ids as published: ds.IDs, or their
// pseudonyms.
func publishedIDs(cfg *config.Config, p *privacy.Pseudonymizer, ids strcol.Column) strcol.Column {
	if p == nil {
		return ids
	}
	return p.IDs(ids, cfg.Workers)
}
