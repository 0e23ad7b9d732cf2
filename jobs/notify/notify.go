// Package notify sends the daemon's alerts to webhooks: a generic JSON
// event, or a Slack-compatible {"text": …} message.
//
// A webhook's URL comes from the environment (config: notify[].url_env)
// and is a secret: it never appears in logs, the ledger or any error this
// package returns or logs. A delivery is retried with exponential backoff;
// one that still fails is logged and dropped. Notifications never fail or
// delay a run: Send returns at once and delivers in the background.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/internal/ctxsleep"
	"github.com/strata-oss/strata/pipeline/config"
)

// Event is one thing that happened, as the JSON format sends it.
type Event struct {
	// Event is the kind: failed, locked, stale, drift or missed
	// (config.NotifyEvents).
	Event string    `json:"event"`
	Time  time.Time `json:"time"`
	// Summary is one human-readable line; Slack messages are this.
	Summary  string   `json:"summary"`
	AsOf     string   `json:"as_of,omitempty"`
	Dates    []string `json:"dates,omitempty"` // missed: the dates not run
	RunID    string   `json:"run_id,omitempty"`
	Trigger  string   `json:"trigger,omitempty"`
	ExitCode int      `json:"exit_code,omitempty"`
	Error    string   `json:"error,omitempty"`
	Holder   string   `json:"holder,omitempty"` // locked: who holds the date
	Host     string   `json:"host,omitempty"`   // the daemon that sends it
}

// Options tune delivery; the zero value is the defaults.
type Options struct {
	Logger zerolog.Logger
	// Client sends the requests; default one with a 10s timeout.
	Client *http.Client
	// Attempts per delivery; default 5.
	Attempts int
	// Backoff before the second attempt, doubled before each next one;
	// default 1s.
	Backoff time.Duration
	// Sleep waits between attempts; default a timer. Tests pass one that
	// returns at once (or advances a fake clock).
	Sleep func(ctx context.Context, d time.Duration) error
	// Lookup reads the environment; default os.LookupEnv.
	Lookup func(string) (string, bool)
	// Host names the sender in events.
	Host string
}

type hook struct {
	name   string // the variable's name: what logs say instead of the URL
	url    string
	format string
	on     []string
}

// Notifier delivers events to the configured webhooks.
type Notifier struct {
	hooks []hook
	opt   Options
	log   zerolog.Logger
	wg    sync.WaitGroup
	ctx   context.Context
	stop  context.CancelFunc
}

// New returns a Notifier for the webhooks of cfg. A webhook whose variable
// is unset or empty is left out with a warning (its name, never a URL).
func New(webhooks []config.Notify, opt Options) *Notifier {
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opt.Attempts <= 0 {
		opt.Attempts = 5
	}
	if opt.Backoff <= 0 {
		opt.Backoff = time.Second
	}
	if opt.Sleep == nil {
		opt.Sleep = ctxsleep.Sleep
	}
	if opt.Lookup == nil {
		opt.Lookup = lookupEnv
	}
	n := &Notifier{opt: opt, log: opt.Logger}
	n.ctx, n.stop = context.WithCancel(context.Background())
	for _, w := range webhooks {
		u, ok := opt.Lookup(w.URLEnv)
		if !ok || u == "" {
			n.log.Warn().Str("url_env", w.URLEnv).Msg("notify: the webhook's URL variable is unset or empty; its notifications are not sent")
			continue
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			n.log.Warn().Str("url_env", w.URLEnv).Msg("notify: the webhook's URL variable does not hold an http(s) URL; its notifications are not sent")
			continue
		}
		n.hooks = append(n.hooks, hook{name: w.URLEnv, url: u, format: w.FormatOr(), on: w.Events()})
	}
	return n
}

// Wants reports whether some webhook takes events of kind.
func (n *Notifier) Wants(kind string) bool {
	if n == nil {
		return false
	}
	for _, h := range n.hooks {
		if slices.Contains(h.on, kind) {
			return true
		}
	}
	return false
}

// Send delivers ev, in the background, to every webhook that takes its
// kind.
func (n *Notifier) Send(ev Event) {
	if n == nil {
		return
	}
	if ev.Host == "" {
		ev.Host = n.opt.Host
	}
	for _, h := range n.hooks {
		if !slices.Contains(h.on, ev.Event) {
			continue
		}
		body, err := encode(h.format, ev)
		if err != nil {
			n.log.Error().Err(err).Str("event", ev.Event).Msg("notify: could not encode the event")
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.deliver(h, ev, body)
		}()
	}
}

// Close waits for deliveries under way, at most until ctx ends; then it
// abandons them.
func (n *Notifier) Close(ctx context.Context) {
	if n == nil {
		return
	}
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		n.stop()
		<-done
	}
}

func encode(format string, ev Event) ([]byte, error) {
	var v any = ev
	if format == "slack" {
		v = map[string]string{"text": ev.Summary}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return b.Bytes(), err
}

func (n *Notifier) deliver(h hook, ev Event, body []byte) {
	log := n.log.With().Str("url_env", h.name).Str("event", ev.Event).Str("as_of", ev.AsOf).Logger()
	var err error
	for attempt := 1; attempt <= n.opt.Attempts; attempt++ {
		if attempt > 1 {
			wait := n.opt.Backoff << (attempt - 2)
			if serr := n.opt.Sleep(n.ctx, wait); serr != nil {
				break
			}
		}
		var permanent bool
		if permanent, err = n.post(h, body); err == nil {
			log.Info().Int("attempt", attempt).Msg("notification sent")
			return
		}
		if permanent {
			break
		}
		log.Warn().Err(err).Int("attempt", attempt).Msg("notification failed; will retry")
	}
	log.Error().Err(err).Msg("notification not delivered (the run is not affected)")
}

// post sends body once. Its error never contains the URL; permanent says
// trying again cannot help (a 4xx other than 408 and 429).
func (n *Notifier) post(h hook, body []byte) (permanent bool, err error) {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return true, errors.New("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "strata-notify")
	resp, err := n.opt.Client.Do(req)
	if err != nil {
		// *url.Error names the URL; its cause does not.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return false, fmt.Errorf("POST to the webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("the webhook answered %s", resp.Status)
	c := resp.StatusCode
	return c/100 == 4 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests, err
}

func lookupEnv(name string) (string, bool) { return os.LookupEnv(name) }
