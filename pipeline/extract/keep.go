package extract

import (
	"math"
	"strconv"
	"strings"

	"github.com/strata-oss/strata/pipeline/tables"
)

// Keep selects the customers a run reads: one part of a hash partition of
// the customer ids (a shard of a sharded run), or a seeded uniform sample
// of them (what a sampled fit learns from). Rows of the other customers
// are dropped as they are read, before any rule, and are not counted at
// all: summed over the parts of a partition, every count is the count of
// an unsharded run.
//
// Membership is a fixed function of the id's text (integer ids by their
// decimal form), so every process of a run, and every run, agrees on it.
type Keep struct {
	salt        uint64
	parts, part uint64 // a partition: hash % parts == part
	below       uint64 // a sample (parts == 0): hash < below
	all         bool   // a sample of everyone
	// Rows without a usable customer id belong to the first part of a
	// partition, so that they are counted and quarantined once; a sample
	// has no use for them.
	nullOwner bool
}

// partitionSalt and sampleSalt keep the partition and the sample
// independent of each other and of the engine's own sharding.
const (
	partitionSalt = 0x5eed_0f_5a4d5
	sampleSalt    = 0x5a3_91e_f17
)

// Part keeps the customers of part i of n.
func Part(i, n int) *Keep {
	return &Keep{salt: partitionSalt, parts: uint64(n), part: uint64(i), nullOwner: i == 0}
}

// Sample keeps a uniform sample of the customers, each with probability
// fraction, chosen by seed; a fraction of 1 keeps everyone.
func Sample(fraction float64, seed uint64) *Keep {
	k := &Keep{salt: sampleSalt ^ seed*0x9e3779b97f4a7c15}
	switch {
	case fraction >= 1:
		k.all = true
	case fraction > 0:
		k.below = uint64(math.Ldexp(fraction, 64))
	}
	return k
}

// ID reports whether the customer with this id is kept.
func (k *Keep) ID(id string) bool {
	if k.all {
		return true
	}
	h := HashString(id, k.salt)
	if k.parts > 0 {
		return h%k.parts == k.part
	}
	return h < k.below
}

// Int is ID for an integer id.
func (k *Keep) Int(v int64) bool {
	if k.all {
		return true
	}
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], v, 10)
	return k.ID(string(b))
}

// cell reports whether row i, whose customer id is in col, is kept.
func (k *Keep) cell(col *tables.Column, i int, norm IDNorm) bool {
	switch {
	case col.IsNull(i):
		return k.nullOwner
	case col.Kind == tables.Int:
		return k.Int(col.I[i])
	case strings.TrimSpace(col.Str[i]) == "":
		return k.nullOwner
	}
	if norm != (IDNorm{}) {
		return k.ID(norm.apply(col.Str[i]))
	}
	return k.ID(col.Str[i])
}
