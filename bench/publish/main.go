// Command publish times tables.WriteParquet, the publish stage's writer,
// on a table Strata published (bench/e2e's segments table): it reads the
// file back into output columns, writes them -n times to memory and
// prints each write's wall time, the bytes written and whether every
// write gave the bytes of the file it read (Strata's publish wrote it
// with the same options, so any writer change that alters the output
// shows here). Each write's CPU time (user + system, the whole process:
// the writer's workers and the collector) is printed beside its wall
// time: on a machine shared with others the wall times swing, the CPU
// times much less.
//
//	go run ./bench/publish -in segments.parquet [-n 5] [-cpuprofile cpu.out]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-oss/strata/pipeline/tables"
)

func main() {
	in := flag.String("in", "", "a Parquet file Strata wrote")
	n := flag.Int("n", 5, "writes")
	prof := flag.String("cpuprofile", "", "CPU profile of the writes")
	only := flag.String("only", "", "write only this column (with -cpuprofile: its profile)")
	each := flag.Bool("columns", false, "also time each column written alone, one worker (best of -n)")
	flag.Parse()
	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	cols, meta, err := load(raw)
	if err != nil {
		log.Fatalf("read %s: %v", *in, err)
	}
	if *only != "" {
		for i := range cols {
			if cols[i].Name == *only {
				cols = cols[i : i+1]
				raw = nil // a one-column file is not the input's bytes
				break
			}
		}
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	var times, cpus []float64
	same := true
	var size int
	for range *n {
		var buf bytes.Buffer
		buf.Grow(len(raw))
		t, c := time.Now(), cpuSeconds()
		if err := tables.WriteParquet(&buf, cols, tables.WriteOptions{Metadata: meta}); err != nil {
			log.Fatal(err)
		}
		times, cpus = append(times, time.Since(t).Seconds()), append(cpus, cpuSeconds()-c)
		size = buf.Len()
		same = same && bytes.Equal(buf.Bytes(), raw)
	}
	if *each {
		for i := range cols {
			best, bestCPU, size := 0.0, 0.0, 0
			for r := range *n {
				var buf bytes.Buffer
				t, c := time.Now(), cpuSeconds()
				if err := tables.WriteParquet(&buf, cols[i:i+1], tables.WriteOptions{Workers: 1}); err != nil {
					log.Fatal(err)
				}
				d, dc := time.Since(t).Seconds(), cpuSeconds()-c
				if r == 0 || d < best {
					best = d
				}
				if r == 0 || dc < bestCPU {
					bestCPU = dc
				}
				size = buf.Len()
			}
			fmt.Printf("  %-28s %8.1f ms %8.1f ms CPU %10d bytes\n", cols[i].Name, 1000*best, 1000*bestCPU, size)
		}
	}
	fmt.Printf("rows %d columns %d bytes %d same-as-input %v\nwrites (s): %.3f\nmedian %.3f min %.3f\n",
		cols[0].Len(), len(cols), size, same, times, median(times), slices.Min(times))
	fmt.Printf("CPU (s): %.3f\nmedian %.3f min %.3f\n", cpus, median(cpus), slices.Min(cpus))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	return s[len(s)/2]
}

// cpuSeconds is the process's CPU time so far, user and system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// load reads a flat file of the types WriteParquet writes back into its
// columns, and the file's key-value metadata.
func load(raw []byte) ([]tables.OutColumn, map[string]string, error) {
	f, err := parquet.OpenFile(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, nil, err
	}
	meta := map[string]string{}
	for _, kv := range f.Metadata().KeyValueMetadata {
		meta[kv.Key] = kv.Value
	}
	nrows := int(f.NumRows())
	var cols []tables.OutColumn
	for ci, field := range f.Schema().Fields() {
		c := tables.OutColumn{Name: field.Name(), Optional: field.Optional()}
		typ := field.Type()
		lt := typ.LogicalType()
		switch typ.Kind() {
		case parquet.ByteArray:
			c.Type, c.Str = tables.OutString, make([]string, 0, nrows)
		case parquet.Int32:
			c.Type, c.I32 = tables.OutInt32, make([]int32, 0, nrows)
			if lt != nil && isType[*format.DateType](lt.Value) {
				c.Type = tables.OutDate
			}
		case parquet.Int64:
			c.Type, c.I64 = tables.OutInt64, make([]int64, 0, nrows)
			if lt != nil && isType[*format.TimestampType](lt.Value) {
				c.Type = tables.OutTimestamp
			}
		case parquet.Double:
			c.Type, c.F64 = tables.OutDouble, make([]float64, 0, nrows)
		case parquet.Boolean:
			c.Type, c.B = tables.OutBool, make([]bool, 0, nrows)
		default:
			return nil, nil, fmt.Errorf("column %s: type %v", c.Name, typ)
		}
		if c.Optional {
			c.Null = make([]bool, 0, nrows)
		}
		vals := make([]parquet.Value, 4096)
		seen := map[string]string{}
		for _, rg := range f.RowGroups() {
			pages := rg.ColumnChunks()[ci].Pages()
			for {
				p, err := pages.ReadPage()
				if err != nil {
					break
				}
				r := p.Values()
				for {
					k, err := r.ReadValues(vals)
					for _, v := range vals[:k] {
						null := v.IsNull()
						if c.Optional {
							c.Null = append(c.Null, null)
						}
						switch c.Type {
						case tables.OutString:
							c.Str = append(c.Str, intern(seen, v.ByteArray()))
						case tables.OutInt32, tables.OutDate:
							c.I32 = append(c.I32, v.Int32())
						case tables.OutInt64, tables.OutTimestamp:
							c.I64 = append(c.I64, v.Int64())
						case tables.OutDouble:
							c.F64 = append(c.F64, v.Double())
						case tables.OutBool:
							c.B = append(c.B, v.Boolean())
						}
					}
					if err != nil {
						break
					}
				}
			}
			pages.Close()
		}
		if l := c.Len(); l != nrows {
			return nil, nil, fmt.Errorf("column %s: %d of %d rows", c.Name, l, nrows)
		}
		cols = append(cols, c)
	}
	return cols, meta, nil
}

// intern returns the string of b, the same one each time for the same
// bytes: the pipeline's columns of names and codes share one string per
// level (a segment's name, an RFM score), and the writer finds the
// strings it has seen by their address.
func intern(seen map[string]string, b []byte) string {
	if s, ok := seen[string(b)]; ok {
		return s
	}
	s := string(b)
	seen[s] = s
	return s
}

func isType[T any](v any) bool { _, ok := v.(T); return ok }
