package tables

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

var epochDay = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// DayDate formats a day number (days since 1970-01-01, a DATE column's
// value) as YYYY-MM-DD.
func DayDate(day int32) string { return epochDay.AddDate(0, 0, int(day)).Format(time.DateOnly) }

// WriteCSV writes cols as RFC 4180 CSV with a header: numbers in their
// shortest exact form, dates as YYYY-MM-DD, instants as RFC 3339 UTC,
// nulls as empty fields.
func WriteCSV(w io.Writer, cols []OutColumn) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	rec := make([]string, len(cols))
	for i := range cols {
		rec[i] = cols[i].Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	n := 0
	if len(cols) > 0 {
		n = cols[0].Len()
	}
	for r := range n {
		for i := range cols {
			c := &cols[i]
			if c.Null != nil && c.Null[r] {
				rec[i] = ""
				continue
			}
			switch c.Type {
			case OutString:
				rec[i] = c.StrAt(r)
			case OutInt32:
				rec[i] = strconv.FormatInt(int64(c.I32[r]), 10)
			case OutDate:
				rec[i] = DayDate(c.I32[r])
			case OutInt64:
				rec[i] = strconv.FormatInt(c.I64[r], 10)
			case OutTimestamp:
				rec[i] = time.UnixMicro(c.I64[r]).UTC().Format(time.RFC3339Nano)
			case OutDouble:
				rec[i] = strconv.FormatFloat(c.F64[r], 'g', -1, 64)
			case OutBool:
				rec[i] = strconv.FormatBool(c.B[r])
			default:
				return fmt.Errorf("csv: column %s: unsupported type %d", c.Name, c.Type)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
