// Command randmem measures the memory floor of the read + RFM aggregate
// stage's critical path: one goroutine updating, for each order, two cache
// lines of a per-customer record (Strata's 192-byte record, in the orders'
// customer order), with the records spread over an arena as large as the
// customers' (1M customers: ~190 MB, far beyond the caches). It times the
// same walk several ways, on one core: the record updates with no
// prefetch, with each record prefetched -ahead orders ahead (what the
// feature engine does), a sequential pass over the arena (the bandwidth a
// sorted input could reach), and, for each -batch size B, the updates
// taken B orders at a time and stably bucketed by record address first
// (a counting sort on the record number's high bits, -span records a
// bucket; its cost included, and also shown alone), so that each
// customer's updates keep their order. The customer sequence is the
// shared generator's: a lognormal propensity, so busy customers come back
// often, read from its .npy column when given, drawn alike otherwise.
//
// With -huge the arena is advised MADV_HUGEPAGE, 2 MiB aligned, as the
// feature engine's record arena is where huge pages pay (hugemem); the
// line "huge pages" says how much of the process the kernel gave them to.
//
//	go run ./bench/randmem [-customers 1000000] [-orders 20000000] [-ids tx_20000000_customer_id.npy]
//	go run ./bench/randmem -customers 20000000 -orders 40000000 -huge -batch 65536,1048576,4194304
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/strata-oss/strata/pipeline/tables/hugemem"
)

const recBytes = 192

// An update is what the sorted batches move about for an order: its
// record and a payload standing for the order's fields (the engine's
// amount, instant and day: 16 bytes here, with the record number 24).
type update struct {
	rec int32
	_   int32
	v   uint64
	w   uint64
}

func main() {
	customers := flag.Int("customers", 1_000_000, "customers (records)")
	orders := flag.Int("orders", 20_000_000, "orders (record updates)")
	ids := flag.String("ids", "", "the generator's customer_id .npy column (else drawn alike)")
	reps := flag.Int("reps", 3, "repetitions, best kept")
	dist := flag.Int("ahead", 16, "prefetch distance, in orders")
	perm := flag.Bool("perm", false, "visit every record once in a random order (the features stage's walk in id order) instead of the orders' sequence")
	huge := flag.Bool("huge", false, "advise the arena MADV_HUGEPAGE (2 MiB aligned), as hugemem does")
	batches := flag.String("batch", "", "comma-separated batch sizes B (orders) to time sorted batches for")
	spans := flag.String("span", "4096", "comma-separated records a bucket of the sorted batches covers (each rounded down to a power of two)")
	flag.Parse()
	seq, err := sequence(*ids, *customers, *orders)
	if err != nil {
		log.Fatal(err)
	}
	if *perm {
		seq = seq[:0]
		for i := range *customers {
			seq = append(seq, int32(i))
		}
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(seq), func(i, j int) { seq[i], seq[j] = seq[j], seq[i] })
	}
	sizes, err := ints(*batches)
	if err != nil {
		log.Fatalf("-batch: %v", err)
	}
	spanList, err := ints(*spans)
	if err != nil {
		log.Fatalf("-span: %v", err)
	}
	words := recBytes / 8
	var arena []uint64
	if *huge {
		arena = hugemem.Make[uint64](*customers*words + 8)
	} else {
		arena = make([]uint64, *customers*words+8)
	}
	for i := range arena {
		arena[i] = 1 // faulted in before timing
	}
	best := func(f func()) time.Duration {
		var b time.Duration
		for r := range *reps {
			t := time.Now()
			f()
			if d := time.Since(t); r == 0 || d < b {
				b = d
			}
		}
		return b
	}
	var sink uint64
	plain := best(func() {
		for _, c := range seq {
			r := arena[int(c)*words : int(c)*words+words]
			r[0]++ // the counts and sums line
			r[8] += uint64(c)
			r[16] |= 1 // the day bitmap's line
		}
	})
	ahead := best(func() {
		for j, c := range seq {
			if j+*dist < len(seq) {
				prefetch(&arena[int(seq[j+*dist])*words])
				prefetch(&arena[int(seq[j+*dist])*words+16])
			}
			r := arena[int(c)*words : int(c)*words+words]
			r[0]++
			r[8] += uint64(c)
			r[16] |= 1
		}
	})
	stream := best(func() {
		var s uint64
		for i := 0; i < len(arena); i += 8 {
			s += arena[i]
		}
		sink += s
	})
	n := float64(len(seq))
	lines := 2 * n
	pages := "small pages"
	if *huge {
		pages = fmt.Sprintf("huge pages asked for, %s", hugeShare())
	}
	fmt.Printf("%d customers (%.0f MB of records, %s), %d orders, one core, best of %d:\n", *customers,
		float64(len(arena)*8)/1e6, pages, len(seq), *reps)
	fmt.Printf("  random record updates, no prefetch   %6.3f s  %5.1f ns/update  %5.2f GB/s of lines\n",
		plain.Seconds(), 1e9*plain.Seconds()/n, 64*lines/plain.Seconds()/1e9)
	fmt.Printf("  random record updates, %3d ahead     %6.3f s  %5.1f ns/update  %5.2f GB/s of lines\n",
		*dist, ahead.Seconds(), 1e9*ahead.Seconds()/n, 64*lines/ahead.Seconds()/1e9)
	fmt.Printf("  sequential read of the arena         %6.3f s  %6.1f GB/s\n", stream.Seconds(),
		float64(len(arena)*8)/stream.Seconds()/1e9)
	for _, sp := range spanList {
		shift := bits.Len(uint(sp)) - 1
		for _, b := range sizes {
			bk := newBucketer(min(b, len(seq)), *customers, shift)
			sortOnly := best(func() {
				for lo := 0; lo < len(seq); lo += b {
					bk.sort(seq[lo:min(lo+b, len(seq))])
				}
			})
			sorted := best(func() {
				for lo := 0; lo < len(seq); lo += b {
					us := bk.sort(seq[lo:min(lo+b, len(seq))])
					for j, u := range us {
						if j+*dist < len(us) {
							c := int(us[j+*dist].rec)
							prefetch(&arena[c*words])
							prefetch(&arena[c*words+16])
						}
						r := arena[int(u.rec)*words : int(u.rec)*words+words]
						r[0]++
						r[8] += u.v
						r[16] |= u.w
					}
				}
			})
			fmt.Printf("  sorted batches of %8d, %3d ahead %6.3f s  %5.1f ns/update  (sort alone %5.1f ns/update, %d buckets of %d records)\n",
				b, *dist, sorted.Seconds(), 1e9*sorted.Seconds()/n, 1e9*sortOnly.Seconds()/n, len(bk.count), 1<<shift)
		}
	}
	if sink == 42 {
		fmt.Println()
	}
}

// ints parses a comma-separated list of positive integers ("" is none).
func ints(list string) ([]int, error) {
	var out []int
	if list == "" {
		return nil, nil
	}
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad value %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// A bucketer sorts a batch of orders stably by their record's bucket
// (record number >> shift): a histogram, its prefix sums, one scatter.
type bucketer struct {
	shift int
	count []int32
	out   []update
}

func newBucketer(batch, records, shift int) *bucketer {
	return &bucketer{shift: shift, count: make([]int32, (records>>shift)+1), out: make([]update, batch)}
}

func (bk *bucketer) sort(recs []int32) []update {
	clear(bk.count)
	for _, c := range recs {
		bk.count[c>>bk.shift]++
	}
	at := int32(0)
	for i, n := range bk.count {
		bk.count[i] = at
		at += n
	}
	out := bk.out[:len(recs)]
	for j, c := range recs {
		k := c >> bk.shift
		out[bk.count[k]] = update{rec: c, v: uint64(c), w: uint64(j&1) | 1}
		bk.count[k]++
	}
	return out
}

// hugeShare is the process's anonymous memory on huge pages, from
// /proc/self/smaps_rollup.
func hugeShare() string {
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		return "share unknown"
	}
	defer f.Close()
	var anon, huge float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb float64
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		kb, _ = strconv.ParseFloat(fs[1], 64)
		switch fs[0] {
		case "Anonymous:":
			anon = kb
		case "AnonHugePages:":
			huge = kb
		}
	}
	return fmt.Sprintf("%.0f of %.0f MB anonymous on huge pages", huge/1e3, anon/1e3)
}

// sequence is the orders' customer numbers: the generator's column, or
// the same shape of draw (lognormal propensity, inverse-CDF sampling).
func sequence(path string, customers, orders int) ([]int32, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		hl := int(binary.LittleEndian.Uint16(b[8:10]))
		body := b[10+hl:]
		out := make([]int32, len(body)/8)
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint64(body[8*i:]))
		}
		return out, nil
	}
	rng := rand.New(rand.NewPCG(7, 7))
	cdf := make([]float64, customers)
	s := 0.0
	for i := range cdf {
		s += math.Exp(rng.NormFloat64())
		cdf[i] = s
	}
	out := make([]int32, orders)
	for i := range out {
		out[i] = int32(min(sort.SearchFloat64s(cdf, rng.Float64()*s), customers-1))
	}
	return out, nil
}
