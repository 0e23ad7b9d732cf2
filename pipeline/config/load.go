package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/strata-oss/strata/models/rfm"
	"github.com/strata-oss/strata/pipeline/audience"
	"github.com/strata-oss/strata/pipeline/extract"
)

// Columns lists the logical columns of each input table.
type Columns struct {
	Required []string
	Optional []string
}

// Has reports whether name is a logical column of the table.
func (c Columns) Has(name string) bool {
	for _, n := range c.Required {
		if n == name {
			return true
		}
	}
	for _, n := range c.Optional {
		if n == name {
			return true
		}
	}
	return false
}

// TableColumns returns the logical columns of input table name ("orders",
// "customers" or "events").
func TableColumns(name string) Columns {
	switch name {
	case "orders":
		// amount may instead be quantity × unit_price (see Validate), or
		// be missing: a run without amounts has no M and no spend model.
		return Columns{
			Required: []string{"customer_id", "order_ts"},
			Optional: []string{"amount", "order_id", "quantity", "unit_price", "discount", "category", "channel", "currency", "is_refund", "status", "product"},
		}
	case "customers":
		return Columns{
			Required: []string{"customer_id"},
			Optional: append([]string{"signup_ts", "updated_at", "birth_date", "age", "income", "interests", "email_opt_in"},
				extract.Attrs[:]...),
		}
	case "events":
		return Columns{
			Required: []string{"customer_id", "event_ts", "event_type"},
			Optional: []string{"channel", "campaign"},
		}
	}
	return Columns{}
}

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return Parse(data, os.LookupEnv)
}

// FileError says the configuration file could not be read (missing,
// unreadable): a usage error, exit code 2.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string {
	err := e.Err
	var pe *fs.PathError
	if errors.As(err, &pe) { // it names the path too
		err = pe.Err
	}
	return fmt.Sprintf("read config %s: %v", e.Path, err)
}
func (e *FileError) Unwrap() error { return e.Err }

// Parse decodes and validates a configuration. lookup resolves ${NAME}
// references (os.LookupEnv in production). The error, if any, is Problems
// listing everything wrong, or a YAML syntax error.
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{Msg: "configuration is empty"}}
		}
		return nil, fmt.Errorf("parse config: %w", err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	var probs Problems
	if root.Kind != yaml.MappingNode {
		return nil, Problems{{Line: root.Line, Msg: "configuration must be a mapping of keys to values"}}
	}
	checkKeys(root, reflect.TypeOf(Config{}), "", &probs)
	expandEnv(root, "", lookup, &probs)
	var c Config
	decoded := true
	if err := root.Decode(&c); err != nil {
		decoded = false
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				probs = append(probs, Problem{Msg: e})
			}
		} else {
			probs = append(probs, Problem{Msg: err.Error()})
		}
	}
	if decoded {
		// Unknown keys don't stop the semantic checks: every problem is
		// reported in one go.
		c.validate(root, &probs)
		c.Privacy.loadKey(lookup, func(path, msg string, args ...any) {
			probs = append(probs, Problem{Path: path, Line: lineOf(root, path), Msg: fmt.Sprintf(msg, args...)})
		})
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return &c, nil
}

// yamlFields adds the keys of struct type t to fields and names, with
// those of its `yaml:",inline"` fields (Audience's AudienceCampaign), as
// the decoder reads them.
func yamlFields(t reflect.Type, fields map[string]reflect.Type, names *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		opts := strings.Split(f.Tag.Get("yaml"), ",")
		if slices.Contains(opts[1:], "inline") && f.Type.Kind() == reflect.Struct {
			yamlFields(f.Type, fields, names)
			continue
		}
		tag := opts[0]
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = f.Type
		*names = append(*names, tag)
	}
}

// checkKeys walks the document beside the Go type and reports every key the
// type does not have, with a suggestion when one is close.
func checkKeys(n *yaml.Node, t reflect.Type, path string, probs *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return
			}
			*probs = append(*probs, Problem{Path: path, Line: n.Line, Msg: "expected a mapping"})
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		yamlFields(t, fields, &names)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if seen[k.Value] {
				*probs = append(*probs, Problem{Path: p, Line: k.Line, Msg: "key appears twice"})
				continue
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				msg := "unknown key"
				if s := closest(k.Value, names); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				*probs = append(*probs, Problem{Path: p, Line: k.Line, Msg: msg})
				continue
			}
			checkKeys(v, ft, p, probs)
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode && t.Elem().Kind() == reflect.Struct {
			for i, item := range n.Content {
				checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), probs)
			}
		}
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${NAME} and ${NAME:-default} in every scalar value.
func expandEnv(n *yaml.Node, path string, lookup func(string) (string, bool), probs *Problems) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandEnv(n.Content[i+1], join(path, n.Content[i].Value), lookup, probs)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandEnv(c, fmt.Sprintf("%s[%d]", path, i), lookup, probs)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if v, ok := lookup(m[1]); ok && v != "" {
				return v
			}
			if m[2] != "" {
				return m[3]
			}
			*probs = append(*probs, Problem{Path: path, Line: n.Line,
				Msg: fmt.Sprintf("environment variable %s is not set (use ${%s:-default} for a fallback)", m[1], m[1])})
			return ""
		})
		// A value that came from the environment is data, whatever it
		// looks like: re-resolve the tag from the expanded text only for
		// plain scalars, so "${PORT}" can still decode into an int.
		if n.Style == 0 {
			n.Tag = ""
		}
	}
}

// validate checks meaning, after decoding succeeded.
func (c *Config) validate(root *yaml.Node, probs *Problems) {
	add := func(path, msg string, args ...any) {
		*probs = append(*probs, Problem{Path: path, Line: lineOf(root, path), Msg: fmt.Sprintf(msg, args...)})
	}
	if c.Version != 1 {
		add("version", "must be 1 (got %d)", c.Version)
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			add("timezone", "unknown time zone %q", c.Timezone)
		}
	}
	if c.Workers < 0 {
		add("workers", "must be 0 (all cores) or positive, got %d", c.Workers)
	} else if limit := MaxWorkers(); c.Workers > limit {
		add("workers", "must be at most %d (%d × the %d cores Go may use here), got %d: more workers than that only wait, each holding buffers of its own",
			limit, WorkersPerCore, runtime.GOMAXPROCS(0), c.Workers)
	}
	if c.Input.Location == "" {
		add("input.location", "is required: a local directory or s3://bucket/prefix")
	} else if err := checkLocation(c.Input.Location); err != nil {
		add("input.location", "%v", err)
	}
	if c.Output.Location == "" {
		add("output.location", "is required: a local directory or s3://bucket/prefix")
	} else if err := checkLocation(c.Output.Location); err != nil {
		add("output.location", "%v", err)
	}
	if v := c.Output.Compression; v != "" && !slices.Contains(Compressions, v) {
		add("output.compression", "must be one of %s, not %q", strings.Join(Compressions, ", "), v)
	}
	if v := c.Output.IntegerEncoding; v != "" && !slices.Contains(IntegerEncodings, v) {
		add("output.integer_encoding", "must be one of %s, not %q", strings.Join(IntegerEncodings, ", "), v)
	}
	if e := c.Storage.S3.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("storage.s3.endpoint", "must be an http:// or https:// URL, got %q", e)
		}
	}
	if m := c.Storage.S3.MaxAttempts; m < 0 || m > 20 {
		add("storage.s3.max_attempts", "must be between 1 and 20 (0 = default 5), got %d", m)
	}
	if b := c.Storage.S3.MaxBackoff; b != "" {
		if d, err := time.ParseDuration(b); err != nil || d <= 0 || d > 5*time.Minute {
			add("storage.s3.max_backoff", "must be a Go duration above 0 and at most 5m, e.g. 2s, got %q", b)
		}
	}
	c.validateTable("input.orders", "orders", &c.Input.Orders, root, add)
	if c.Input.Customers != nil {
		c.validateTable("input.customers", "customers", c.Input.Customers, root, add)
	}
	if c.Input.Events != nil {
		c.validateTable("input.events", "events", c.Input.Events, root, add)
	}
	if f := c.Quality.Fraction(); !(f >= 0 && f <= 1) {
		add("quality.max_bad_fraction", "must be between 0 and 1, got %v", f)
	}
	if g := c.Quality.Guests; g != "" && !slices.Contains(GuestPolicies, g) {
		add("quality.guests", "must be one of %s, not %q", strings.Join(GuestPolicies, ", "), g)
	}
	c.validateOrderRules(add)
	c.CLV.validate(add)
	c.Cluster.validate(add)
	c.Features.validate(add)
	c.Recommendations.validate(add)
	c.Fit.validate(add)
	c.Drift.validate(add)
	c.Measurement.validate(add)
	var contact ContactFields
	if t := c.Input.Customers; t != nil {
		var consent Consent
		if t.Contact != nil {
			contact = *t.Contact
		}
		if t.Consent != nil {
			consent = *t.Consent
		}
		ValidateCustomerContact("input.customers", contact, consent, add)
	}
	validateAudiences(c.Audiences, contact, add)
	c.validatePrivacy(add)
	c.validateSchedule(add)
	if len(c.RFM.Segments) > 0 {
		if err := checkGrid(c.RFM.Segments); err != nil {
			add("rfm.segments", "%v", err)
		}
	}
}

func (c *Config) validateTable(path, name string, t *Table, root *yaml.Node, add func(string, string, ...any)) {
	if t.Path == "" {
		add(path+".path", "is required: the table's prefix under input.location")
	}
	switch t.Format {
	case "", "auto", "parquet", "csv":
	default:
		add(path+".format", "must be parquet, csv or auto, got %q", t.Format)
	}
	cols := TableColumns(name)
	for logical, physical := range t.Columns {
		if !cols.Has(logical) {
			add(path+".columns."+logical, "%q is not a column of the %s table; known: %s",
				logical, name, strings.Join(append(append([]string{}, cols.Required...), cols.Optional...), ", "))
		}
		if strings.TrimSpace(physical) == "" {
			add(path+".columns."+logical, "maps to an empty column name")
		}
	}
	if name == "orders" {
		_, hasAmount := t.Columns["amount"]
		_, hasPrice := t.Columns["unit_price"]
		if hasAmount && hasPrice {
			add(path+".columns", "map either amount or unit_price (amount = quantity × unit_price), not both")
		}
	}
	if name != "orders" && (t.Grain != "" || t.Returns != nil || len(t.Exclude) > 0 || t.ZeroAmount != "") {
		add(path, "grain, returns, exclude and zero_amount apply to the orders table only")
	}
	if d := t.CSV.Delimiter; d != "" && len([]rune(d)) != 1 {
		add(path+".csv.delimiter", "must be a single character, got %q", d)
	}
	c.validateOwn(path, name, t, cols, add)
}

// ownName is what an attribute's or measure's name must look like: it
// names features and publish_personal entries.
var ownName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// validateOwn checks a table's own attributes and measures.
func (c *Config) validateOwn(path, name string, t *Table, cols Columns, add func(string, string, ...any)) {
	if len(t.Attributes) > 0 && name != "customers" {
		add(path+".attributes", "only the customers table has attributes (orders have measures)")
	}
	if len(t.Measures) > 0 && name != "orders" {
		add(path+".measures", "only the orders table has measures (customers have attributes)")
	}
	seen := map[string]bool{}
	check := func(p, column, feature string) {
		switch {
		case strings.TrimSpace(column) == "":
			add(p+".column", "is required: the table's column")
		case !ownName.MatchString(feature):
			add(p+".name", "%q must be lower case letters, digits and _, starting with a letter (set name to rename the column's)", feature)
		case cols.Has(feature) || slices.Contains(reservedFeatures, feature):
			add(p+".name", "%q is a built-in column or feature; set name to another", feature)
		case seen[feature]:
			add(p+".name", "%q is used twice", feature)
		}
		seen[feature] = true
	}
	for i, a := range t.Attributes {
		p := fmt.Sprintf("%s.attributes[%d]", path, i)
		check(p, a.Column, a.FeatureName())
		if a.Type != "categorical" && a.Type != "numeric" {
			add(p+".type", "must be categorical or numeric, got %q", a.Type)
		}
	}
	for i, m := range t.Measures {
		check(fmt.Sprintf("%s.measures[%d]", path, i), m.Column, m.FeatureName())
	}
}

// reservedFeatures are names an attribute or measure may not take: the
// built-in features and outputs they would be confused with.
var reservedFeatures = []string{"recency_days", "frequency", "purchase_days", "monetary", "monetary_value",
	"avg_order_value", "max_order_value", "tenure_days", "refund_rate", "interests", "age_years", "age_band", "income_band",
	"cat_share", "channel_share", "p_alive", "expected_purchases", "expected_avg_spend", "clv", "cluster_id", "cluster_name",
	"p_alive_low", "p_alive_high", "expected_purchases_low", "expected_purchases_high", "clv_low", "clv_high",
	"churn_risk", "expected_next_order_days", "clv_3m", "clv_6m", "clv_12m",
	"rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment"}

// checkGrid compiles the rules with the RFM model's own grid, so the config
// accepts exactly the grids a run can use.
func checkGrid(rules []SegmentRule) error {
	rr := make([]rfm.Rule, len(rules))
	for i, r := range rules {
		if r.Name == "" {
			return fmt.Errorf("rule %d has no name", i)
		}
		rr[i] = rfm.Rule{Name: r.Name, R: r.R, F: r.F}
	}
	_, err := rfm.NewGrid(rr)
	return err
}

func checkLocation(loc string) error {
	if strings.Contains(loc, "://") && !strings.HasPrefix(loc, "s3://") && !strings.HasPrefix(loc, "file://") {
		return fmt.Errorf("unsupported location %q: use a local path or s3://bucket/prefix", loc)
	}
	if strings.HasPrefix(loc, "s3://") && strings.Trim(strings.TrimPrefix(loc, "s3://"), "/") == "" {
		return fmt.Errorf("location %q names no bucket", loc)
	}
	return nil
}

// lineOf finds the line of a dotted path in the document, or of its nearest
// existing ancestor, so that a problem about a missing key points somewhere
// useful.
func lineOf(root *yaml.Node, path string) int {
	n := root
	line := 0
	for _, seg := range strings.Split(path, ".") {
		// A segment may index a sequence: "features[2]".
		key, idx := seg, -1
		if i := strings.IndexByte(seg, '['); i > 0 && strings.HasSuffix(seg, "]") {
			if v, err := strconv.Atoi(seg[i+1 : len(seg)-1]); err == nil {
				key, idx = seg[:i], v
			}
		}
		if n == nil || n.Kind != yaml.MappingNode {
			break
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				next = n.Content[i+1]
				break
			}
		}
		if next != nil && idx >= 0 {
			if next.Kind != yaml.SequenceNode || idx >= len(next.Content) {
				break
			}
			next = next.Content[idx]
			line = next.Line
		}
		n = next
	}
	return line
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// closest returns the candidate within edit distance 2 of s, if any.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validateOrderRules checks the orders table's grain and row rules, and
// the exchange-rate table.
func (c *Config) validateOrderRules(add func(string, string, ...any)) {
	t := &c.Input.Orders
	if g := t.Grain; g != "" && !slices.Contains(Grains, g) {
		add("input.orders.grain", "must be one of %s, not %q", strings.Join(Grains, ", "), g)
	}
	if z := t.ZeroAmount; z != "" && !slices.Contains(ZeroAmounts, z) {
		add("input.orders.zero_amount", "must be one of %s, not %q", strings.Join(ZeroAmounts, ", "), z)
	}
	if t.LineGrain() {
		if _, ok := t.Columns["order_id"]; !ok {
			add("input.orders.grain", "line grain needs order_id mapped: the rows sharing one are the lines of an order")
		}
	}
	if _, ok := t.Columns["discount"]; ok {
		if _, priced := t.Columns["unit_price"]; !priced {
			if _, amt := t.Columns["amount"]; !amt {
				add("input.orders.columns.discount", "needs amount or quantity and unit_price")
			}
		}
	}
	schema := extract.RuleSchema(t.Columns)
	if t.Returns != nil {
		if strings.TrimSpace(t.Returns.When) == "" {
			add("input.orders.returns.when", "is required: the filter a return or cancellation row passes")
		} else if _, err := audience.Compile(t.Returns.When, schema); err != nil {
			add("input.orders.returns.when", "%v", err)
		}
	}
	names := map[string]bool{}
	for i, r := range t.Exclude {
		p := fmt.Sprintf("input.orders.exclude[%d]", i)
		if r.Name == "" {
			add(p+".name", "is required: excluded rows are counted by rule name")
		} else if names[r.Name] {
			add(p+".name", "%q names two rules", r.Name)
		}
		names[r.Name] = true
		if strings.TrimSpace(r.When) == "" {
			add(p+".when", "is required")
		} else if _, err := audience.Compile(r.When, schema); err != nil {
			add(p+".when", "%v", err)
		}
	}
	if d := c.Quality.MaxStalenessDays; d != nil && *d < 0 && *d != -1 {
		add("quality.max_staleness_days", "must be a number of days, or -1 to turn the check off; got %d", *d)
	}
	if fx := c.Input.FX; fx != nil {
		if _, ok := t.Columns["currency"]; !ok {
			add("input.fx", "needs input.orders.columns.currency: the currency each order is in")
		}
		if strings.TrimSpace(fx.ReportingCurrency) == "" {
			add("input.fx.reporting_currency", "is required: the currency amounts are converted to")
		}
		if fx.Path == "" {
			add("input.fx.path", "is required: the rates table's prefix under input.location")
		}
		switch fx.Format {
		case "", "auto", "parquet", "csv":
		default:
			add("input.fx.format", "must be parquet, csv or auto, got %q", fx.Format)
		}
		for k := range fx.Columns {
			if k != "date" && k != "currency" && k != "rate" {
				add("input.fx.columns."+k, "is not a column of the rates table; known: date, currency, rate")
			}
		}
	}
}
