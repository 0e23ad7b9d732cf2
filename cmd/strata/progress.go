package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/strata-oss/strata/jobs"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// progressBar draws a backfill's progress on the last line of a terminal.
// It is also the log writer meanwhile: a log line clears the bar, prints,
// and the bar is drawn again below it.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	line  string
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w, start: time.Now()} }

// Write prints a log line above the bar.
func (b *progressBar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprint(b.w, "\r\x1b[K")
	n, err := b.w.Write(p)
	if b.line != "" {
		fmt.Fprint(b.w, b.line)
	}
	return n, err
}

func (b *progressBar) update(p jobs.BackfillProgress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.line = renderBar(p, time.Since(b.start), 30)
	fmt.Fprint(b.w, "\r\x1b[K"+b.line)
}

// finish leaves the last state of the bar on its own line.
func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.line != "" {
		fmt.Fprintln(b.w)
	}
	b.line = ""
}

// renderBar is one line: bar, counts, the last date and an estimate of the
// time left from the pace so far.
func renderBar(p jobs.BackfillProgress, elapsed time.Duration, width int) string {
	filled := 0
	if p.Total > 0 {
		filled = width * p.Done / p.Total
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s%s] %d/%d dates · %d published · %d skipped", strings.Repeat("█", filled), strings.Repeat("░", width-filled),
		p.Done, p.Total, p.Succeeded, p.Skipped)
	if p.Locked > 0 {
		fmt.Fprintf(&b, " · %d locked", p.Locked)
	}
	if p.Failed > 0 {
		fmt.Fprintf(&b, " · %d failed", p.Failed)
	}
	if p.Last != nil {
		fmt.Fprintf(&b, " · %s %s", p.Last.AsOf, p.Last.Status)
	}
	if p.Done > 0 && p.Done < p.Total {
		left := time.Duration(float64(elapsed) / float64(p.Done) * float64(p.Total-p.Done))
		fmt.Fprintf(&b, " · ~%s left", left.Round(time.Second))
	}
	return b.String()
}
