package s3test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is what a FaultProxy does with one request.
type Fault struct {
	// Status, when non-zero, answers the request with this HTTP status
	// and an S3 error body instead of forwarding it (500 InternalError,
	// 503 SlowDown, …).
	Status int
	// Delay holds the request this long before handling it.
	Delay time.Duration
	// Drop closes the client's connection without an answer, as a server
	// that died mid-request would.
	Drop bool
	// Before runs before the request is handled; a test uses it to stop
	// the server, or to block until the process under test is killed.
	Before func()
	// After runs once the server has handled the forwarded request and
	// before its response goes back to the client: the request has taken
	// effect but the client does not know it yet. A test uses it to kill
	// the process under test at exactly that point, or to learn that a
	// held request has landed. It is ignored when the request is not
	// forwarded (Drop, Status).
	After func()
	// DropResponse forwards the request, then closes the client's
	// connection without its response: the request takes effect and the
	// client sees a broken connection (a response lost on the way back).
	DropResponse bool
}

// Rule decides a request's fault; n counts the proxy's requests from 1.
// The zero Fault forwards the request untouched.
type Rule func(r *http.Request, n int) Fault

// FaultProxy is an HTTP proxy in front of an S3 server that misbehaves as
// its rule says: the storage layer's retries, timeouts and the publish
// protocol are then tested against a real server behind a network that
// fails. The Host header is kept, so request signatures still verify.
type FaultProxy struct {
	URL string

	mu    sync.Mutex
	rule  Rule
	n     int
	log   []string
	proxy *httputil.ReverseProxy
}

// NewFaultProxy starts a proxy to target (a server's Endpoint) for the
// rest of t; it forwards everything until SetRule says otherwise.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("s3test: proxy target %q: %v", target, err)
	}
	p := &FaultProxy{proxy: httputil.NewSingleHostReverseProxy(u)}
	// A backend that is down looks, to the client, like a connection
	// that breaks: not like a proxy's 502.
	p.proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { drop(w) }
	hs := httptest.NewServer(p)
	p.URL = hs.URL
	t.Cleanup(hs.Close)
	return p
}

// SetRule replaces the proxy's rule (nil: forward everything) and resets
// its request count.
func (p *FaultProxy) SetRule(r Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule, p.n = r, 0
}

// Log returns "METHOD path -> what happened" for each request since the
// proxy started.
func (p *FaultProxy) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.n++
	n, rule := p.n, p.rule
	p.mu.Unlock()
	var f Fault
	if rule != nil {
		f = rule(r, n)
	}
	if f.Before != nil {
		f.Before()
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	what := "forwarded"
	switch {
	case f.Drop:
		what = "dropped"
		drop(w)
	case f.Status != 0:
		what = fmt.Sprint(f.Status)
		code := map[int]string{500: "InternalError", 503: "SlowDown"}[f.Status]
		if code == "" {
			code = "InternalError"
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the fault proxy</Message></Error>`, code)
	case f.After != nil || f.DropResponse:
		what = p.forwardHeld(w, r, f)
	default:
		p.proxy.ServeHTTP(w, r)
	}
	p.mu.Lock()
	p.log = append(p.log, r.Method+" "+r.URL.Path+" -> "+what)
	p.mu.Unlock()
}

// forwardHeld forwards r with its response kept back until f.After has
// run, then returns the response, or drops it for f.DropResponse.
func (p *FaultProxy) forwardHeld(w http.ResponseWriter, r *http.Request, f Fault) string {
	rec := httptest.NewRecorder()
	p.proxy.ServeHTTP(rec, r)
	if f.After != nil {
		f.After()
	}
	if f.DropResponse {
		drop(w)
		return fmt.Sprintf("forwarded (%d), response dropped", rec.Code)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	return "forwarded, response held"
}

// drop closes the connection under w without writing a response.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	// No hijacking (HTTP/2): the closest thing is a bare 502.
	w.WriteHeader(http.StatusBadGateway)
}

// IsPut reports whether r uploads an object (or a part of one) whose key
// contains sub.
func IsPut(r *http.Request, sub string) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, sub)
}

// IsGet reports whether r downloads an object whose key contains sub.
func IsGet(r *http.Request, sub string) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, sub) && r.URL.Query().Get("list-type") == ""
}
