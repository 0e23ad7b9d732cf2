// Command zstdfloor measures the zstd floor of reading and writing a
// Parquet file on one core: what the hardware gives the read + RFM stage
// for decompressing its input, and the publish stage for compressing its
// output, with Strata's decoder (klauspost/compress, pure Go, the one
// parquet-go uses) against the reference C library (the zstd command, one
// thread), on the same bytes.
//
// It takes the zstd-compressed pages of every column chunk of the file as
// they are stored (the payload of each data and dictionary page, a
// version 2 page's levels left out), then, best of -reps on one core:
//
//   - decodes every page with klauspost's DecodeAll, into a reused buffer;
//   - writes the pages, one zstd frame each, to one file and times
//     `zstd -d -T1 -c FILE > /dev/null`, which decodes the same frames;
//   - compresses every decoded page with klauspost's encoder at the levels
//     Strata writes with (SpeedFastest, SpeedDefault), and times `zstd -b`
//     at the matching C levels (1 and 3) on the decoded bytes.
//
// Speeds are in GB/s of decompressed bytes.
//
//	go run ./bench/zstdfloor -in orders.parquet [-reps 3]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

func main() {
	in := flag.String("in", "", "a zstd-compressed Parquet file")
	reps := flag.Int("reps", 3, "repetitions, best kept")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	pages, raw, err := readPages(*in)
	if err != nil {
		log.Fatal(err)
	}
	var comp int
	for _, p := range pages {
		comp += len(p)
	}
	fmt.Printf("%s: %d zstd pages, %.1f MB compressed, %.1f MB decompressed (%.2f:1)\n",
		filepath.Base(*in), len(pages), mb(comp), mb(raw), float64(raw)/float64(comp))

	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false))
	if err != nil {
		log.Fatal(err)
	}
	var out [][]byte
	goDec := best(*reps, func() {
		out = out[:0]
		var buf []byte
		for _, p := range pages {
			d, err := dec.DecodeAll(p, buf[:0])
			if err != nil {
				log.Fatalf("decode a page: %v", err)
			}
			if len(out) < len(pages) {
				out = append(out, bytes.Clone(d))
			}
			buf = d
		}
	})

	dir, err := os.MkdirTemp("", "zstdfloor")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	frames := filepath.Join(dir, "pages.zst")
	if err := os.WriteFile(frames, bytes.Join(pages, nil), 0o644); err != nil {
		log.Fatal(err)
	}
	cDec := best(*reps, func() {
		cmd := exec.Command("zstd", "-q", "-d", "-T1", "-c", frames)
		cmd.Stdout = devNull()
		if err := cmd.Run(); err != nil {
			log.Fatalf("zstd -d: %v", err)
		}
	})
	fmt.Printf("decode   Go (klauspost) %.2f GB/s   C (zstd -d -T1) %.2f GB/s   Go/C time %.2f\n",
		gbs(raw, goDec), gbs(raw, cDec), goDec.Seconds()/cDec.Seconds())

	decoded := filepath.Join(dir, "pages.raw")
	if err := os.WriteFile(decoded, bytes.Join(out, nil), 0o644); err != nil {
		log.Fatal(err)
	}
	for _, lv := range []struct {
		go_ zstd.EncoderLevel
		c   int
	}{{zstd.SpeedFastest, 1}, {zstd.SpeedDefault, 3}} {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(lv.go_))
		if err != nil {
			log.Fatal(err)
		}
		var size int
		t := best(*reps, func() {
			size = 0
			var buf []byte
			for _, p := range out {
				buf = enc.EncodeAll(p, buf[:0])
				size += len(buf)
			}
		})
		cSpeed, cRatio, err := cBench(decoded, lv.c)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("encode   Go %-13s %.2f GB/s (%.2f:1, page by page)   C level %d %.2f GB/s (%.2f:1, zstd -b, whole file)\n",
			lv.go_.String(), gbs(raw, t), float64(raw)/float64(size), lv.c, cSpeed, cRatio)
	}
}

// readPages returns the compressed payload of every page of every zstd
// column chunk, and their decompressed size.
func readPages(path string) (pages [][]byte, raw int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			md := cc.MetaData
			if md.Codec != format.Zstd {
				continue
			}
			pos := md.DataPageOffset
			if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < pos {
				pos = md.DictionaryPageOffset
			}
			end := pos + md.TotalCompressedSize
			for pos < end {
				var h format.PageHeader
				pr := (&thrift.CompactProtocol{}).NewReaderFromBytes(data[pos:end])
				if err := thrift.NewDecoder(pr).Decode(&h); err != nil {
					return nil, 0, fmt.Errorf("page header at byte %d: %w", pos, err)
				}
				body := pos + int64(pr.BytesRead())
				payload := data[body : body+int64(h.CompressedPageSize)]
				n := int(h.UncompressedPageSize)
				if v := &h.DataPageHeaderV2.V; h.Type == format.DataPageV2 {
					lv := int(v.RepetitionLevelsByteLength + v.DefinitionLevelsByteLength)
					payload, n = payload[lv:], n-lv
					if c, ok := v.IsCompressed.Get(); ok && !c {
						payload = nil
					}
				}
				if len(payload) > 0 {
					pages, raw = append(pages, payload), raw+n
				}
				pos = body + int64(h.CompressedPageSize)
			}
		}
	}
	if len(pages) == 0 {
		return nil, 0, fmt.Errorf("%s: no zstd pages", path)
	}
	return pages, raw, nil
}

// cBench runs the C library's own benchmark (`zstd -b`) at one level on
// one thread and returns its compression speed in GB/s and its ratio.
func cBench(file string, level int) (gbps, ratio float64, err error) {
	out, err := exec.Command("zstd", "-T1", "-b"+strconv.Itoa(level), "-i3", file).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("zstd -b%d: %v: %s", level, err, out)
	}
	// "3#pages.raw : 480000000 -> 210000000 (x2.285), 350.1 MB/s, 1500.2 MB/s"
	m := regexp.MustCompile(`\(x?([0-9.]+)\),\s*([0-9.]+) MB/s`).FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, 0, fmt.Errorf("zstd -b%d: cannot read %q", level, out)
	}
	last := m[len(m)-1]
	ratio, _ = strconv.ParseFloat(string(last[1]), 64)
	speed, _ := strconv.ParseFloat(string(last[2]), 64)
	return speed / 1000, ratio, nil
}

func best(reps int, fn func()) time.Duration {
	b := time.Duration(1<<63 - 1)
	for range reps {
		t := time.Now()
		fn()
		b = min(b, time.Since(t))
	}
	return b
}

func devNull() *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	return f
}

func mb(n int) float64                   { return float64(n) / 1e6 }
func gbs(n int, t time.Duration) float64 { return float64(n) / t.Seconds() / 1e9 }
