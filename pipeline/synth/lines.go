package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// LineConfig says what GenerateLines makes: a shop export at the grain of
// order lines, as invoice exports (the UCI Online Retail set, a till's or a
// web shop's) are, with what makes such exports hard to read right.
type LineConfig struct {
	Customers  int
	Seed       uint64
	Start, End time.Time // the history is [Start, End)
}

// LineStats counts what GenerateLines wrote.
type LineStats struct {
	Lines, Invoices, Cancellations, GuestLines, NonProductLines, ZeroLines, DuplicateLines int
	Currencies                                                                             []string
}

// The line shop's layout: orders/lines-NNNNN.csv (InvoiceNo, StockCode,
// Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country,
// Currency, Category) and fx/rates.csv (date, currency, rate in GBP).
//
// What it plants, and how a reader should take it:
//   - an invoice is several lines, listed together, in time order;
//   - cancellations are invoices numbered C…, with negative quantities, of
//     lines of one of the customer's earlier invoices;
//   - a quarter of the lines are guest sales: no CustomerID;
//   - CustomerID is written as a float ("12346.0"), a few with spaces;
//   - free items (UnitPrice 0), and now and then an invoice of nothing but;
//   - POSTAGE and Bank Charges lines, which are not products;
//   - invoices in GBP, EUR, USD and JPY by the customer's country, with a
//     daily rate table to GBP;
//   - some exact duplicate lines, as exports repeat rows;
//   - products with a long tail: a few sell often, most rarely.
const lineRowsPerFile = 1_000_000

var lineCountries = []struct {
	name, currency string
	weight         float64
}{
	{"United Kingdom", "GBP", 0.70}, {"Germany", "EUR", 0.08}, {"France", "EUR", 0.07},
	{"EIRE", "EUR", 0.05}, {"USA", "USD", 0.06}, {"Japan", "JPY", 0.04},
}

// gbpPer is roughly one unit of each currency in GBP.
var gbpPer = map[string]float64{"GBP": 1, "EUR": 0.86, "USD": 0.79, "JPY": 0.0053}

type lineProduct struct {
	code, desc, category string
	price                float64 // in GBP
}

// GenerateLines writes the line shop into b. Its output is a function of
// cfg only.
func GenerateLines(ctx context.Context, b objstore.Bucket, cfg LineConfig) (*LineStats, error) {
	if cfg.Customers <= 0 {
		return nil, fmt.Errorf("customers must be positive")
	}
	if cfg.Start.IsZero() || cfg.End.IsZero() {
		cfg.Start, cfg.End = DefaultWindow()
	}
	if !cfg.End.After(cfg.Start) {
		return nil, fmt.Errorf("the history must end after it starts")
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x11e5_5409))
	// A long tail of products: popularity ~ 1/rank.
	const nProducts, nCategories = 3000, 40
	products := make([]lineProduct, nProducts)
	cum := make([]float64, nProducts)
	total := 0.0
	for i := range products {
		products[i] = lineProduct{
			code:     fmt.Sprintf("%05d", 20000+i),
			desc:     fmt.Sprintf("PRODUCT %d", i),
			category: fmt.Sprintf("cat_%02d", int(float64(nCategories)*math.Pow(rng.Float64(), 1.5))),
			price:    math.Round((0.4+rng.ExpFloat64()*4)*100) / 100,
		}
		total += 1 / float64(i+1)
		cum[i] = total
	}
	pick := func() lineProduct {
		x := rng.Float64() * total
		return products[sort.SearchFloat64s(cum, x)]
	}

	type line struct {
		p     lineProduct
		qty   int
		price float64 // GBP; 0 for a free item
	}
	type invoice struct {
		at       time.Time
		customer int // -1: a guest
		country  int
		lines    []line
		cancel   bool
		no       string
	}
	span := cfg.End.Sub(cfg.Start)
	var invoices []invoice
	countryOf := make([]int, cfg.Customers)
	for c := range cfg.Customers {
		x, k := rng.Float64(), 0
		for ; k < len(lineCountries)-1 && x > lineCountries[k].weight; k++ {
			x -= lineCountries[k].weight
		}
		countryOf[c] = k
		n := 1 + int(rng.ExpFloat64()*4)
		first := time.Duration(rng.Float64() * float64(span))
		for j := range n {
			at := cfg.Start.Add(first + time.Duration(rng.Float64()*float64(span-first)))
			if j == 0 {
				at = cfg.Start.Add(first)
			}
			at = at.Truncate(time.Minute)
			inv := invoice{at: at, customer: c, country: k}
			free := rng.IntN(150) == 0 // an invoice of free items only
			for range 1 + rng.IntN(8) {
				l := line{p: pick(), qty: 1 + int(rng.ExpFloat64()*3)}
				if l.price = l.p.price; free || rng.IntN(60) == 0 {
					l.price = 0
				}
				inv.lines = append(inv.lines, l)
			}
			invoices = append(invoices, inv)
			if rng.IntN(12) == 0 { // a cancellation of some of its lines, days later
				can := invoice{at: at.Add(time.Duration(1+rng.IntN(20)) * 24 * time.Hour), customer: c, country: k, cancel: true}
				for _, l := range inv.lines[:1+rng.IntN(len(inv.lines))] {
					can.lines = append(can.lines, line{l.p, -l.qty, l.price})
				}
				if can.at.Before(cfg.End) {
					invoices = append(invoices, can)
				}
			}
		}
	}
	// Guest sales: about a quarter of the lines.
	for range len(invoices) / 3 {
		k := 0
		inv := invoice{at: cfg.Start.Add(time.Duration(rng.Float64() * float64(span))).Truncate(time.Minute), customer: -1, country: k}
		for range 1 + rng.IntN(8) {
			p := pick()
			inv.lines = append(inv.lines, line{p, 1 + int(rng.ExpFloat64()*3), p.price})
		}
		invoices = append(invoices, inv)
	}
	// The newest sale is on the last day, as in a fresh export.
	invoices = append(invoices, invoice{at: cfg.End.Add(-3 * time.Hour), customer: 0, country: countryOf[0],
		lines: []line{{products[0], 2, products[0].price}}})
	sort.SliceStable(invoices, func(i, j int) bool { return invoices[i].at.Before(invoices[j].at) })

	st := &LineStats{}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := []string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country", "Currency", "Category"}
	file, rows := 0, 0
	flush := func() error {
		w.Flush()
		if rows == 0 {
			return nil
		}
		err := b.Upload(ctx, fmt.Sprintf("orders/lines-%05d.csv", file), bytes.NewReader(buf.Bytes()))
		buf.Reset()
		file, rows = file+1, 0
		return err
	}
	no := 536365
	seenCur := map[string]bool{}
	for _, inv := range invoices {
		if rows == 0 {
			w.Write(header)
		}
		no++
		inv.no = strconv.Itoa(no)
		if inv.cancel {
			inv.no = "C" + inv.no
			st.Cancellations++
		}
		st.Invoices++
		country := lineCountries[inv.country]
		seenCur[country.currency] = true
		id := ""
		if inv.customer >= 0 {
			id = strconv.Itoa(12346+inv.customer) + ".0"
			if inv.customer%97 == 5 {
				id = " " + id + " "
			}
		}
		emit := func(code, desc, cat string, qty int, priceGBP float64) {
			price := priceGBP / gbpPer[country.currency]
			dec := 2
			if country.currency == "JPY" {
				dec = 0
			}
			p := strconv.FormatFloat(price, 'f', dec, 64)
			row := []string{inv.no, code, desc, strconv.Itoa(qty), inv.at.UTC().Format("2006-01-02 15:04:05"), p, id, country.name, country.currency, cat}
			w.Write(row)
			rows++
			st.Lines++
			if id == "" {
				st.GuestLines++
			}
			if p == "0" || p == "0.00" {
				st.ZeroLines++
			}
			if rng.IntN(400) == 0 { // the export repeats a row
				w.Write(row)
				rows++
				st.Lines++
				st.DuplicateLines++
				if id == "" {
					st.GuestLines++
				}
			}
		}
		for _, l := range inv.lines {
			emit(l.p.code, l.p.desc, l.p.category, l.qty, l.price)
		}
		if !inv.cancel && rng.IntN(4) == 0 {
			emit("POST", "POSTAGE", "POSTAGE", 1, 18)
			st.NonProductLines++
		}
		if rng.IntN(200) == 0 {
			emit("BANK CHARGES", "Bank Charges", "Bank Charges", 1, 15)
			st.NonProductLines++
		}
		if rows >= lineRowsPerFile {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	// Daily rates to GBP, a random walk about the typical rate.
	buf.Reset()
	fmt.Fprintln(&buf, "date,currency,rate")
	for c := range gbpPer {
		if c != "GBP" {
			st.Currencies = append(st.Currencies, c)
		}
	}
	sort.Strings(st.Currencies)
	walk := map[string]float64{}
	for _, c := range st.Currencies {
		walk[c] = gbpPer[c]
	}
	for d := cfg.Start.AddDate(0, 0, -7); d.Before(cfg.End); d = d.AddDate(0, 0, 1) {
		for _, c := range st.Currencies {
			walk[c] *= math.Exp(0.004 * rng.NormFloat64())
			fmt.Fprintf(&buf, "%s,%s,%.6g\n", d.Format("2006-01-02"), c, walk[c])
		}
	}
	if err := b.Upload(ctx, "fx/rates.csv", bytes.NewReader(buf.Bytes())); err != nil {
		return nil, err
	}
	st.Currencies = append(st.Currencies, "GBP")
	sort.Strings(st.Currencies)
	return st, nil
}
