package holdout

import (
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/strata-oss/strata/internal/duckdbtest"
)

// id spells customer ids as the generator does: "C" and eight digits.
func id(i int) string { return fmt.Sprintf("C%08d", i) }

// TestDrawRestatedInDuckDB recomputes the draw from its documented formula
// with DuckDB's own SHA-256, for ids and campaign names (one with
// multi-byte characters, whose length counts bytes) the Go code hashes.
func TestDrawRestatedInDuckDB(t *testing.T) {
	const n = 3000
	for _, campaign := range []string{"winback-2025-09", "été-relance", "a|b"} {
		rows := duckdbtest.Query(t, fmt.Sprintf(`
			WITH ids AS (SELECT 'C' || lpad(i::VARCHAR, 8, '0') AS id FROM range(1, %d) t(i)),
			m AS (SELECT id, 'strata/holdout/v1|' || strlen(%[2]s) || '|' || %[2]s || '|' || id AS msg FROM ids)
			SELECT id, (('0x' || left(sha256(msg), 16))::UBIGINT >> 11)::VARCHAR AS bits FROM m ORDER BY id`,
			n+1, "'"+campaign+"'"))
		if len(rows) != n {
			t.Fatalf("%s: duckdb returned %d rows, want %d", campaign, len(rows), n)
		}
		for i, r := range rows {
			if r["id"] != id(i+1) {
				t.Fatalf("row %d: id %v, want %s", i, r["id"], id(i+1))
			}
			want, err := strconv.ParseUint(r["bits"].(string), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			got := Draw(campaign, id(i+1))
			if got != float64(want)/(1<<53) {
				t.Fatalf("%s, %s: Draw = %v, DuckDB restates %v", campaign, id(i+1), got, float64(want)/(1<<53))
			}
		}
	}
}

// TestStable: the group depends on (campaign, id) alone. Two assigners
// made apart (two runs, on two dates) agree on every customer, and asking
// again gives the same answer.
func TestStable(t *testing.T) {
	a1, err := NewAssigner("winback", 0.1)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := NewAssigner("winback", 0.1)
	for i := 1; i <= 20_000; i++ {
		g := a1.Group(id(i))
		if g != a2.Group(id(i)) || g != a1.Group(id(i)) {
			t.Fatalf("%s: group changed between calls", id(i))
		}
		if (g == Control) != (Draw("winback", id(i)) < 0.1) {
			t.Fatalf("%s: group %s disagrees with its draw", id(i), g)
		}
	}
}

// TestStableAcrossRuns simulates a campaign's daily runs: each date the
// customers fall in other strata (segments move), yet every customer's
// group is the one of the first run, and every run's strata are balanced.
func TestStableAcrossRuns(t *testing.T) {
	const n, share = 30_000, 0.1
	a, _ := NewAssigner("autumn-winback", share)
	first := make([]bool, n+1)
	for i := 1; i <= n; i++ {
		first[i] = a.InControl(id(i))
	}
	for day := 0; day < 5; day++ {
		date := fmt.Sprintf("2025-10-%02d", day+1)
		run, _ := NewAssigner("autumn-winback", share) // a new process each date
		k, _ := NewCounter(share)
		for i := 1; i <= n; i++ {
			// A stratum that changes with the date, unrelated to the draw.
			stratum := fmt.Sprint(int(Draw("segment-"+date, id(i)) * 6))
			c := run.InControl(id(i))
			if c != first[i] {
				t.Fatalf("%s: %s moved between groups", date, id(i))
			}
			k.Add(stratum, c)
		}
		if b := k.Balance(); b.P < 1e-4 || len(b.Strata) != 6 {
			t.Errorf("%s: %d strata, χ² = %.2f on %d df, p = %.2g", date, len(b.Strata), b.ChiSquare, b.DF, b.P)
		}
	}
}

// TestShareWithinTolerance checks the control share over 100,000 ids,
// overall and within strata, against the binomial: the count must be
// within 4 standard deviations sqrt(n·s·(1−s)) of n·s (a fair coin leaves
// that band with probability 6e-5 per count; the hash is fixed, so the
// test's outcome is too, and a failure means a biased draw).
func TestShareWithinTolerance(t *testing.T) {
	const n, share = 100_000, 0.1
	for _, tc := range []struct {
		name    string
		stratum func(i int) string
	}{
		{"eight equal strata", func(i int) string { return "s" + strconv.Itoa(i%8) }},
		{"uneven strata", func(i int) string {
			switch {
			case i%100 == 0:
				return "champions" // 1%
			case i%10 < 3:
				return "at_risk" // ~30%
			}
			return "other"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := NewAssigner("spring-winback", share)
			k, _ := NewCounter(share)
			for i := 1; i <= n; i++ {
				k.Add(tc.stratum(i), a.InControl(id(i)))
			}
			b := k.Balance()
			for _, st := range append(b.Strata, b.Total) {
				sd := math.Sqrt(float64(st.Customers) * share * (1 - share))
				dev := float64(st.Control) - float64(st.Customers)*share
				t.Logf("stratum %q: %d of %d in control (%.4f), %.2f sd off", st.Name, st.Control, st.Customers, st.Share, dev/sd)
				if math.Abs(dev) > 4*sd {
					t.Errorf("stratum %q: %d in control, want %.0f ± %.0f (4 sd)", st.Name, st.Control, float64(st.Customers)*share, 4*sd)
				}
			}
			if b.Total.Customers != n {
				t.Errorf("total %d customers, want %d", b.Total.Customers, n)
			}
			if b.P < 1e-4 {
				t.Errorf("χ² = %.2f on %d df, p = %.2g: strata out of balance", b.ChiSquare, b.DF, b.P)
			}
		})
	}
}

// TestCampaignsIndependent: being in one campaign's control group says
// nothing about another's. Over 100,000 ids the number in both control
// groups must be within 4 sd of n·s₁·s₂, and the draws' correlation within
// 4/sqrt(n) of 0 (its standard error under independence).
func TestCampaignsIndependent(t *testing.T) {
	const n = 100_000
	const s1, s2 = 0.1, 0.2
	both := 0
	var sx, sy, sxx, syy, sxy float64
	for i := 1; i <= n; i++ {
		x, y := Draw("spring-winback", id(i)), Draw("summer-winback", id(i))
		if x < s1 && y < s2 {
			both++
		}
		sx, sy, sxx, syy, sxy = sx+x, sy+y, sxx+x*x, syy+y*y, sxy+x*y
	}
	p := s1 * s2
	if sd := math.Sqrt(n * p * (1 - p)); math.Abs(float64(both)-n*p) > 4*sd {
		t.Errorf("%d ids in both control groups, want %.0f ± %.0f", both, n*p, 4*sd)
	}
	r := (n*sxy - sx*sy) / math.Sqrt((n*sxx-sx*sx)*(n*syy-sy*sy))
	t.Logf("both control: %d (expected %.0f); correlation of draws %.5f", both, n*p, r)
	if math.Abs(r) > 4/math.Sqrt(n) {
		t.Errorf("correlation of the two campaigns' draws %.4f, want |r| < %.4f", r, 4/math.Sqrt(n))
	}
}

// TestBalanceFigures checks the statistics against closed forms that
// share no code with distuv: for one degree of freedom the χ² tail is
// erfc(|z|/√2), for two it is exp(−x/2).
func TestBalanceFigures(t *testing.T) {
	k, _ := NewCounter(0.1)
	add := func(s string, n, c int) {
		for i := range n {
			k.Add(s, i < c)
		}
	}
	add("a", 1000, 120) // 20 over 100 expected
	add("b", 400, 31)   // 9 under 40 expected
	b := k.Balance()
	if len(b.Strata) != 2 || b.Strata[0].Name != "a" || b.Strata[1].Name != "b" {
		t.Fatalf("strata %+v", b.Strata)
	}
	za := 20 / math.Sqrt(1000*0.1*0.9)
	zb := -9 / math.Sqrt(400*0.1*0.9)
	for _, tc := range []struct {
		got  Stratum
		n, c int
		z    float64
	}{{b.Strata[0], 1000, 120, za}, {b.Strata[1], 400, 31, zb}, {b.Total, 1400, 151, 11 / math.Sqrt(1400*0.1*0.9)}} {
		if tc.got.Customers != tc.n || tc.got.Control != tc.c {
			t.Errorf("%q: %d/%d, want %d/%d", tc.got.Name, tc.got.Control, tc.got.Customers, tc.c, tc.n)
		}
		if math.Abs(tc.got.Z-tc.z) > 1e-12 {
			t.Errorf("%q: z = %v, want %v", tc.got.Name, tc.got.Z, tc.z)
		}
		if want := math.Erfc(math.Abs(tc.z) / math.Sqrt2); math.Abs(tc.got.P-want) > 1e-9 {
			t.Errorf("%q: p = %v, want erfc(|z|/√2) = %v", tc.got.Name, tc.got.P, want)
		}
	}
	// z = 2.108 is two-sided p ≈ 0.035 in any normal table.
	if math.Abs(b.Strata[0].P-0.035) > 0.001 {
		t.Errorf("p(a) = %v, want ≈ 0.035", b.Strata[0].P)
	}
	x := za*za + zb*zb
	if b.DF != 2 || math.Abs(b.ChiSquare-x) > 1e-9 || math.Abs(b.P-math.Exp(-x/2)) > 1e-9 {
		t.Errorf("χ² = %v on %d df, p = %v; want %v on 2, p = %v", b.ChiSquare, b.DF, b.P, x, math.Exp(-x/2))
	}
	if b.Strata[0].Small || b.Strata[1].Small {
		t.Error("strata with 100 and 40 expected marked small")
	}
	k2, _ := NewCounter(0.1)
	k2.Add("tiny", true)
	if !k2.Balance().Strata[0].Small {
		t.Error("a stratum of one not marked small")
	}
}

func TestNewAssignerRejects(t *testing.T) {
	for _, tc := range []struct {
		campaign string
		share    float64
	}{{"", 0.1}, {"c", -0.1}, {"c", 1}, {"c", math.NaN()}} {
		if _, err := NewAssigner(tc.campaign, tc.share); err == nil {
			t.Errorf("NewAssigner(%q, %v) accepted", tc.campaign, tc.share)
		}
	}
	if _, err := NewCounter(1.5); err == nil {
		t.Error("NewCounter(1.5) accepted")
	}
	a, err := NewAssigner("c", 0)
	if err != nil || a.InControl("x") {
		t.Errorf("share 0: err %v, someone in control", err)
	}
}
