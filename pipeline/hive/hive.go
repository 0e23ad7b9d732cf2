// Package hive recognises Hive-style date partitions in object keys
// (orders/dt=2025-06-30/part-0.parquet) and prunes, without reading them,
// the partitions a run for an as-of date cannot use.
//
// Pruning is a listing filter: a pruned object is never opened, so it costs
// nothing and does not enter the run's input fingerprints (a partition
// written tomorrow does not change today's attempt). It assumes the partition
// date is the date of the records inside (an event date, the common layout);
// records are still cut at the as-of instant row by row, so a partition
// holding some later records is merely read, never trusted.
package hive

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// Keys are the partition column names recognised as dates.
var Keys = []string{"dt", "date", "ds"}

// Date returns the partition date of key, as YYYY-MM-DD, from the last
// path segment of the form dt=YYYY-MM-DD or dt=YYYYMMDD (or date=, ds=).
// ok is false when key has no such segment or its value is not a date.
func Date(key string) (date string, ok bool) {
	segs := strings.Split(key, "/")
	for i := len(segs) - 2; i >= 0; i-- { // the last segment is the file name
		name, val, found := strings.Cut(segs[i], "=")
		if !found || !isKey(name) {
			continue
		}
		for _, layout := range []string{"2006-01-02", "20060102"} {
			if t, err := time.Parse(layout, val); err == nil {
				return t.Format("2006-01-02"), true
			}
		}
		return "", false
	}
	return "", false
}

func isKey(name string) bool {
	for _, k := range Keys {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// Window is a bucket whose listings leave out objects in date partitions
// outside [From, To] (inclusive; an empty bound is open). Objects that are
// not in a date partition are always listed. All other calls pass through.
type Window struct {
	objstore.Bucket
	From, To string // YYYY-MM-DD
	pruned   atomic.Int64
}

// NewWindow returns b restricted to partitions dated from..to.
func NewWindow(b objstore.Bucket, from, to string) *Window {
	return &Window{Bucket: b, From: from, To: to}
}

// Pruned is the number of objects left out of listings so far.
func (w *Window) Pruned() int64 { return w.pruned.Load() }

// Iter lists the objects under prefix that lie inside the window.
func (w *Window) Iter(ctx context.Context, prefix string, fn func(key string) error) error {
	return w.Bucket.Iter(ctx, prefix, func(key string) error {
		if d, ok := Date(key); ok && ((w.From != "" && d < w.From) || (w.To != "" && d > w.To)) {
			w.pruned.Add(1)
			return nil
		}
		return fn(key)
	})
}
