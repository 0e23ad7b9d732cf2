// Package leaktest finds strings that must not be in what a run leaves
// behind — secrets, suppressed customer ids — for tests. A raw byte scan
// is not enough: Parquet pages are compressed, so a leaked string would
// not show in the bytes. Objects are therefore rendered as every reader
// could see them: the raw bytes, plus, for Parquet, the schema, the
// key-value metadata and every value of every row.
package leaktest

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Render returns the text of object key holding data.
func Render(key string, data []byte) (string, error) {
	if !strings.HasSuffix(key, ".parquet") {
		return string(data), nil
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	var b strings.Builder
	b.Write(data)
	b.WriteString("\n")
	b.WriteString(f.Schema().String())
	for _, kv := range f.Metadata().KeyValueMetadata {
		fmt.Fprintf(&b, "\n%s=%s", kv.Key, kv.Value)
	}
	rows := make([]parquet.Row, 256)
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(rows)
			for _, row := range rows[:n] {
				b.WriteString("\n")
				for _, v := range row {
					b.WriteString(v.String())
					b.WriteString("\t")
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rr.Close()
				return "", fmt.Errorf("%s: %w", key, err)
			}
		}
		if err := rr.Close(); err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
	}
	return b.String(), nil
}

// Find returns "<key>: <needle>" for every needle found in a rendering of
// one of objects (key → bytes), sorted, or an error if one cannot be
// rendered. Empty needles are ignored.
func Find(objects map[string][]byte, needles ...string) ([]string, error) {
	var found []string
	for key, data := range objects {
		text, err := Render(key, data)
		if err != nil {
			return nil, err
		}
		for _, n := range needles {
			if n != "" && strings.Contains(text, n) {
				found = append(found, key+": "+n)
			}
		}
	}
	sort.Strings(found)
	return found, nil
}
