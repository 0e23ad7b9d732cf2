package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRealExportKeys: the keys of real exports are checked like the
// rest: every problem at once, with its path.
func TestRealExportKeys(t *testing.T) {
	orders := "    columns: {customer_id: cust, order_ts: ts, amount: amt}\n"
	bad := strings.Replace(valid, orders, "    columns: {customer_id: cust, order_ts: ts, amount: amt, order_id: inv, category: cat}\n"+`    grain: lines
    returns: {when: "order_id like 5"}
    exclude:
      - {when: "category in ('POSTAGE'"}
      - {name: fee, when: "colour = 'red'"}
      - {name: fee, when: "amount < 0"}
    zero_amount: keep
  fx: {path: fx}
`, 1) + "quality:\n  guests: good\n  max_staleness_days: -3\n"
	_, err := Parse([]byte(bad), noEnv)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err %v, want Problems", err)
	}
	for _, w := range []string{
		`input.orders.grain (line 8): must be one of order, line, not "lines"`,
		`input.orders.returns.when (line 9): at column 15: expected a quoted pattern after "like"`,
		`input.orders.exclude[0].name (line 11): is required`, `input.orders.exclude[0].when (line 11)`,
		`input.orders.exclude[1].when (line 12): at column 1: unknown column "colour"`,
		`input.orders.exclude[2].name (line 13): "fee" names two rules`,
		`input.orders.zero_amount (line 14): must be one of excluded, purchase`,
		`input.fx (line 15): needs input.orders.columns.currency`, `input.fx.reporting_currency (line 15): is required`,
		`quality.guests (line 19): must be one of excluded, bad, not "good"`,
		`quality.max_staleness_days (line 20): must be a number of days, or -1`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	// Line grain needs the order id.
	if _, err := Parse([]byte(strings.Replace(valid, orders, orders+"    grain: line\n", 1)), noEnv); err == nil ||
		!strings.Contains(err.Error(), "line grain needs order_id") {
		t.Errorf("line grain without order_id: %v", err)
	}
	// A good one parses, and the defaults spelt out keep the hash.
	good := strings.Replace(valid, orders, `    columns: {customer_id: cust, order_ts: ts, amount: amt, order_id: inv, status: st, currency: cur}
    grain: line
    returns: {when: "order_id like 'C%' or amount < 0"}
    exclude: [{name: reversed, when: 'status in ("refunded", "voided")'}]
  fx: {reporting_currency: EUR, path: fx}
`, 1)
	c, err := Parse([]byte(good), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	spelt := strings.Replace(good, "    grain: line\n", "    grain: line\n    zero_amount: excluded\n", 1) +
		"quality:\n  guests: excluded\n  max_staleness_days: 7\n"
	spelt = strings.Replace(spelt, "  fx:", "  ids: {trim: true, integer_floats: true}\n  fx:", 1)
	c2, err := Parse([]byte(spelt), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() != c2.Hash() {
		t.Errorf("defaults spelt out change the hash")
	}
	base, _ := Parse([]byte(valid), noEnv)
	if base.Hash() == c.Hash() {
		t.Errorf("line grain and rules do not change the hash")
	}
}
