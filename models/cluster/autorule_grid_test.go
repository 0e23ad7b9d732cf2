package cluster

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAutoRuleGrid is the measurement behind autoAlgorithm, not a check: it
// runs only when STRATA_AUTORULE_GRID names a file to append its rows to.
// For every (rows, data, d, k) of the grid it fits Lloyd and Hamerly with
// the default settings (10 restarts, tol 1e-4), alternating which goes
// first, each fit holding STRATA_BENCH_LOCK (default /tmp/strata-bench.lock)
// so that no other benchmark shares the cores, and writes the median CPU
// seconds of each, their ratio, and whether the two agree to the bit
// (labels, centroids, inertia, iterations). CPU time rather than wall time,
// because others use the machine between our runs. The grid comes from
// STRATA_AUTORULE_{N,DATA,K,D,REPS} (comma lists; defaults 100000, cust,blobs,
// 4,8,16,32,64, 2,3,5,10,16,32, 5).
func TestAutoRuleGrid(t *testing.T) {
	out := os.Getenv("STRATA_AUTORULE_GRID")
	if out == "" {
		t.Skip("set STRATA_AUTORULE_GRID=FILE to measure")
	}
	ns := envInts(t, "STRATA_AUTORULE_N", "100000")
	ks := envInts(t, "STRATA_AUTORULE_K", "4,8,16,32,64")
	ds := envInts(t, "STRATA_AUTORULE_D", "2,3,5,10,16,32")
	reps := envInts(t, "STRATA_AUTORULE_REPS", "5")[0]
	datas := strings.Split(envOr("STRATA_AUTORULE_DATA", "cust,blobs"), ",")
	lockPath := envOr("STRATA_BENCH_LOCK", "/tmp/strata-bench.lock")
	f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, n := range ns {
		for _, data := range datas {
			for _, d := range ds {
				for _, k := range ks {
					var X Matrix
					switch data {
					case "cust":
						X = customerLike(n, d)
					case "blobs":
						X, _, _ = blobs(n, d, k, 4, 42)
					default:
						t.Fatalf("unknown data %q", data)
					}
					row := gridPoint(t, X, k, reps, lockPath)
					line := fmt.Sprintf("%d\t%s\t%d\t%d\t%s\n", n, data, k, d, row)
					fmt.Print(line)
					if _, err := f.WriteString(line); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
}

func gridPoint(t *testing.T, X Matrix, k, reps int, lockPath string) string {
	algos := []Algorithm{Lloyd, Hamerly}
	cpu := map[Algorithm][]float64{}
	wall := map[Algorithm][]float64{}
	first := map[Algorithm]Result{}
	for rep := range reps {
		order := algos
		if rep%2 == 1 {
			order = []Algorithm{Hamerly, Lloyd}
		}
		for _, algo := range order {
			cfg := Config{K: k, Seed: 1, Algorithm: algo}
			runtime.GC()
			unlock := benchLock(t, lockPath)
			c0, w0 := processCPU(), time.Now()
			res, err := KMeans(context.Background(), X, cfg)
			c1, w1 := processCPU(), time.Now()
			unlock()
			if err != nil {
				t.Fatal(err)
			}
			cpu[algo] = append(cpu[algo], c1-c0)
			wall[algo] = append(wall[algo], w1.Sub(w0).Seconds())
			if r, ok := first[algo]; !ok {
				first[algo] = res
			} else if !sameFit(r, res) {
				t.Errorf("k=%d d=%d %s: rerun differs", k, X.D, algo)
			}
		}
	}
	l, h := first[Lloyd], first[Hamerly]
	exact := "same"
	if !sameFit(l, h) {
		nl := 0
		for i := range l.Labels {
			if l.Labels[i] != h.Labels[i] {
				nl++
			}
		}
		exact = fmt.Sprintf("DIFF(labels %d, inertia %v vs %v, it %d vs %d)", nl, l.Inertia, h.Inertia, l.Iterations, h.Iterations)
	}
	lc, hc := median(cpu[Lloyd]), median(cpu[Hamerly])
	return fmt.Sprintf("%d\t%.3f\t%.3f\t%.2f\t%.3f\t%.3f\t%s\t%s\t%s\t%v",
		l.Iterations, lc, hc, hc/lc, median(wall[Lloyd]), median(wall[Hamerly]),
		fmtList(cpu[Lloyd]), fmtList(cpu[Hamerly]), exact, l.Inertia)
}

func sameFit(a, b Result) bool {
	return math.Float64bits(a.Inertia) == math.Float64bits(b.Inertia) && a.Iterations == b.Iterations &&
		slices.Equal(a.Labels, b.Labels) && slices.Equal(a.Centroids.Data, b.Centroids.Data) && a.BestInit == b.BestInit
}

func benchLock(t *testing.T, path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}

func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, ",")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInts(t *testing.T, name, def string) []int {
	var xs []int
	for _, s := range strings.Split(envOr(name, def), ",") {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		xs = append(xs, v)
	}
	return xs
}
