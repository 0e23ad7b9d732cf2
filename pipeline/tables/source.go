package tables

import (
	"context"
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// Source is one logical input table: every Parquet or CSV object under
// Prefix of Bucket.
type Source struct {
	Bucket objstore.Bucket
	Prefix string
	// Format is "parquet", "csv" or "" / "auto" (by extension).
	Format string
	// Columns maps logical field names to the input's column names; a field
	// that is not mapped is looked up under its own name. A Time field's
	// column may carry a unit, "ts:epoch_s" (see SplitColumn).
	Columns map[string]string
	Fields  []Field
	CSV     CSVOptions
	// BatchRows is the number of rows per batch: of a CSV object, and at
	// most that many of a Parquet row group, which is decoded in windows of
	// it page by page (a row group of a list column is one batch). Default
	// 65536.
	BatchRows int
}

// batchRows is the most rows a batch holds.
func (s *Source) batchRows() int {
	if s.BatchRows > 0 {
		return s.BatchRows
	}
	return 65536
}

// CSVOptions configures CSV parsing.
type CSVOptions struct {
	Comma       rune     // default ','
	TimeLayouts []string // tried after the built-in layouts
	// MaxRowBytes bounds a row (DefaultMaxRowBytes when 0): a longer
	// line is a malformed row, read past without being held.
	MaxRowBytes int
}

// physical returns the input column name of field f and its time unit.
func (s *Source) physical(f Field) (string, TimeUnit) {
	if p, ok := s.Columns[f.Name]; ok && p != "" {
		return SplitColumn(p)
	}
	return f.Name, NoUnit
}

func (s *Source) formatOf(key string) string {
	switch s.Format {
	case "parquet", "csv":
		return s.Format
	}
	lower := strings.ToLower(key)
	switch {
	case strings.HasSuffix(lower, ".parquet"), strings.HasSuffix(lower, ".parq"):
		return "parquet"
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".csv.gz"), strings.HasSuffix(lower, ".txt"):
		return "csv"
	}
	return ""
}

// Files lists the table's objects in lexical order. Objects whose base name
// starts with "_" or "." (markers such as _SUCCESS, temporary files) and
// objects of another format are ignored, as Hive-style readers do.
func (s *Source) Files(ctx context.Context) ([]string, error) {
	prefix := strings.Trim(s.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	var keys []string
	err := s.Bucket.Iter(ctx, prefix, func(k string) error {
		base := path.Base(k)
		if strings.HasPrefix(base, "_") || strings.HasPrefix(base, ".") {
			return nil
		}
		if s.formatOf(k) == "" {
			return nil
		}
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no %s input objects under %q", nonEmpty(s.Format, "parquet or csv"), prefix)
	}
	return keys, nil
}

func nonEmpty(s, def string) string {
	if s == "" || s == "auto" {
		return def
	}
	return s
}

// CheckSchema opens every object's schema (Parquet footer, CSV header) and
// reports every missing required column and every column whose type can not
// convert to its field's kind, across all objects at once.
func (s *Source) CheckSchema(ctx context.Context) error {
	_, err := s.Inspect(ctx)
	return err
}

// Inspection is what a table's schemas say.
type Inspection struct {
	Objects int
	// Rows is the number of rows the Parquet footers declare, or -1 when
	// some object is CSV.
	Rows int64
	// IntKeys says, for each field of kind Key, whether every object holds
	// it as an integer column (and so is read as Int).
	IntKeys map[string]bool
	// KeyRange is, for each integer Key field whose every row group has
	// min/max statistics, the smallest and largest value.
	KeyRange map[string][2]int64
}

// Inspect checks the schema of every object, as CheckSchema, and reports
// what they hold.
func (s *Source) Inspect(ctx context.Context) (*Inspection, error) {
	keys, err := s.Files(ctx)
	if err != nil {
		return nil, err
	}
	in := &Inspection{Objects: len(keys), IntKeys: map[string]bool{}, KeyRange: map[string][2]int64{}}
	ranged := map[string]bool{}
	for _, f := range s.Fields {
		if f.Kind == Key {
			in.IntKeys[f.Name] = true
			ranged[f.Name] = true
			in.KeyRange[f.Name] = [2]int64{math.MaxInt64, math.MinInt64}
		}
	}
	for _, k := range keys {
		var probs []string
		switch s.formatOf(k) {
		case "parquet":
			pf, err := openParquet(ctx, s.Bucket, k)
			if err != nil {
				return nil, err
			}
			var binds []binding
			binds, probs = s.bindParquet(pf.file)
			if in.Rows >= 0 {
				in.Rows += pf.file.NumRows()
			}
			for name := range in.IntKeys {
				var bd *binding
				for i := range binds {
					if s.Fields[binds[i].field].Name == name {
						bd = &binds[i]
					}
				}
				in.IntKeys[name] = in.IntKeys[name] && bd != nil && bd.kind == Int
				if !in.IntKeys[name] {
					ranged[name] = false
					continue
				}
				r := in.KeyRange[name]
				for _, rg := range pf.file.RowGroups() {
					lo, hi, ok := intBounds(rg.ColumnChunks()[bd.column], bd.src)
					if !ok {
						if rg.NumRows() > 0 {
							ranged[name] = false
						}
						continue
					}
					r[0], r[1] = min(r[0], lo), max(r[1], hi)
				}
				in.KeyRange[name] = r
			}
			pf.Close()
		case "csv":
			probs, err = s.checkCSVHeader(ctx, k)
			if err != nil {
				return nil, err
			}
			for name := range in.IntKeys {
				in.IntKeys[name] = false
				ranged[name] = false
			}
			in.Rows = -1
		}
		if len(probs) > 0 {
			return nil, &SchemaError{Key: k, Problems: probs}
		}
	}
	for name, ok := range ranged {
		if r := in.KeyRange[name]; !ok || r[0] > r[1] {
			delete(in.KeyRange, name)
		}
	}
	return in, nil
}

// intBounds reads an integer column chunk's min and max statistics, as
// the integers src's values stand for (unsigned ones converted).
// Statistics that parquet-go cannot decode (corrupt: shorter than their
// type) count as none; they are only a hint. So do bounds that are out of
// order once converted (a writer that ordered unsigned values as signed).
func intBounds(c parquet.ColumnChunk, src source) (lo, hi int64, ok bool) {
	var err error
	defer guard(&err, func() { lo, hi, ok = 0, 0, false })
	b, is := c.(interface {
		Bounds() (min, max parquet.Value, ok bool)
	})
	if !is {
		return 0, 0, false
	}
	mn, mx, ok := b.Bounds()
	if !ok || mn.IsNull() || mx.IsNull() {
		return 0, 0, false
	}
	switch mn.Kind() {
	case parquet.Int64:
		lo, hi = mn.Int64(), mx.Int64()
	case parquet.Int32:
		lo, hi = src.int32(mn.Int32()), src.int32(mx.Int32())
	default:
		return 0, 0, false
	}
	if src.unsigned && (lo < 0 || hi < 0 || lo > hi) {
		return 0, 0, false
	}
	return lo, hi, true
}

// Scan reads every object in order and calls fn with each batch. The batch
// and its slices are reused after fn returns: fn must copy what it keeps.
func (s *Source) Scan(ctx context.Context, fn func(*Batch) error) error {
	keys, err := s.Files(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.ScanObject(ctx, k, fn); err != nil {
			return err
		}
	}
	return nil
}

// ScanObject reads one object of the table.
func (s *Source) ScanObject(ctx context.Context, key string, fn func(*Batch) error) error {
	batch := &Batch{}
	switch s.formatOf(key) {
	case "parquet":
		pf, err := s.openBound(ctx, key)
		if err != nil {
			return err
		}
		defer pf.Close()
		var first int64
		for gi, rg := range pf.file.RowGroups() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.readRowGroup(pf, key, gi, first, batch, fn); err != nil {
				return err
			}
			first += rg.NumRows()
		}
		return nil
	case "csv":
		return s.scanCSV(ctx, key, batch, fn)
	}
	return fmt.Errorf("%s: unknown format", key)
}

// openBound opens a Parquet object and binds the fields to its columns.
func (s *Source) openBound(ctx context.Context, key string) (*parquetFile, error) {
	pf, err := openParquet(ctx, s.Bucket, key)
	if err != nil {
		return nil, err
	}
	binds, probs := s.bindParquet(pf.file)
	if len(probs) > 0 {
		pf.Close()
		return nil, &SchemaError{Key: key, Problems: probs}
	}
	pf.binds = binds
	return pf, nil
}

// A Unit is a part of a table that can be read on its own, concurrently
// with the others: one Parquet row group, or a whole CSV object (which can
// only be read front to back).
type Unit struct {
	Key      string
	Index    int   // row group within the object; 0 for CSV
	FirstRow int64 // the unit's first row within its object
	Rows     int64 // rows in the unit; -1 when unknown before reading (CSV)
	pf       *parquetFile
}

// Release lets go of a unit that will not be read. ReadUnit releases the
// unit it reads.
func (u Unit) Release() {
	if u.pf != nil {
		u.pf.release()
	}
}

// Units calls fn with every unit of the table, in read order, opening each
// Parquet object's footer only when its units are reached, so that a table
// of many objects does not hold them all open. Every unit handed to fn must
// be given to ReadUnit or Release exactly once, even when Units returns an
// error; the object is closed when its last unit is.
func (s *Source) Units(ctx context.Context, fn func(Unit) error) error {
	keys, err := s.Files(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.ObjectUnits(ctx, k, fn); err != nil {
			return err
		}
	}
	return nil
}

// ObjectUnits is Units for the one object key of the table (listed or
// not), for a caller that reads a single file.
func (s *Source) ObjectUnits(ctx context.Context, k string, fn func(Unit) error) error {
	switch s.formatOf(k) {
	case "csv":
		return fn(Unit{Key: k, Rows: -1})
	case "parquet":
		pf, err := s.openBound(ctx, k)
		if err != nil {
			return err
		}
		rgs := pf.file.RowGroups()
		// One reference for this loop, so the file outlives units
		// that are read before the loop is done.
		pf.refs.Store(int32(len(rgs)) + 1)
		var first int64
		for gi, rg := range rgs {
			u := Unit{Key: k, Index: gi, FirstRow: first, Rows: rg.NumRows(), pf: pf}
			first += rg.NumRows()
			if err := fn(u); err != nil {
				// The units not handed out are released here.
				for range len(rgs) - gi - 1 {
					pf.release()
				}
				pf.release()
				return err
			}
		}
		pf.release()
		return nil
	}
	return fmt.Errorf("%s: unknown format", k)
}

// ReadUnit decodes unit u into batch, which it reuses, calling fn with each
// batch of at most BatchRows rows. Like Scan's, the batch is overwritten
// after fn returns. The unit is released.
func (s *Source) ReadUnit(ctx context.Context, u Unit, batch *Batch, fn func(*Batch) error) error {
	if u.pf == nil {
		return s.scanCSV(ctx, u.Key, batch, fn)
	}
	defer u.pf.release()
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.readRowGroup(u.pf, u.Key, u.Index, u.FirstRow, batch, fn)
}
