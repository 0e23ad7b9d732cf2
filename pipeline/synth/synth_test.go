package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/internal/racetest"
	"github.com/strata-oss/strata/pipeline/objstore"
)

func TestGenerateDeterministic(t *testing.T) {
	for _, format := range []string{"parquet", "csv"} {
		t.Run(format, func(t *testing.T) {
			// Small parts and row groups so that splitting is exercised too.
			cfg := Config{Customers: 3000, Seed: 42, Format: format, RowsPerFile: 7000, RowGroupRows: 2500}
			cfg.Workers = 1
			b1, s1 := generate(t, cfg)
			cfg.Workers = 4
			b4, s4 := generate(t, cfg)
			if len(s1.Files) < 6 {
				t.Fatalf("want several part files, got %v", s1.Files)
			}
			assertSameObjects(t, b1, b4)
			if !equalStats(s1, s4) {
				t.Errorf("stats differ: %+v vs %+v", s1, s4)
			}

			cfg.Seed = 43
			b43, _ := generate(t, cfg)
			a, _ := objstore.ReadAll(context.Background(), b1, "orders/part-00000."+format)
			c, _ := objstore.ReadAll(context.Background(), b43, "orders/part-00000."+format)
			if bytes.Equal(a, c) {
				t.Error("a different seed produced the same orders")
			}
		})
	}
}

func assertSameObjects(t *testing.T, a, b objstore.Bucket) {
	t.Helper()
	ctx := context.Background()
	ka, err := objstore.List(ctx, a, "")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := objstore.List(ctx, b, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ka, ",") != strings.Join(kb, ",") {
		t.Fatalf("object sets differ:\n%v\n%v", ka, kb)
	}
	for _, k := range ka {
		da, _ := objstore.ReadAll(ctx, a, k)
		db, _ := objstore.ReadAll(ctx, b, k)
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs (%d vs %d bytes)", k, len(da), len(db))
		}
	}
}

func equalStats(a, b Stats) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// within reports whether got is within k binomial standard deviations of
// n trials at probability p.
func within(got, n int, p, k float64) bool {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(got)-mean) <= k*sd+1
}

func TestGenerateShape(t *testing.T) {
	racetest.Skip(t, "a check of the generated data's shape; TestGenerateDeterministic race-checks the workers")
	const n = 20_000
	cfg := Config{Customers: n, Seed: 1}
	b, st := generate(t, cfg)
	start, end := DefaultWindow()

	customers := readTable[customerRecord](t, b, "customers/")
	orders := readTable[orderRecord](t, b, "orders/")
	events := readTable[eventRecord](t, b, "events/")
	truth := readTable[truthRecord](t, b, "truth/")

	if st.Customers != n || len(truth) != n {
		t.Fatalf("customers: stats %d, truth rows %d, want %d", st.Customers, len(truth), n)
	}
	if st.CustomerRows != len(customers) || st.Orders != len(orders) || st.Events != len(events) {
		t.Fatalf("row counts: stats %+v; tables customers=%d orders=%d events=%d", st, len(customers), len(orders), len(events))
	}
	wantFiles := []string{"customers/part-00000.parquet", "orders/part-00000.parquet", "events/part-00000.parquet", "truth/customers.parquet", ManifestKey}
	if strings.Join(st.Files, ",") != strings.Join(wantFiles, ",") {
		t.Errorf("files = %v, want %v", st.Files, wantFiles)
	}

	// Customers: ids C00000001.., one or two versions, the first as of signup.
	signup := map[string]int64{}
	versions := map[string]int{}
	cities := map[string]bool{}
	var nullGender, nullIncome, lateUpdates int
	asOf := end.AddDate(0, -3, 0).UnixMicro()
	for _, c := range customers {
		versions[c.CustomerID]++
		cities[c.City] = true
		switch versions[c.CustomerID] {
		case 1:
			signup[c.CustomerID] = c.SignupAt
			if c.UpdatedAt != c.SignupAt {
				t.Fatalf("%s: first version updated_at %d != signup_at %d", c.CustomerID, c.UpdatedAt, c.SignupAt)
			}
			if c.Gender == "" {
				nullGender++
			}
			if c.AnnualIncome == 0 {
				nullIncome++
			}
		case 2:
			if c.UpdatedAt <= c.SignupAt || c.UpdatedAt >= end.UnixMicro() {
				t.Fatalf("%s: second version updated_at %d outside (signup, End)", c.CustomerID, c.UpdatedAt)
			}
			if c.UpdatedAt > asOf {
				lateUpdates++
			}
		default:
			t.Fatalf("%s has %d versions", c.CustomerID, versions[c.CustomerID])
		}
		if c.SignupAt < start.UnixMicro() || c.SignupAt >= end.Add(-signupMargin).UnixMicro() {
			t.Fatalf("%s: signup %s outside the window", c.CustomerID, fmtTime(c.SignupAt))
		}
		age := float64(c.SignupAt/dayMicros-int64(c.BirthDate)) / 365.2425
		if age < 17.99 || age > 85.01 {
			t.Fatalf("%s: age at signup %.2f", c.CustomerID, age)
		}
		if len(c.Interests) > 4 {
			t.Fatalf("%s: %d interests", c.CustomerID, len(c.Interests))
		}
	}
	if len(signup) != n || signup["C00000001"] == 0 || signup["C00020000"] == 0 {
		t.Fatalf("want ids C00000001..C00020000, got %d distinct", len(signup))
	}
	twice := len(customers) - n
	if !within(twice, n, secondVersionRate, 5) || lateUpdates == 0 {
		t.Errorf("second versions: %d (want ~%.0f), %d after the as-of date", twice, n*secondVersionRate, lateUpdates)
	}
	if !within(nullGender, n, 0.02, 5) || !within(nullIncome, n, 0.05, 5) {
		t.Errorf("null gender %d, null income %d of %d", nullGender, nullIncome, n)
	}
	if len(cities) < 200 {
		t.Errorf("%d distinct cities, want ≥ 200", len(cities))
	}

	// Truth: prospects never buy; genuine purchases are the order rows
	// less the noise.
	var genuine, prospects int
	for _, tr := range truth {
		genuine += int(tr.Purchases)
		if tr.Prospect {
			prospects++
			if tr.Purchases != 0 {
				t.Fatalf("prospect %s has %d purchases", tr.CustomerID, tr.Purchases)
			}
		}
	}
	if !within(prospects, n, prospectRate, 5) {
		t.Errorf("%d prospects, want ~%.0f", prospects, n*prospectRate)
	}
	if genuine+st.DuplicateOrders+st.Refunds != len(orders) {
		t.Errorf("orders %d != genuine %d + duplicates %d + refunds %d", len(orders), genuine, st.DuplicateOrders, st.Refunds)
	}

	// Orders: every row is either clean or one of the planted faults.
	ids := map[string]int{}
	var bad, refunds, late int
	for i, o := range orders {
		ids[o.OrderID]++
		isBad := o.CustomerID == "" || o.OrderedAt == 0 || math.IsNaN(o.NetAmount) || (o.NetAmount < 0 && !o.IsRefund)
		if isBad {
			bad++
		}
		if o.IsRefund {
			refunds++
			if o.NetAmount >= 0 {
				t.Fatalf("refund %s has amount %v", o.OrderID, o.NetAmount)
			}
		}
		if ids[o.OrderID] == 2 && orders[i-1] != o {
			t.Fatalf("duplicate %s is not an exact copy of the previous row", o.OrderID)
		}
		if o.CustomerID != "" {
			su, ok := signup[o.CustomerID]
			if !ok {
				t.Fatalf("order %s references unknown customer %q", o.OrderID, o.CustomerID)
			}
			if o.OrderedAt != 0 && o.OrderedAt < su {
				t.Fatalf("order %s at %s before signup %s", o.OrderID, fmtTime(o.OrderedAt), fmtTime(su))
			}
		}
		if o.OrderedAt != 0 && o.OrderedAt >= end.UnixMicro() {
			t.Fatalf("order %s after End", o.OrderID)
		}
		if o.OrderedAt > asOf {
			late++
		}
		if o.Quantity < 1 || o.Quantity > 5 || o.Currency != "USD" {
			t.Fatalf("order %s: quantity %d currency %q", o.OrderID, o.Quantity, o.Currency)
		}
	}
	var dups int
	for _, c := range ids {
		dups += c - 1
	}
	if bad != st.BadOrders || dups != st.DuplicateOrders || refunds != st.Refunds {
		t.Errorf("found bad=%d dups=%d refunds=%d, stats say %+v", bad, dups, refunds, st)
	}
	if !within(bad, genuine, DefaultBadRowRate, 5) || !within(dups, genuine, DefaultDuplicateRate, 5) {
		t.Errorf("bad %d, duplicates %d of %d genuine orders", bad, dups, genuine)
	}
	// Refunds that would fall after End are dropped, so a little below.
	if r := float64(refunds) / float64(genuine); r < 0.8*DefaultRefundRate || r > 1.1*DefaultRefundRate {
		t.Errorf("refund rate %.4f, want ~%v", r, DefaultRefundRate)
	}
	if late == 0 {
		t.Error("no orders after the as-of date: point-in-time cuts would not be exercised")
	}

	for _, e := range events {
		su, ok := signup[e.CustomerID]
		if !ok || e.EventAt < su || e.EventAt >= end.UnixMicro() {
			t.Fatalf("event %+v outside its customer's life", e)
		}
	}

	var m struct {
		Config Config
		Stats  Stats
	}
	raw, err := objstore.ReadAll(context.Background(), b, ManifestKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if !equalStats(m.Stats, st) || m.Config.Customers != n || m.Config.BadRowRate != DefaultBadRowRate {
		t.Errorf("manifest %s does not match: %+v", ManifestKey, m)
	}
}

// TestParquetSchema pins the physical and logical types the pipeline's
// readers rely on.
func TestParquetSchema(t *testing.T) {
	b, _ := generate(t, Config{Customers: 200, Seed: 3})
	want := map[string]map[string]string{
		"customers/part-00000.parquet": {
			"signup_at": "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", "updated_at": "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)",
			"birth_date": "DATE", "interests": "LIST", "city": "STRING",
		},
		"orders/part-00000.parquet": {"ordered_at": "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", "order_id": "STRING"},
		"events/part-00000.parquet": {"event_at": "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"},
		"truth/customers.parquet":   {"dropout_at": "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"},
	}
	optional := map[string]bool{"gender": true, "annual_income": true, "email": true, "phone": true, "customer_id": true, "ordered_at": true, "net_amount": true, "campaign": true, "dropout_at": true, "first_purchase_at": true}
	for key, cols := range want {
		r, size, err := b.ReaderAt(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(r, size)
		if err != nil {
			t.Fatalf("open %s: %v", key, err)
		}
		got := map[string]string{}
		for _, e := range f.Metadata().Schema {
			got[e.Name] = e.LogicalType.String()
		}
		for col, lt := range cols {
			if got[col] != lt {
				t.Errorf("%s: %s has logical type %q, want %q", key, col, got[col], lt)
			}
		}
		for _, field := range f.Schema().Fields() {
			isOpt := field.Optional()
			wantOpt := optional[field.Name()] && !(key != "orders/part-00000.parquet" && field.Name() == "customer_id")
			if isOpt != wantOpt {
				t.Errorf("%s: %s optional=%v, want %v", key, field.Name(), isOpt, wantOpt)
			}
		}
	}
}

func TestCSVMatchesParquet(t *testing.T) {
	// A high fault rate so each textual fault shows up.
	cfg := Config{Customers: 2000, Seed: 9, BadRowRate: 0.05, RowsPerFile: 9000}
	_, pst := generate(t, cfg)
	cfg.Format = "csv"
	b, cst := generate(t, cfg)
	if pst.Orders != cst.Orders || pst.Events != cst.Events || pst.CustomerRows != cst.CustomerRows || pst.BadOrders != cst.BadOrders {
		t.Fatalf("CSV stats %+v differ from Parquet stats %+v", cst, pst)
	}
	count := func(prefix string, check func(rec []string)) int {
		keys, err := objstore.List(context.Background(), b, prefix)
		if err != nil {
			t.Fatal(err)
		}
		var rows int
		for _, k := range keys {
			if !strings.HasSuffix(k, ".csv") {
				t.Fatalf("%s is not a .csv key", k)
			}
			raw, _ := objstore.ReadAll(context.Background(), b, k)
			recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
			if err != nil {
				t.Fatalf("parse %s: %v", k, err)
			}
			for _, rec := range recs[1:] {
				check(rec)
			}
			rows += len(recs) - 1
		}
		return rows
	}
	var notADate, abc, emptyID int
	if got := count("orders/", func(rec []string) {
		switch {
		case rec[1] == "":
			emptyID++
		case rec[2] == "not-a-date":
			notADate++
		case rec[6] == "abc":
			abc++
		default:
			if _, err := time.Parse(time.RFC3339, rec[2]); err != nil {
				t.Fatalf("ordered_at %q: %v", rec[2], err)
			}
		}
	}); got != cst.Orders {
		t.Errorf("orders: %d CSV rows, stats say %d", got, cst.Orders)
	}
	if notADate == 0 || abc == 0 || emptyID == 0 {
		t.Errorf("textual faults: not-a-date=%d abc=%d empty id=%d", notADate, abc, emptyID)
	}
	if got := count("customers/", func(rec []string) {
		if _, err := time.Parse(time.DateOnly, rec[2]); err != nil {
			t.Fatalf("birth_date %q: %v", rec[2], err)
		}
	}); got != cst.CustomerRows {
		t.Errorf("customers: %d CSV rows, stats say %d", got, cst.CustomerRows)
	}
	if got := count("events/", func([]string) {}); got != cst.Events {
		t.Errorf("events: %d CSV rows, stats say %d", got, cst.Events)
	}
	if got := count("truth/", func([]string) {}); got != cst.Customers {
		t.Errorf("truth: %d CSV rows, want %d", got, cst.Customers)
	}
}

func TestConfigErrors(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no customers", Config{}, "customers must be"},
		{"too many customers", Config{Customers: 100_000_000}, "customers must be"},
		{"short window", Config{Customers: 1, Start: start, End: start.AddDate(0, 0, 10)}, "window"},
		{"format", Config{Customers: 1, Format: "xlsx"}, "unknown format"},
		{"rate", Config{Customers: 1, RefundRate: 1.5}, "refund rate"},
		{"archetype", Config{Customers: 1, Archetypes: []Archetype{{Name: "x", Share: 1}}}, "must be positive"},
		{"category", Config{Customers: 1, Archetypes: func() []Archetype {
			a := DefaultArchetypes()[:1]
			a[0].Categories = map[string]float64{"cars": 1}
			return a
		}()}, "unknown value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(context.Background(), objstore.NewMem(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestGenerateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := objstore.NewMem()
	if _, err := Generate(ctx, b, Config{Customers: 5000}); err == nil {
		t.Fatal("want an error from a cancelled context")
	}
	if _, err := b.Attributes(context.Background(), ManifestKey); !objstore.IsNotExist(err) {
		t.Errorf("manifest written despite cancellation: %v", err)
	}
}

func BenchmarkGenerate100k(b *testing.B) {
	for b.Loop() {
		st, err := Generate(context.Background(), discard{}, Config{Customers: 100_000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Orders), "orders")
		b.ReportMetric(float64(st.Events), "events")
	}
}
