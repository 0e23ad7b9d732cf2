package config

import (
	"fmt"
	"slices"
	"strings"
)

// Notify is one webhook the daemon (`strata serve`) calls when something
// needs a human:
//
//	notify:
//	  - url_env: STRATA_SLACK_WEBHOOK   # the URL is read from this variable
//	    format: slack                   # json (default) or slack ({"text": …})
//	    on: [failed, locked, stale, missed]   # default: every event
//
// The URL itself never appears in a config file, a log line, the ledger or
// an error: it is a secret (Slack's webhook URLs are credentials).
type Notify struct {
	// URLEnv names the environment variable holding the webhook's URL.
	URLEnv string `yaml:"url_env"`
	// Format is json (an event object) or slack (a {"text": …} message,
	// also understood by Mattermost, Rocket.Chat, Discord's /slack
	// endpoint, Teams' incoming webhooks); default json.
	Format string `yaml:"format"`
	// On lists the events sent to this webhook; default all of
	// NotifyEvents.
	On []string `yaml:"on"`
}

// The events a webhook can be sent.
const (
	// EventFailed: a run failed (after its retries).
	EventFailed = "failed"
	// EventLocked: scheduled runs were skipped because another process
	// held their date, at LockedFirings consecutive firings.
	EventLocked = "locked"
	// EventStale: a run failed because its inputs are stale (the
	// data-quality gate's staleness check).
	EventStale = "stale"
	// EventDrift: the published segments drifted (sent by the drift
	// check, when there is one).
	EventDrift = "drift"
	// EventMissed: a firing of the schedule did not run: the previous
	// scheduled run was still going, or the daemon was down and the date
	// is beyond schedule.catch_up_days.
	EventMissed = "missed"
)

// NotifyEvents are every event, in the order the docs list them.
var NotifyEvents = []string{EventFailed, EventLocked, EventStale, EventDrift, EventMissed}

// NotifyFormats are the values notify[].format takes; the first is the
// default.
var NotifyFormats = []string{"json", "slack"}

// LockedFirings is how many consecutive scheduled firings must find their
// date locked by another process before a "locked" event is sent: one is
// a race another daemon won, normal with two replicas; two in a row means
// the other holder is stuck, or crashed holding a date.
const LockedFirings = 2

// Events returns On with its default.
func (n Notify) Events() []string {
	if len(n.On) == 0 {
		return NotifyEvents
	}
	return n.On
}

// FormatOr returns Format with its default.
func (n Notify) FormatOr() string { return cmpOr(n.Format, NotifyFormats[0]) }

func (c *Config) validateNotify(add func(path, msg string, args ...any)) {
	for i, n := range c.Notify {
		p := fmt.Sprintf("notify[%d]", i)
		switch {
		case n.URLEnv == "":
			add(p+".url_env", "is required: the name of the environment variable holding the webhook's URL (the URL never goes in the config)")
		case !envName.MatchString(n.URLEnv):
			add(p+".url_env", "must be the name of an environment variable (letters, digits, _), got %q", n.URLEnv)
		}
		if n.Format != "" && !slices.Contains(NotifyFormats, n.Format) {
			add(p+".format", "must be one of %s, got %q", strings.Join(NotifyFormats, ", "), n.Format)
		}
		for j, e := range n.On {
			if !slices.Contains(NotifyEvents, e) {
				add(fmt.Sprintf("%s.on[%d]", p, j), "unknown event %q: want one of %s", e, strings.Join(NotifyEvents, ", "))
			}
		}
	}
}
