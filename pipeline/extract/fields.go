package extract

import "github.com/strata-oss/strata/pipeline/tables"

// Field positions in each table's read; customer_id is first in every
// table so quarantine records can name the customer.
const (
	oCustomer = iota
	oTime
	oAmount
	oOrderID
	oQuantity
	oUnitPrice
	oRefund
	oCategory
	oChannel
	oDiscount
	oCurrency
	oStatus
	oProduct
	// oOwn is the first of the table's own columns (Table.Own, the
	// measures), read after the logical ones.
	oOwn
)

func orderFields(cols map[string]string) []tables.Field {
	_, priced := cols["unit_price"]
	// Without a mapping, amount is read from a column of that name if the
	// table has one; a table without amounts (a purchase panel) is read
	// without (Dataset.NoAmount).
	_, mapped := cols["amount"]
	return []tables.Field{
		{Name: "customer_id", Kind: tables.Key, Required: true},
		{Name: "order_ts", Kind: tables.Time, Required: true},
		{Name: "amount", Kind: tables.Float, Required: mapped && !priced},
		{Name: "order_id", Kind: tables.String},
		{Name: "quantity", Kind: tables.Float, Required: priced},
		{Name: "unit_price", Kind: tables.Float, Required: priced},
		{Name: "is_refund", Kind: tables.Bool},
		{Name: "category", Kind: tables.String},
		{Name: "channel", Kind: tables.String},
		{Name: "discount", Kind: tables.Float},
		{Name: "currency", Kind: tables.String},
		{Name: "status", Kind: tables.String},
		{Name: "product", Kind: tables.String},
	}
}

// orderLevel are the fields an export may give only on an order's first
// line (Shopify's does): with line grain, a line whose order_id is the
// previous row's takes them from that row where it leaves them blank.
var orderLevel = [...]int{oCustomer, oTime, oCurrency, oStatus, oChannel}

// Attrs are the categorical customer attributes, in CustomerBlock.Attr
// order. age_group and income_group take bands a source already has
// ("45-54", "35-49K"): many customer tables carry only bands, for privacy,
// and a band read as a number would be lost. They are encoded as given,
// apart from the age_band_* and income_band_* that Strata computes from a
// numeric age or income.
var Attrs = [...]string{"gender", "education", "occupation", "country", "region", "city", "postal_code", "device", "os",
	"marital_status", "household_size", "children", "home_ownership", "age_group", "income_group"}

// NumAttrs is len(Attrs).
const NumAttrs = len(Attrs)

const (
	cCustomer = iota
	cSignup
	cUpdated
	cBirth
	cAge
	cIncome
	cInterests
	cOptIn
	cAttr0 // then one per Attrs entry
)

func customerFields() []tables.Field {
	fs := []tables.Field{
		{Name: "customer_id", Kind: tables.Key, Required: true},
		{Name: "signup_ts", Kind: tables.Time},
		{Name: "updated_at", Kind: tables.Time},
		{Name: "birth_date", Kind: tables.Time},
		{Name: "age", Kind: tables.Float},
		{Name: "income", Kind: tables.Float},
		{Name: "interests", Kind: tables.StringList},
		{Name: "email_opt_in", Kind: tables.Bool},
	}
	for _, a := range Attrs {
		fs = append(fs, tables.Field{Name: a, Kind: tables.String})
	}
	return fs
}

const (
	eCustomer = iota
	eTime
	eType
	eChannel
)

func eventFields() []tables.Field {
	return []tables.Field{
		{Name: "customer_id", Kind: tables.Key, Required: true},
		{Name: "event_ts", Kind: tables.Time, Required: true},
		{Name: "event_type", Kind: tables.String, Required: true},
		{Name: "channel", Kind: tables.String},
	}
}
