package output

import (
	"context"
	"errors"
	"slices"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/channel"
	"github.com/strata-oss/strata/pipeline/config"
	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/stages"
	"github.com/strata-oss/strata/pipeline/tables"
)

// contactTable holds the contact fields and consent of one part's
// customers, by row of the run's dataset. It lives only while the
// customer tables are written: the channel files are the one place its
// fields go (consent also becomes audience columns, see consentColumns).
type contactTable struct {
	fields  map[string]strcol.Column // by contact field name; absent when unmapped
	consent map[string][]int8        // by consent name: 1, 0, -1 unknown
}

// consentNames are the consent columns audiences may filter on, in the
// order they are added to the audience columns.
var consentNames = []string{"email_opt_in", "sms_opt_in"}

// contactMappings are the contact and consent columns cfg's run reads:
// contact fields only when an audience has a channel format (nothing else
// uses them), consent whenever mapped and there are audiences.
func contactMappings(cfg *config.Config) (contact, consent map[string]string) {
	t := cfg.Input.Customers
	if t == nil || len(cfg.Audiences) == 0 {
		return nil, nil
	}
	if t.Contact != nil && channelAudiences(cfg) {
		contact = t.Contact.Columns()
	}
	if t.Consent != nil {
		consent = t.Consent.Columns()
	}
	if len(contact) == 0 && len(consent) == 0 {
		return nil, nil
	}
	return contact, consent
}

// channelAudiences reports whether some audience of cfg writes a channel
// file.
func channelAudiences(cfg *config.Config) bool {
	for _, a := range cfg.Audiences {
		for _, f := range a.FormatsOr() {
			if slices.Contains(config.ChannelFormats, f) {
				return true
			}
		}
	}
	return false
}

// readContactTable reads the contact fields and consent of st's customers
// (none when cfg maps none, or no audience needs them).
func readContactTable(ctx context.Context, st *Customers) (*contactTable, error) {
	contact, consent := contactMappings(st.Config)
	ct := &contactTable{}
	if contact == nil && consent == nil {
		return ct, nil
	}
	c, err := extract.ReadContacts(ctx, st.Spec, st.Data, contact, consent)
	if err != nil {
		return nil, asConfigError(err)
	}
	ct.fields, ct.consent = c.Fields, c.Consent
	return ct, nil
}

// CheckContacts checks that the customers table of spec has the contact
// and consent columns the audiences of cfg's run read, when the tables are
// written; a missing one is the user's to fix.
func CheckContacts(ctx context.Context, cfg *config.Config, spec extract.Spec) error {
	contact, consent := contactMappings(cfg)
	return asConfigError(extract.CheckContacts(ctx, spec, contact, consent))
}

// asConfigError makes a schema that does not fit the mapping a
// ConfigError (exit 2); other errors stay as they are.
func asConfigError(err error) error {
	var se *tables.SchemaError
	if errors.As(err, &se) {
		return &stages.ConfigError{Err: err}
	}
	return err
}

// contact returns row i's contact fields for a channel file.
func (ct *contactTable) contact(i int) channel.Contact {
	get := func(f string) string {
		if v, ok := ct.fields[f]; ok {
			return v.At(i)
		}
		return ""
	}
	return channel.Contact{Email: get("email"), Phone: get("phone"), FirstName: get("first_name"),
		LastName: get("last_name"), CountryCode: get("country_code"), PostalCode: get("postal_code")}
}

// consentColumns are the consent columns audiences may filter on and
// publish (BOOLEAN, null when unknown), one per consent field cfg maps,
// for n customers; ct nil (a schema check) leaves them all null.
func consentColumns(cfg *config.Config, ct *contactTable, n int) []tables.OutColumn {
	t := cfg.Input.Customers
	if t == nil || t.Consent == nil || len(cfg.Audiences) == 0 {
		return nil
	}
	mapped := t.Consent.Columns()
	var out []tables.OutColumn
	for _, name := range consentNames {
		if _, ok := mapped[name]; !ok {
			continue
		}
		col := tables.OutColumn{Name: name, Type: tables.OutBool, Optional: true, B: make([]bool, n), Null: make([]bool, n)}
		var v []int8
		if ct != nil {
			v = ct.consent[name]
		}
		for i := range n {
			switch {
			case i >= len(v) || v[i] < 0:
				col.Null[i] = true
			default:
				col.B[i] = v[i] == 1
			}
		}
		out = append(out, col)
	}
	return out
}
