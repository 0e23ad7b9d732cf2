// Package holdout assigns customers to a campaign's control group and
// checks that the groups are balanced.
//
// A customer's draw is a keyed hash of the campaign's name and the
// customer's id, read as a number uniform in [0, 1):
//
//	m = "strata/holdout/v1|" + len(campaign) + "|" + campaign + "|" + customer_id
//	u = (first 8 bytes of SHA-256(m), big-endian) >> 11 / 2^53
//
// where len is the campaign name's length in bytes, in decimal (so that no
// two (campaign, id) pairs spell the same message). The customer is in the
// control group iff u < share. The draw depends on nothing else: not the
// run date, not the customer's segment, not the other customers. So a
// customer keeps their group for the life of the campaign, every run of
// every day assigns the same groups, and the generator (pipeline/synth)
// can plant a campaign whose groups a run then publishes unchanged.
//
// The trade-off is balance. Stratifying by, say, rfm_segment could mean
// exact balance: a share of each stratum's customers, drawn afresh. But
// strata change from run to run — a customer who was "At Risk" when the
// campaign started is a "Champion" a month later — and exact per-stratum
// quotas would then move customers between treatment and control, which
// breaks the comparison the holdout exists for. A fixed threshold on a
// hash instead gives balance in expectation within every stratum, whatever
// the strata are or become: each stratum's control count is Binomial(n,
// share), off by about sqrt(n·share·(1-share)). Balance reports how far
// each stratum is off, and whether that is more than chance would give.
//
// SHA-256 (FIPS 180-4) makes the draws of different campaigns independent
// for all practical purposes: control in one campaign says nothing about
// control in another. The hash is of the customer id as read (after the
// input's id normalisation, before any pseudonymisation), so rotating the
// pseudonym key does not move anyone.
package holdout

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Groups a customer of a campaign's audience is in.
const (
	Treatment = "treatment"
	Control   = "control"
)

// Draw returns the customer's uniform draw in [0, 1) for the campaign.
func Draw(campaign, customerID string) float64 {
	h := sha256.New()
	// Writes to a hash.Hash never fail.
	h.Write([]byte("strata/holdout/v1|"))
	h.Write(strconv.AppendInt(nil, int64(len(campaign)), 10))
	h.Write([]byte{'|'})
	h.Write([]byte(campaign))
	h.Write([]byte{'|'})
	h.Write([]byte(customerID))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	// The top 53 bits: exactly representable, so u < 1 always.
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// Assigner assigns the customers of one campaign.
type Assigner struct {
	campaign string
	share    float64
}

// NewAssigner returns the assigner of a campaign with the given control
// share, which must be in [0, 1).
func NewAssigner(campaign string, share float64) (Assigner, error) {
	if campaign == "" {
		return Assigner{}, fmt.Errorf("holdout: a campaign name is required")
	}
	if !(share >= 0 && share < 1) {
		return Assigner{}, fmt.Errorf("holdout: campaign %q: control share must be in [0, 1), got %v", campaign, share)
	}
	return Assigner{campaign: campaign, share: share}, nil
}

// InControl reports whether the customer is in the campaign's control
// group.
func (a Assigner) InControl(customerID string) bool {
	return Draw(a.campaign, customerID) < a.share
}

// Group returns Control or Treatment.
func (a Assigner) Group(customerID string) string {
	if a.InControl(customerID) {
		return Control
	}
	return Treatment
}

// Campaign and Share return what the assigner was made with.
func (a Assigner) Campaign() string { return a.campaign }
func (a Assigner) Share() float64   { return a.share }
