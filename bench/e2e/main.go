// Command e2e prepares the data of the end-to-end benchmark (bench/e2e/run.sh):
// it turns the shared generator's transaction columns (.npy) into one
// Parquet orders file — int64 customer_id, int64 ts (epoch seconds),
// double amount, zstd, 1M-row groups, the layout DuckDB's COPY writes —
// without the CSV detour, which at 100M rows costs more than the benchmark.
//
//	go run ./bench/e2e -tx DIR/tx_20000000 -out DIR/orders/tx.parquet
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

type tx struct {
	CustomerID int64   `parquet:"customer_id"`
	TS         int64   `parquet:"ts"`
	Amount     float64 `parquet:"amount"`
}

func main() {
	prefix := flag.String("tx", "", "prefix of the generator's column files (…_customer_id.npy, …_ts.npy, …_amount.npy)")
	out := flag.String("out", "", "the Parquet file to write")
	rows := flag.Int("rows", 0, "convert only the first rows (0: all); the generator draws whole 5M-row chunks in order, so for N a multiple of 5M the first N rows of a larger set of C customers are the N-row set of C customers (checked: 10M of 12M)")
	flag.Parse()
	if *prefix == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: e2e -tx PREFIX -out FILE.parquet")
		os.Exit(2)
	}
	if err := convert(*prefix, *out, *rows); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

func convert(prefix, out string, limit int) error {
	var cols [3]*npy
	for i, name := range []string{"customer_id", "ts", "amount"} {
		c, err := openNpy(prefix + "_" + name + ".npy")
		if err != nil {
			return err
		}
		defer c.f.Close()
		cols[i] = c
	}
	n := cols[0].n
	if cols[1].n != n || cols[2].n != n {
		return fmt.Errorf("column lengths differ: %d, %d, %d", n, cols[1].n, cols[2].n)
	}
	if limit > 0 {
		if limit%5_000_000 != 0 {
			return fmt.Errorf("-rows %d: only a multiple of the generator's 5M-row chunk is a smaller set's prefix", limit)
		}
		n = min(n, limit)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	const group = 1 << 20
	w := parquet.NewGenericWriter[tx](f, parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
		parquet.MaxRowsPerRowGroup(group))
	rows := make([]tx, group)
	for done := 0; done < n; {
		m := min(group, n-done)
		for i := range m {
			id, err1 := cols[0].next()
			ts, err2 := cols[1].next()
			amt, err3 := cols[2].next()
			if err := errors.Join(err1, err2, err3); err != nil {
				return fmt.Errorf("row %d: %w", done+i, err)
			}
			rows[i] = tx{CustomerID: int64(id), TS: int64(ts), Amount: math.Float64frombits(amt)}
		}
		if _, err := w.Write(rows[:m]); err != nil {
			return fmt.Errorf("write rows %d-%d: %w", done, done+m, err)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		done += m
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// npy reads a 1-D little-endian 8-byte .npy column (int64 or float64) as
// raw 64-bit words.
type npy struct {
	f *os.File
	r *bufio.Reader
	n int
}

var npyHeader = regexp.MustCompile(`'descr':\s*'<([if])8'.*'fortran_order':\s*False.*'shape':\s*\((\d+),\s*\)`)

func openNpy(path string) (*npy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil || string(pre[:6]) != "\x93NUMPY" || pre[6] != 1 {
		f.Close()
		return nil, fmt.Errorf("%s: not a version-1 .npy file", path)
	}
	h := make([]byte, binary.LittleEndian.Uint16(pre[8:10]))
	if _, err := io.ReadFull(r, h); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	m := npyHeader.FindSubmatch(h)
	if m == nil {
		f.Close()
		return nil, fmt.Errorf("%s: want a 1-D <i8 or <f8 array, header %q", path, h)
	}
	n, _ := strconv.Atoi(string(m[2]))
	return &npy{f: f, r: r, n: n}, nil
}

func (c *npy) next() (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}
