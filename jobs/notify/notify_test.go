package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/strata-oss/strata/pipeline/config"
)

// receiver is a webhook: it answers the first fail requests with status,
// then 200, and hands every body to the test.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	fail   int
	status int
	bodies chan []byte
}

func newReceiver(t *testing.T, fail, status int) *receiver {
	r := &receiver{fail: fail, status: status, bodies: make(chan []byte, 16)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		fail := r.fail > 0
		if fail {
			r.fail--
		}
		r.mu.Unlock()
		if fail {
			w.WriteHeader(r.status)
			return
		}
		r.bodies <- body
	}))
	t.Cleanup(r.Close)
	return r
}

// waits records the backoffs asked for, without waiting.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFormatsAndFilter(t *testing.T) {
	js, slack := newReceiver(t, 0, 0), newReceiver(t, 0, 0)
	n := New([]config.Notify{
		{URLEnv: "HOOK_JSON"},
		{URLEnv: "HOOK_SLACK", Format: "slack", On: []string{"missed"}},
	}, Options{Logger: zerolog.Nop(), Lookup: env(map[string]string{"HOOK_JSON": js.URL, "HOOK_SLACK": slack.URL}), Host: "h1"})
	n.Send(Event{Event: "failed", AsOf: "2025-06-30", Summary: "strata: run of 2025-06-30 failed <exit 1>", ExitCode: 1, Error: "x <y>"})
	n.Send(Event{Event: "missed", Summary: "strata: 2 firings missed", Dates: []string{"2025-06-28", "2025-06-29"}})
	n.Close(context.Background())
	var got []Event
	for range 2 {
		var ev Event
		body := <-js.bodies
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(body, []byte(`\u003c`)) {
			t.Errorf("HTML-escaped JSON: %s", body)
		}
		got = append(got, ev)
	}
	if len(js.bodies) != 0 {
		t.Error("more than two JSON deliveries")
	}
	kinds := got[0].Event + "," + got[1].Event
	if kinds != "failed,missed" && kinds != "missed,failed" {
		t.Errorf("JSON events %s", kinds)
	}
	for _, ev := range got {
		if ev.Host != "h1" || ev.Summary == "" {
			t.Errorf("event %+v", ev)
		}
	}
	var msg map[string]any
	if err := json.Unmarshal(<-slack.bodies, &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg) != 1 || msg["text"] != "strata: 2 firings missed" {
		t.Errorf("slack message %v", msg)
	}
	if len(slack.bodies) != 0 {
		t.Error("the slack hook got an event it does not take")
	}
	if !n.Wants("failed") || !n.Wants("missed") || n.Wants("nothing") {
		t.Error("Wants")
	}
}

// TestRetryWithBackoff: a webhook that fails twice (503) gets the event on
// the third attempt, after waits of 1s and 2s.
func TestRetryWithBackoff(t *testing.T) {
	r := newReceiver(t, 2, http.StatusServiceUnavailable)
	w := &waits{}
	n := New([]config.Notify{{URLEnv: "H"}}, Options{Logger: zerolog.Nop(), Lookup: env(map[string]string{"H": r.URL}),
		Backoff: time.Second, Sleep: w.sleep})
	n.Send(Event{Event: "failed", Summary: "s"})
	n.Close(context.Background())
	if len(r.bodies) != 1 {
		t.Fatalf("%d deliveries, want 1", len(r.bodies))
	}
	if len(w.d) != 2 || w.d[0] != time.Second || w.d[1] != 2*time.Second {
		t.Errorf("waits %v, want [1s 2s]", w.d)
	}
}

// TestFailureIsLoggedWithoutURL: a webhook that cannot be reached, or
// refuses (4xx, not retried), is logged by its variable's name; the URL,
// a secret, appears nowhere.
func TestFailureIsLoggedWithoutURL(t *testing.T) {
	refuse := newReceiver(t, 100, http.StatusForbidden)
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL + "/services/T000/B000/SECRETPART"
	gone.Close()
	var logs bytes.Buffer
	w := &waits{}
	n := New([]config.Notify{{URLEnv: "GONE"}, {URLEnv: "REFUSE"}, {URLEnv: "UNSET"}},
		Options{Logger: zerolog.New(zerolog.SyncWriter(&logs)), Lookup: env(map[string]string{"GONE": goneURL, "REFUSE": refuse.URL + "/SECRETPART"}),
			Attempts: 3, Sleep: w.sleep})
	n.Send(Event{Event: "failed", Summary: "s"})
	n.Close(context.Background())
	out := logs.String()
	if strings.Contains(out, "SECRETPART") || strings.Contains(out, strings.TrimPrefix(goneURL, "http://")) {
		t.Errorf("a URL was logged:\n%s", out)
	}
	if !strings.Contains(out, `"url_env":"GONE"`) || !strings.Contains(out, `"url_env":"REFUSE"`) ||
		!strings.Contains(out, "notification not delivered") || !strings.Contains(out, `"url_env":"UNSET"`) {
		t.Errorf("logs:\n%s", out)
	}
	if len(w.d) != 2 { // GONE retried twice; REFUSE (403) not at all
		t.Errorf("waits %v, want 2 (the unreachable hook's)", w.d)
	}
}
