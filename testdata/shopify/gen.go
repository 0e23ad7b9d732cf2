//go:build ignore

// gen writes the Shopify orders-export fixture: go run gen.go (from this
// directory). The layout is Shopify's documented orders export: one row
// per line item, the order-level fields (Email, Financial Status, Paid at,
// Currency, totals, Created at, Billing …) on the order's first line only,
// blank on its other lines; Name (#1001) is the order.
package main

import (
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

var header = []string{"Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
	"Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount",
	"Shipping Method", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
	"Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping", "Lineitem taxable",
	"Lineitem fulfillment status", "Billing Name", "Billing City", "Billing Zip", "Billing Country",
	"Cancelled at", "Payment Method", "Refunded Amount", "Vendor", "Id", "Tags", "Risk Level", "Source",
	"Lineitem discount"}

type product struct {
	sku, name, vendor string
	price             float64
}

var catalog = []product{
	{"TEA-EB-100", "Earl Grey 100g", "Leafwell", 8.90},
	{"TEA-SE-100", "Sencha 100g", "Leafwell", 11.50},
	{"TEA-RO-250", "Rooibos 250g", "Leafwell", 14.20},
	{"MUG-ST-01", "Stoneware Mug", "Claybrook", 19.00},
	{"POT-CI-08", "Cast-iron Teapot", "Claybrook", 64.00},
	{"INF-SS-02", "Steel Infuser", "Claybrook", 6.50},
	{"GFT-BOX-S", "Gift Box Small", "Leafwell", 29.00},
	{"GFT-CARD", "Gift Card", "Leafwell", 25.00},
}

func main() {
	rng := rand.New(rand.NewPCG(26, 2025))
	emails := []string{"ana@example.com", "ben@example.org", "chloe@example.net", "dev@example.com",
		"eva@example.de", "farid@example.fr", "gus@example.com", "hana@example.jp", "ivo@example.nl",
		"jules@example.fr", "kai@example.de", "lena@example.at", "mo@example.co.uk", "nina@example.com", "olly@example.co.uk", "pip@example.co.uk"}
	countries := [][2]string{{"de", "DE"}, {"fr", "FR"}, {"at", "AT"}, {"nl", "NL"}, {"uk", "GB"}, {"jp", "JP"}}
	f, err := os.Create("orders/orders_export_1.csv")
	if err != nil {
		panic(err)
	}
	w := csv.NewWriter(f)
	w.Write(header)
	t := time.Date(2025, 1, 6, 9, 0, 0, 0, time.FixedZone("", 3600))
	for n := 0; n < 52; n++ {
		t = t.Add(time.Duration(40+rng.IntN(90)) * time.Hour).Add(time.Duration(rng.IntN(3600)) * time.Second)
		name := fmt.Sprintf("#%d", 1001+n)
		email := emails[rng.IntN(len(emails))]
		switch {
		case n%9 == 4: // a guest checkout: no email on any line
			email = ""
		case n == 7:
			email = " " + email + " " // stray whitespace, as pasted
		}
		currency := "EUR"
		country := "DE"
		for _, sc := range countries {
			if e := strings.TrimSpace(email); strings.HasSuffix(e, "."+sc[0]) {
				country = sc[1]
			}
		}
		if country == "GB" {
			currency = "GBP"
		}
		status := "paid"
		switch n % 13 {
		case 3:
			status = "refunded"
		case 8:
			status = "voided"
		case 11:
			status = "partially_refunded"
		}
		lines := 1 + rng.IntN(4)
		if n == 20 {
			lines = 6
		}
		type line struct {
			p        product
			qty      int
			price    float64
			discount float64
		}
		var ls []line
		subtotal := 0.0
		picks := rng.Perm(len(catalog)) // a product once an order, as Shopify lists it
		for i := 0; i < lines; i++ {
			p := catalog[picks[i%len(picks)]]
			price := p.price
			if currency == "GBP" {
				price = float64(int(price*0.86*100+0.5)) / 100
			}
			l := line{p: p, qty: 1 + rng.IntN(3), price: price}
			if rng.IntN(5) == 0 {
				l.discount = float64(int(price*float64(l.qty)*0.1*100+0.5)) / 100
			}
			if n == 30 && i == 0 { // a free sample line
				l.p, l.price, l.discount = product{"SMP-TEA", "Tea Sample", "Leafwell", 0}, 0, 0
			}
			ls = append(ls, l)
			subtotal += l.price*float64(l.qty) - l.discount
		}
		shipping := 4.90
		created := t.Format("2006-01-02 15:04:05 -0700")
		for i, l := range ls {
			row := make([]string, len(header))
			row[0] = name
			if i == 0 {
				row[1], row[2] = email, status
				row[3] = created
				row[4], row[6], row[7] = "fulfilled", "yes", currency
				row[8] = fmt.Sprintf("%.2f", subtotal)
				row[9] = fmt.Sprintf("%.2f", shipping)
				row[10] = fmt.Sprintf("%.2f", subtotal*0.19)
				row[11] = fmt.Sprintf("%.2f", subtotal+shipping)
				row[13] = "0.00"
				row[14] = "Standard"
				row[15] = created
				row[24], row[25], row[26], row[27] = "Customer "+name, "Berlin", "10115", country
				if status == "voided" {
					row[28] = t.Add(2 * time.Hour).Format("2006-01-02 15:04:05 -0700")
				}
				row[29] = "Shopify Payments"
				row[30] = "0.00"
				switch status {
				case "refunded":
					row[30] = fmt.Sprintf("%.2f", subtotal+shipping)
				case "partially_refunded":
					row[30] = fmt.Sprintf("%.2f", ls[0].price)
				}
				row[32] = fmt.Sprint(5200000000 + n)
				row[34], row[35] = "Low", "web"
			}
			row[16] = fmt.Sprint(l.qty)
			row[17] = l.p.name
			row[18] = fmt.Sprintf("%.2f", l.price)
			row[20] = l.p.sku
			row[21], row[22], row[23] = "true", "true", "fulfilled"
			row[31] = l.p.vendor
			row[36] = fmt.Sprintf("%.2f", l.discount)
			w.Write(row)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		panic(err)
	}
	f.Close()

	// Rates: one GBP a week in EUR, the shop's reporting currency.
	g, err := os.Create("fx/rates.csv")
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(g, "date,currency,rate")
	for d := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 7) {
		fmt.Fprintf(g, "%s,GBP,%.4f\n", d.Format("2006-01-02"), 1.16+0.02*rng.Float64())
	}
	g.Close()
}
