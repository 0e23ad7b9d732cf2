package jobs

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/strata-oss/strata/models/cluster"
	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/tables"
)

// clusterBlock is the rows a batch is copied into the matrix at a time:
// the block's rows (blockRows × d × 8 bytes) stay in L1 while the columns
// are written into them one after the other.
const clusterBlock = 256

// loadMatrix reads the named numeric columns of one CSV or Parquet file
// straight into one contiguous row-major matrix, skipping the rows where
// any of them is missing, NaN or infinite (or the row is malformed), and
// returns it with the number of rows skipped. The rows keep the file's
// order.
//
// A Parquet file's row count is in its footer: the matrix is allocated
// once at that size and its row groups are decoded on up to workers
// goroutines (0: GOMAXPROCS), each writing its own rows; rows skipped in
// a group are closed up at the end. A CSV file is read front to back into
// a matrix grown as rows come.
func loadMatrix(ctx context.Context, file string, cols []string, workers int) (cluster.Matrix, int, error) {
	b, base, err := fileBucket(ctx, file, "--input", false)
	if err != nil {
		return cluster.Matrix{}, 0, err
	}
	fields := make([]tables.Field, len(cols))
	for i, c := range cols {
		fields[i] = tables.Field{Name: c, Kind: tables.Float, Required: true}
	}
	src := &tables.Source{Bucket: b, Fields: fields}
	var units []tables.Unit
	total := int64(0)
	if err := src.ObjectUnits(ctx, base, func(u tables.Unit) error {
		units = append(units, u)
		if u.Rows >= 0 && total >= 0 {
			total += u.Rows
		} else {
			total = -1
		}
		return nil
	}); err != nil {
		for _, u := range units {
			u.Release()
		}
		return cluster.Matrix{}, 0, fmt.Errorf("read %s: %w", file, err)
	}
	d := len(cols)
	if total >= 0 && !trustFooter(ctx, b, base, total, d) {
		total = -1
	}
	if total < 0 {
		// CSV, whose rows are known only once read, or a footer whose row
		// count is not to be trusted with an allocation: read front to
		// back into a matrix that grows with the rows decoded.
		m := cluster.Matrix{D: d}
		skipped := 0
		var batch tables.Batch
		for i, u := range units {
			if err := src.ReadUnit(ctx, u, &batch, func(b *tables.Batch) error {
				if need := (m.N + b.N) * d; need > cap(m.Data) {
					grown := make([]float64, m.N*d, max(need, 2*cap(m.Data)))
					copy(grown, m.Data)
					m.Data = grown
				}
				m.Data = m.Data[:(m.N+b.N)*d]
				kept := copyBatch(b, m.Data[m.N*d:], d)
				skipped += b.N - kept
				m.N += kept
				m.Data = m.Data[:m.N*d]
				return nil
			}); err != nil {
				for _, r := range units[i+1:] {
					r.Release()
				}
				return cluster.Matrix{}, 0, fmt.Errorf("read %s: %w", file, err)
			}
		}
		return m, skipped, nil
	}
	data := make([]float64, int(total)*d)
	kept := make([]int, len(units))
	errs := make([]error, len(units))
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(units))
	next := make(chan int, len(units))
	for i := range units {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch tables.Batch
			for i := range next {
				u := units[i]
				if ctx.Err() != nil {
					u.Release()
					errs[i] = ctx.Err()
					continue
				}
				lo := int(u.FirstRow) * d
				hi := lo + int(u.Rows)*d
				at := lo
				errs[i] = src.ReadUnit(ctx, u, &batch, func(b *tables.Batch) error {
					if at+b.N*d > hi {
						return fmt.Errorf("row group %d has more rows than its footer says (%d)", u.Index, u.Rows)
					}
					at += copyBatch(b, data[at:at+b.N*d], d) * d
					return nil
				})
				kept[i] = (at - lo) / d
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return cluster.Matrix{}, 0, fmt.Errorf("read %s: %w", file, err)
		}
	}
	// Close up the rows a group skipped (none, usually).
	n := 0
	for i, u := range units {
		lo := int(u.FirstRow) * d
		if n*d != lo {
			copy(data[n*d:], data[lo:lo+kept[i]*d])
		}
		n += kept[i]
	}
	return cluster.Matrix{Data: data[: n*d : n*d], N: n, D: d}, int(total) - n, nil
}

// trustFooter is plausibleRows, replaced by tests to take the other path.
var trustFooter = plausibleRows

// plausibleRows says whether a matrix of rows × d values may be allocated
// up front on the word of a Parquet footer: a corrupt or hostile footer can
// claim 2^40 rows in a small file, and the tables package sizes no buffer
// by such a claim. Up to 256 MiB, or 64 bytes of matrix per byte of file
// (zstd on real data is 1-10), is taken; beyond that the rows are read as
// they decode, into a matrix that grows.
func plausibleRows(ctx context.Context, b objstore.Bucket, key string, rows int64, d int) bool {
	if rows > int64(math.MaxInt/8/max(d, 1)) {
		return false
	}
	need := rows * int64(d) * 8
	if need <= 256<<20 {
		return true
	}
	a, err := b.Attributes(ctx, key)
	return err == nil && need/64 <= a.Size
}

// copyBatch writes the usable rows of b into dst (b.N × d, row-major) in
// order and returns how many it wrote: a row is skipped when it is
// malformed or one of its values is null, NaN or ±Inf. The rows are copied
// in blocks, a column at a time, so that a block's rows stay in cache.
func copyBatch(b *tables.Batch, dst []float64, d int) int {
	var bad [clusterBlock]bool
	out := 0
	for lo := 0; lo < b.N; lo += clusterBlock {
		hi := min(b.N, lo+clusterBlock)
		nb := hi - lo
		any := false
		if b.Malformed != nil {
			for i := lo; i < hi; i++ {
				bad[i-lo] = b.Malformed[i] != ""
				any = any || bad[i-lo]
			}
		} else {
			clear(bad[:nb])
		}
		for t := range d {
			c := &b.Cols[t]
			if !c.Present {
				// A required field is always present; an empty CSV
				// column can only be all nulls.
				return 0
			}
			f := c.F[lo:hi]
			for i, v := range f {
				// v-v is 0 for a finite v, NaN for NaN and ±Inf.
				if v-v != 0 {
					bad[i], any = true, true
				}
			}
			if c.Null != nil {
				for i, nul := range c.Null[lo:hi] {
					if nul {
						bad[i], any = true, true
					}
				}
			}
			if !any {
				blk := dst[(out)*d : (out+nb)*d]
				for i, v := range f {
					blk[i*d+t] = v
				}
			}
		}
		if !any {
			out += nb
			continue
		}
		// Some row of the block is skipped: copy the others one by one.
		for i := lo; i < hi; i++ {
			if bad[i-lo] {
				continue
			}
			row := dst[out*d : out*d+d]
			for t := range d {
				row[t] = b.Cols[t].F[i]
			}
			out++
		}
	}
	return out
}
