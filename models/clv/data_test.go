package clv

import (
	"bufio"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Calibration end of the CDNOW reference summaries.
var cdnowCalEnd = epochDay("1997-09-30")

func epochDay(s string) int32 {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return int32(t.Unix() / 86400)
}

func yyyymmdd(t testing.TB, s string) int32 {
	t.Helper()
	if len(s) != 8 {
		t.Fatalf("bad date %q", s)
	}
	return epochDay(s[:4] + "-" + s[4:6] + "-" + s[6:])
}

type transactions struct {
	cust   []int32
	day    []int32
	amount []float64
	n      int
}

// loadCDNOWSample reads the 1/10 sample, indexing customers by sample_id-1 so
// that rows line up with the reference summary's ID column.
func loadCDNOWSample(t testing.TB) transactions {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "cdnow", "CDNOW_sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tr transactions
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 5 {
			t.Fatalf("bad line %q", sc.Text())
		}
		id, err := strconv.Atoi(fs[1])
		if err != nil {
			t.Fatal(err)
		}
		amt, err := strconv.ParseFloat(fs[4], 64)
		if err != nil {
			t.Fatal(err)
		}
		tr.cust = append(tr.cust, int32(id-1))
		tr.day = append(tr.day, yyyymmdd(t, fs[2]))
		tr.amount = append(tr.amount, amt)
		tr.n = max(tr.n, id)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tr
}

// masterPath returns the full-cohort file in shared/, next to the module
// root, and whether it exists.
func masterPath() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", "cdnow", "CDNOW_master.txt")
	_, err = os.Stat(p)
	return p, err == nil
}

// loadCDNOWMaster reads the full cohort and skips the test when shared/ is
// not there.
func loadCDNOWMaster(t testing.TB) transactions {
	t.Helper()
	p, ok := masterPath()
	if !ok {
		t.Skip("shared/data/cdnow/CDNOW_master.txt not present")
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tr transactions
	sc := bufio.NewScanner(f)
	header := true
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if header {
			header = false
			if _, err := strconv.Atoi(fs[0]); err != nil {
				continue
			}
		}
		id, err := strconv.Atoi(fs[0])
		if err != nil {
			t.Fatal(err)
		}
		amt, err := strconv.ParseFloat(fs[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		tr.cust = append(tr.cust, int32(id-1))
		tr.day = append(tr.day, yyyymmdd(t, fs[1]))
		tr.amount = append(tr.amount, amt)
		tr.n = max(tr.n, id)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tr
}

// refSummary is the published sample summary, rows by ID-1.
type refSummary struct{ x, tx, T, zbar []float64 }

func loadRefSummary(t testing.TB) refSummary {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "cdnow", "cdnow_customers_summary_with_transactions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	recs = recs[1:]
	s := refSummary{make([]float64, len(recs)), make([]float64, len(recs)), make([]float64, len(recs)), make([]float64, len(recs))}
	for _, r := range recs {
		id, err := strconv.Atoi(strings.TrimSpace(r[0]))
		if err != nil {
			t.Fatal(err)
		}
		for k, dst := range [][]float64{s.x, s.tx, s.T, s.zbar} {
			v, err := strconv.ParseFloat(strings.TrimSpace(r[k+1]), 64)
			if err != nil {
				t.Fatal(err)
			}
			dst[id-1] = v
		}
	}
	return s
}

// sampleSummary returns the sample calibration summary built by Summarize.
func sampleSummary(t testing.TB) Summary {
	t.Helper()
	tr := loadCDNOWSample(t)
	s, err := Summarize(tr.cust, tr.day, tr.amount, tr.n, cdnowCalEnd, 7)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func masterSummary(t testing.TB) Summary {
	t.Helper()
	tr := loadCDNOWMaster(t)
	s, err := Summarize(tr.cust, tr.day, tr.amount, tr.n, cdnowCalEnd, 7)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
