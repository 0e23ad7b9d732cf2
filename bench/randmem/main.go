// Command randmem measures the memory floor of the read + RFM aggregate
// stage's critical path: one goroutine updating, for each order, two cache
// lines of a per-customer record (Strata's 192-byte record, in the orders'
// customer order), with the records spread over an arena as large as the
// customers' (1M customers: ~190 MB, far beyond the caches). It times the
// same walk three ways, on one core: the record updates with no prefetch,
// with each record prefetched 16 orders ahead (what the feature engine
// does), and a sequential pass over the arena (the bandwidth a sorted
// input could reach). The customer sequence is the shared generator's:
// a lognormal propensity, so busy customers come back often, read from
// its .npy column when given, drawn alike otherwise.
//
//	go run ./bench/randmem [-customers 1000000] [-orders 20000000] [-ids tx_20000000_customer_id.npy]
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"time"
)

const recBytes = 192

func main() {
	customers := flag.Int("customers", 1_000_000, "customers (records)")
	orders := flag.Int("orders", 20_000_000, "orders (record updates)")
	ids := flag.String("ids", "", "the generator's customer_id .npy column (else drawn alike)")
	reps := flag.Int("reps", 3, "repetitions, best kept")
	dist := flag.Int("ahead", 16, "prefetch distance, in orders")
	perm := flag.Bool("perm", false, "visit every record once in a random order (the features stage's walk in id order) instead of the orders' sequence")
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
	words := recBytes / 8
	arena := make([]uint64, *customers*words+8)
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
	lines := float64(2 * len(seq))
	fmt.Printf("%d customers (%.0f MB of records), %d orders, one core, best of %d:\n", *customers,
		float64(len(arena)*8)/1e6, len(seq), *reps)
	fmt.Printf("  random record updates, no prefetch   %6.3f s  %6.1f M lines/s  %5.2f GB/s of lines\n",
		plain.Seconds(), lines/plain.Seconds()/1e6, 64*lines/plain.Seconds()/1e9)
	fmt.Printf("  random record updates, %3d ahead     %6.3f s  %6.1f M lines/s  %5.2f GB/s of lines\n",
		*dist, ahead.Seconds(), lines/ahead.Seconds()/1e6, 64*lines/ahead.Seconds()/1e9)
	fmt.Printf("  sequential read of the arena         %6.3f s  %6.1f GB/s\n", stream.Seconds(),
		float64(len(arena)*8)/stream.Seconds()/1e9)
	if sink == 42 {
		fmt.Println()
	}
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
