package features

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/extract"
	"github.com/strata-oss/strata/pipeline/objstore"
)

func us(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

// The hand-computed fixture, as of 2024-06-30 (UTC). Every expected value
// below is worked out in the comments of TestFixtureFeatures.
const fxCustomers = `id,signup,updated,birth,gender,income,education,city,postal,device,os,interests,optin
a,2024-01-01,2024-01-01,1990-07-01,F,60000,master,Berlin,10115,mobile,ios,books|sports,true
a,2024-01-01,2024-03-01,1990-07-01,F,70000,master,Munich,80331,mobile,ios,books|sports,true
a,2024-01-01,2024-07-15,1990-07-01,F,90000,master,Paris,75001,mobile,ios,books,true
b,2024-02-01,2024-02-01,1960-06-30,M,abc,bachelor,Berlin,10117,desktop,windows,,false
c,2024-07-01,2024-07-01,1980-01-01,M,50000,bachelor,Hamburg,20095,desktop,linux,,true
e,2023-06-01,2023-06-01,,,20000,,,,tablet,android,music,
`

const fxOrders = `order_id,cust,ts,amt,refund,category,channel
o1,a,2024-03-01T10:00:00Z,10,false,books,web
o2,a,2024-03-01T18:00:00Z,5,false,books,app
o3,a,2024-05-01T10:00:00Z,20,false,sports,web
o4,a,2024-06-20T10:00:00Z,30,false,sports,web
o5,a,2024-06-25T10:00:00Z,-5,true,sports,web
o4,a,2024-06-20T10:00:00Z,30,false,sports,web
o6,b,2024-06-30T23:00:00Z,8,false,toys,store
o7,d,2024-01-10T08:00:00Z,40,false,,web
o8,a,2024-07-02T10:00:00Z,100,false,books,web
o9,,2024-03-01T10:00:00Z,1,false,books,web
o10,a,not-a-date,1,false,books,web
o11,b,2024-03-01T10:00:00Z,-3,false,books,web
`

const fxEvents = `cust,ts,type,channel
a,2024-06-29T10:00:00Z,email_open,email
a,2024-06-29T10:05:00Z,email_click,email
a,2024-01-15T10:00:00Z,web_session,web
b,2024-05-01T10:00:00Z,app_session,app
z,2024-05-01T10:00:00Z,email_open,email
a,2024-07-01T10:00:00Z,email_open,email
`

func fixtureSpec(t *testing.T) extract.Spec {
	t.Helper()
	b := objstore.NewMem()
	ctx := context.Background()
	for key, data := range map[string]string{"customers/c.csv": fxCustomers, "orders/o.csv": fxOrders, "events/e.csv": fxEvents} {
		if err := b.Upload(ctx, key, bytes.NewReader([]byte(data))); err != nil {
			t.Fatal(err)
		}
	}
	return extract.Spec{
		AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC),
		Orders: extract.Table{Bucket: b, Prefix: "orders", Columns: map[string]string{
			"customer_id": "cust", "order_ts": "ts", "amount": "amt", "is_refund": "refund"}},
		Customers: &extract.Table{Bucket: b, Prefix: "customers", Columns: map[string]string{
			"customer_id": "id", "signup_ts": "signup", "updated_at": "updated", "birth_date": "birth",
			"postal_code": "postal", "interests": "interests", "email_opt_in": "optin"}},
		Events: &extract.Table{Bucket: b, Prefix: "events", Columns: map[string]string{
			"customer_id": "cust", "event_ts": "ts", "event_type": "type"}},
	}
}

func runFixture(t *testing.T, opt Options) (*extract.Dataset, *Set) {
	t.Helper()
	ds, set, err := Run(context.Background(), fixtureSpec(t), opt)
	if err != nil {
		t.Fatal(err)
	}
	return ds, set
}

var null = math.NaN()

// TestFixtureFeatures checks every feature of every customer against
// values computed by hand.
//
// a: versions 2024-01-01 and 2024-03-01 count, 2024-07-15 is after D.
// Purchases o1 (03-01, 10), o2 (03-01, 5), o3 (05-01, 20), o4 (06-20, 30,
// its duplicate dropped), refund o5 (06-25, −5); o8 is after D.
// frequency 4, purchase days 3, monetary 65−5 = 60, mean 65/4, max 30,
// recency 06-30 − 06-20 = 10, tenure from signup 01-01 = 181 days, gaps
// 61 and 50 days: mean 55.5, std 5.5. 30-day window (from 06-01): o4 and
// the refund: 1 order, 25 spent; 90 days (from 04-02): o3, o4, refund: 2,
// 45; 365 days: 4, 60. Refund rate 1/4. Category spend books 15, sports
// 50; channels web 3, app 1. Events: an open and a click on 06-29 (1 day
// ago), a session on 01-15. Age on 06-30 for a birth on 1990-07-01: 33.
//
// b: one order o6 at 23:00 on D (8, toys, store): recency 0; tenure from
// 02-01: 150. o11 is negative without being a refund: quarantined. Income
// "abc" is invalid: unknown. Born 1960-06-30: 64 on D. Session 05-01: 60
// days ago.
//
// d: known only from o7 on 01-10 (40, blank category): recency and tenure
// 172, no attributes. e: customers table only, signup 2023-06-01: tenure
// 395, no orders. c signed up after D: not a customer.
func TestFixtureFeatures(t *testing.T) {
	ds, set := runFixture(t, Options{TopCategories: 2, TopChannels: 2, TopInterests: 2, MaxLevels: 2})
	if want := []string{"a", "b", "d", "e"}; !reflect.DeepEqual(ds.IDs.Strings(), want) {
		t.Fatalf("ids %v, want %v", ds.IDs.Strings(), want)
	}
	want := map[string][]float64{
		"recency_days":          {10, 0, 172, null},
		"frequency":             {4, 1, 1, 0},
		"purchase_days":         {3, 1, 1, 0},
		"monetary_value":        {60, 8, 40, 0},
		"avg_order_value":       {16.25, 8, 40, null},
		"max_order_value":       {30, 8, 40, null},
		"tenure_days":           {181, 150, 172, 395},
		"gap_mean_days":         {55.5, null, null, null},
		"gap_std_days":          {5.5, null, null, null},
		"orders_30d":            {1, 1, 0, 0},
		"spend_30d":             {25, 8, 0, 0},
		"orders_90d":            {2, 1, 0, 0},
		"spend_90d":             {45, 8, 0, 0},
		"orders_365d":           {4, 1, 1, 0},
		"spend_365d":            {60, 8, 40, 0},
		"refund_rate":           {0.25, 0, 0, null},
		"cat_share_sports":      {50.0 / 65, 0, 0, null}, // sports 50, unknown 40: the top two
		"cat_share_unknown":     {0, 0, 1, null},
		"cat_share_other":       {15.0 / 65, 1, 0, null}, // books, toys
		"channel_share_web":     {0.75, 0, 1, null},      // web 4 orders
		"channel_share_app":     {0.25, 0, 0, null},      // app and store 1 each: app first by name
		"channel_share_other":   {0, 1, 0, null},
		"email_opens":           {1, 0, 0, 0},
		"email_opens_30d":       {1, 0, 0, 0},
		"email_clicks":          {1, 0, 0, 0},
		"email_clicks_365d":     {1, 0, 0, 0},
		"sessions":              {1, 1, 0, 0},
		"sessions_30d":          {0, 0, 0, 0},
		"sessions_90d":          {0, 1, 0, 0},
		"sessions_365d":         {1, 1, 0, 0},
		"days_since_last_event": {1, 60, null, null},
		"age_years":             {33, 64, null, null},
		"age_band_25_34":        {1, 0, 0, 0},
		"age_band_55_64":        {0, 1, 0, 0},
		"age_band_unknown":      {0, 0, 1, 1},
		"income":                {70000, null, null, 20000},
		"income_band_50k_75k":   {1, 0, 0, 0},
		"income_band_under_25k": {0, 0, 0, 1},
		"income_band_unknown":   {0, 1, 1, 0},
		"gender_f":              {1, 0, 0, 0},
		"gender_m":              {0, 1, 0, 0},
		"gender_other":          {0, 0, 0, 0},
		"gender_unknown":        {0, 0, 1, 1},
		"education_bachelor":    {0, 1, 0, 0},
		"education_master":      {1, 0, 0, 0},
		"education_unknown":     {0, 0, 1, 1},
		"city_freq":             {0.25, 0.25, null, null}, // Munich (a's current city) and Berlin, one of 4 customers each
		"postal_code_freq":      {0.25, 0.25, null, null},
		"device_desktop":        {0, 1, 0, 0},
		"device_mobile":         {1, 0, 0, 0},
		"device_other":          {0, 0, 0, 1}, // tablet is the third device, MaxLevels 2
		"device_unknown":        {0, 0, 1, 0},
		"interest_books":        {1, 0, 0, 0},
		"interest_music":        {0, 0, 0, 1},
		"interests_unknown":     {0, 1, 1, 0},
		"email_opt_in":          {1, 0, null, null},
	}
	tab := set.Table
	for name, w := range want {
		col, ok := tab.Col(name)
		if !ok {
			t.Errorf("no feature %s; have %v", name, tab.Names())
			continue
		}
		for i, wv := range w {
			got := col.Value(i)
			if math.IsNaN(wv) != math.IsNaN(got) || (!math.IsNaN(wv) && math.Abs(got-wv) > 1e-12) {
				t.Errorf("%s[%s] = %v, want %v", name, ds.IDs.At(i), got, wv)
			}
		}
	}
	for _, absent := range []string{"cat_share_books", "interest_sports", "gender_x"} {
		if _, ok := tab.Col(absent); ok {
			t.Errorf("feature %s should not exist", absent)
		}
	}

	// The quality counts and the quarantine.
	q := ds.Quality
	if !reflect.DeepEqual(q.Bad["orders"], map[string]int64{extract.ReasonMissingCustomerID: 1, extract.ReasonBadTimestamp: 1, extract.ReasonNegativeAmount: 1}) {
		t.Errorf("bad orders %v", q.Bad["orders"])
	}
	if q.Duplicates["orders"] != 1 || q.Excluded["orders"][extract.ExcludedAfterAsOf] != 1 {
		t.Errorf("duplicates %v excluded %v", q.Duplicates, q.Excluded["orders"])
	}
	if q.Excluded["customers"][extract.ExcludedSignupAfterAsOf] != 1 || q.Excluded["customers"][extract.ExcludedVersionAfter] != 1 {
		t.Errorf("excluded customers %v", q.Excluded["customers"])
	}
	if q.Invalid["customers"]["income"] != 1 {
		t.Errorf("invalid %v", q.Invalid)
	}
	if q.Excluded["events"][extract.ExcludedUnknownCustomer] != 1 || q.Excluded["events"][extract.ExcludedAfterAsOf] != 1 {
		t.Errorf("excluded events %v", q.Excluded["events"])
	}
	if ds.Orders != 7 || ds.Events != 4 {
		t.Errorf("orders %d events %d, want 7 and 4", ds.Orders, ds.Events)
	}
	if ds.Quarantine.Len() != 4 {
		t.Fatalf("quarantine %d rows, want 4", ds.Quarantine.Len())
	}
	// Sorted by table, object, row: o9 (row 9), o10, o11, and the
	// duplicate o4 (row 5) sorts first.
	if got := ds.Quarantine.Reason; !reflect.DeepEqual(got, []string{extract.ReasonDuplicateOrder, extract.ReasonMissingCustomerID, extract.ReasonBadTimestamp, extract.ReasonNegativeAmount}) {
		t.Errorf("quarantine reasons %v", got)
	}
	if !reflect.DeepEqual(ds.Known, []bool{true, true, false, true}) {
		t.Errorf("known %v", ds.Known)
	}

	// Behaviour is the same numbers in its own types.
	b := set.Behaviour
	if !reflect.DeepEqual(b.HasOrders, []bool{true, true, true, false}) || !reflect.DeepEqual(b.Frequency, []int32{4, 1, 1, 0}) ||
		!reflect.DeepEqual(b.RecencyDays[:3], []int32{10, 0, 172}) || b.FirstOrder[0] != us("2024-03-01T10:00:00Z") ||
		b.LastOrder[1] != us("2024-06-30T23:00:00Z") || b.LastOrder[3] != extract.NoTime {
		t.Errorf("behaviour %+v", b)
	}
	if b.RepeatSpend != nil || b.FirstDay != nil || b.CalDays != nil {
		t.Error("repeat spend or calibration counts without Repeat and CalibrationDays")
	}
}

// TestRepeatSpendAndCalibration: with Repeat, each customer's first
// purchase day and the spend of the later days (refunds and the dropped
// duplicate left out); with CalibrationDays 30 (calibration end May 31),
// the distinct purchase days up to it and the last of them. The feature
// table is the same with and without them.
func TestRepeatSpendAndCalibration(t *testing.T) {
	_, plain := runFixture(t, Options{})
	_, with := runFixture(t, Options{Repeat: true, CalibrationDays: 30})
	b := with.Behaviour
	day := func(s string) int32 { return DayNumber(us(s), time.UTC) }
	// a, b, d, e: a bought on Mar 1 (10 + 5), May 1 (20), Jun 20 (30);
	// b on Jun 30; d on Jan 10; e never.
	if want := []int32{day("2024-03-01T00:00:00Z"), day("2024-06-30T00:00:00Z"), day("2024-01-10T00:00:00Z"), 0}; !slices.Equal(b.FirstDay, want) {
		t.Errorf("first day %v, want %v", b.FirstDay, want)
	}
	if want := []float64{50, 0, 0, 0}; !slices.Equal(b.RepeatSpend, want) {
		t.Errorf("repeat spend %v, want %v", b.RepeatSpend, want)
	}
	if want := []int32{2, 0, 1, 0}; !slices.Equal(b.CalDays, want) {
		t.Errorf("calibration days %v, want %v", b.CalDays, want)
	}
	if want := []int32{day("2024-05-01T00:00:00Z"), 0, day("2024-01-10T00:00:00Z"), 0}; !slices.Equal(b.CalLast, want) {
		t.Errorf("calibration last day %v, want %v", b.CalLast, want)
	}
	compareTables(t, plain.Table, with.Table)
}

// compareTables fails unless two tables are identical, bit for bit.
func compareTables(t *testing.T, a, b *Table) {
	t.Helper()
	if !reflect.DeepEqual(a.Names(), b.Names()) {
		t.Fatalf("features differ:\n%v\n%v", a.Names(), b.Names())
	}
	for i := range a.Cols {
		x, y := &a.Cols[i], &b.Cols[i]
		if !reflect.DeepEqual(x.Feature, y.Feature) {
			t.Errorf("%s: metadata %+v vs %+v", x.Name, x.Feature, y.Feature)
		}
		for r := range a.N {
			vx, vy := x.Value(r), y.Value(r)
			if math.Float64bits(vx) != math.Float64bits(vy) && !(math.IsNaN(vx) && math.IsNaN(vy)) {
				t.Errorf("%s row %d: %v vs %v", x.Name, r, vx, vy)
				break
			}
		}
	}
}

func TestDayNumberInZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 2024-07-01 02:00 UTC is still June 30 in New York.
	x := us("2024-07-01T02:00:00Z")
	if got, want := DayNumber(x, ny), DayNumber(us("2024-06-30T12:00:00Z"), time.UTC); got != want {
		t.Errorf("day %d, want %d", got, want)
	}
	// Before the epoch, days floor rather than truncate.
	if got := DayNumber(-1, time.UTC); got != -1 {
		t.Errorf("day of -1µs = %d, want -1", got)
	}
	// extract's cached clock agrees with DayNumber across DST changes.
	c := extract.NewClock(ny)
	for h := int64(0); h < 2*366*24; h += 7 {
		x := us("2023-01-01T00:00:00Z") + h*3600e6
		if got, want := c.Day(x), DayNumber(x, ny); got != want {
			t.Fatalf("clock day of %v = %d, want %d", time.UnixMicro(x).UTC(), got, want)
		}
	}
}

// TestRepeatSpendLongAndShort: customers with one order, a handful and
// hundreds, in random day order with same-day repeats, get the first
// purchase day, the repeat spend (to 1e-12 relative: the engine adds in
// input order, moving a first day's spend to the repeat spend when an
// earlier day turns up), and the distinct days and last day up to the
// calibration end that a naive map-and-sort computes.
func TestRepeatSpendLongAndShort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	var sb strings.Builder
	sb.WriteString("cust,ts,amt\n")
	type key struct {
		c   string
		day int32
	}
	want := map[key]float64{}
	counts := map[string]int{"A": 700, "B": 33, "C": 32, "D": 5, "E": 1, "F": 40, "G": 9}
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	for c, n := range counts {
		for i := range n {
			d := start.AddDate(0, 0, rng.IntN(400))
			switch {
			case c == "F" && i%4 == 0, c == "G" && i < 5:
				// Beyond the bitmap's 2048 days: kept in the shard's
				// list of old days, walked after the bitmap.
				d = start.AddDate(0, 0, -1700-rng.IntN(600))
			case c == "G":
				d = start.AddDate(0, 0, 390+rng.IntN(10)) // after the calibration end
			}
			d = d.Add(time.Duration(rng.IntN(86400)) * time.Second)
			amt := float64(rng.IntN(10000)) / 7
			fmt.Fprintf(&sb, "%s,%s,%v\n", c, d.Format(time.RFC3339), amt)
			want[key{c, DayNumber(d.UnixMicro(), time.UTC)}] += amt
		}
	}
	b := objstore.NewMem()
	if err := b.Upload(context.Background(), "orders/o.csv", strings.NewReader(sb.String())); err != nil {
		t.Fatal(err)
	}
	spec := extract.Spec{AsOf: time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC),
		Orders: extract.Table{Bucket: b, Prefix: "orders", Columns: map[string]string{"customer_id": "cust", "order_ts": "ts", "amount": "amt"}}}
	const calibration = 350 // the end falls about halfway through the 400 days of orders
	ds, set, err := Run(context.Background(), spec, Options{Repeat: true, CalibrationDays: calibration, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	beh := set.Behaviour
	gapCol, _ := set.Table.Col("gap_mean_days")
	stdCol, _ := set.Table.Col("gap_std_days")
	calEnd := DayNumber(spec.AsOf.UnixMicro(), time.UTC) - calibration
	for c, id := range ds.IDs.All() {
		var days []int32
		for k := range want {
			if k.c == id {
				days = append(days, k.day)
			}
		}
		slices.Sort(days)
		var repeat float64
		for _, d := range days[1:] {
			repeat += want[key{id, d}]
		}
		cal := 0
		for cal < len(days) && days[cal] <= calEnd {
			cal++
		}
		var calLast int32
		if cal > 0 {
			calLast = days[cal-1]
		}
		if beh.FirstDay[c] != days[0] || beh.PurchaseDays[c] != int32(len(days)) {
			t.Fatalf("customer %s (%d orders): first day %d of %d, want %d of %d", id, counts[id], beh.FirstDay[c], beh.PurchaseDays[c], days[0], len(days))
		}
		if d := math.Abs(beh.RepeatSpend[c] - repeat); d > 1e-12*repeat || (repeat == 0 && beh.RepeatSpend[c] != 0) {
			t.Fatalf("customer %s (%d orders): repeat spend %v, want %v", id, counts[id], beh.RepeatSpend[c], repeat)
		}
		if beh.CalDays[c] != int32(cal) || beh.CalLast[c] != calLast {
			t.Fatalf("customer %s: calibration days %d (last %d), want %d (last %d)", id, beh.CalDays[c], beh.CalLast[c], cal, calLast)
		}
		if cal == 0 || cal == len(days) {
			if counts[id] > 30 {
				t.Fatalf("customer %s: the calibration end does not cut the history", id)
			}
		}
		// The gaps between purchase days, computed here in float64.
		mean, std := gapCol.F[c], stdCol.F[c]
		if len(days) < 2 {
			if !gapCol.Null[c] || !stdCol.Null[c] {
				t.Fatalf("customer %s: %d purchase days and a gap", id, len(days))
			}
			continue
		}
		var sum, sum2 float64
		for i := 1; i < len(days); i++ {
			g := float64(days[i] - days[i-1])
			sum += g
			sum2 += g * g
		}
		k := float64(len(days) - 1)
		wantMean := sum / k
		wantStd := math.Sqrt(max(sum2/k-wantMean*wantMean, 0))
		if math.Abs(mean-wantMean) > 1e-9*wantMean || math.Abs(std-wantStd) > 1e-6*max(wantStd, 1) {
			t.Fatalf("customer %s: gaps %v ± %v days, want %v ± %v", id, mean, std, wantMean, wantStd)
		}
	}
	if f, g := beh.PurchaseDays[slices.Index(ds.IDs.Strings(), "F")], beh.CalLast[slices.Index(ds.IDs.Strings(), "G")]; f < 30 || g == 0 {
		t.Fatalf("the old days are not exercised: F has %d purchase days, G's calibration ends on day %d", f, g)
	}
}
