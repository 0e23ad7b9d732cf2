package output

import (
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"

	"github.com/strata-oss/strata/internal/strcol"
	"github.com/strata-oss/strata/pipeline/channel"
	"github.com/strata-oss/strata/pipeline/publish"
)

// writeChannelFiles writes part `part` of audience a's channel files, one
// per format it lists of google_ads, meta and email, each a table of its
// own: audiences/name=<name>/channel=<format>/dt=D/part-…-<attempt>.csv.
// Not beside the audience table's parts: a reader globbing that
// partition's *.csv would read files of other columns, and each file is
// its own import, with its own row count. Written through the publisher,
// the manifest names them and the commit publishes them with everything
// else, or not at all.
//
// rows are the audience's rows of the part (in the segments table's
// order), rawIDs the customers' ids as read: the control group's draw
// (config.AudienceCampaign.InControl) is of the raw id, whatever is published. A control
// customer is handed to the writer marked Control, so the file's summary
// counts them (control_group) while the writer leaves them out.
func writeChannelFiles(ctx context.Context, pub *publish.Publisher, part int, a compiledAudience, rows []int,
	ct *contactTable, rawIDs strcol.Column) ([]channel.Summary, error) {
	var out []channel.Summary
	for _, name := range a.cfg.FormatsOr() {
		f, err := channel.ParseFormat(name)
		if err != nil {
			continue // parquet, csv: the audience table's own parts
		}
		// A dry pass counts the rows for the manifest, which takes them
		// before the bytes; the writer is deterministic, so the real pass
		// writes exactly those.
		sum, err := channel.WriteAll(ctx, io.Discard, f, contactsOf(a, rows, ct, rawIDs))
		if err != nil {
			return nil, fmt.Errorf("audience %s: count %s rows: %w", a.cfg.Name, name, err)
		}
		write := func(w io.Writer) error {
			_, err := channel.WriteAll(ctx, w, f, contactsOf(a, rows, ct, rawIDs))
			return err
		}
		if err := pub.WritePart(ctx, channelTable(a.cfg.Name, f), part, "csv", int64(sum.Written), write); err != nil {
			return nil, fmt.Errorf("audience %s: write %s file: %w", a.cfg.Name, name, err)
		}
		out = append(out, sum)
	}
	return out, nil
}

// channelTable is the table of audience's channel file of format f.
func channelTable(audience string, f channel.Format) string {
	return "audiences/name=" + audience + "/channel=" + string(f)
}

// contactsOf yields the channel rows of an audience's rows.
func contactsOf(a compiledAudience, rows []int, ct *contactTable, rawIDs strcol.Column) iter.Seq[channel.Contact] {
	return func(yield func(channel.Contact) bool) {
		for _, r := range rows {
			c := ct.contact(r)
			c.Control = a.cfg.InControl(rawIDs.At(r))
			if !yield(c) {
				return
			}
		}
	}
}

// mergeChannels adds the summaries of another part of the same audience
// (the same formats, in the same order) to sums.
func mergeChannels(sums, o []channel.Summary) error {
	if len(sums) != len(o) {
		return fmt.Errorf("channel files differ between shards")
	}
	for i := range sums {
		s, p := &sums[i], o[i]
		if s.Format != p.Format {
			return fmt.Errorf("channel files differ between shards: %s and %s", s.Format, p.Format)
		}
		s.Rows += p.Rows
		s.Written += p.Written
		s.Skipped, s.Invalid = addCounts(s.Skipped, p.Skipped), addCounts(s.Invalid, p.Invalid)
	}
	return nil
}

func addCounts(a, b map[string]int) map[string]int {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]int{}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		out[k] += b[k]
	}
	return out
}
