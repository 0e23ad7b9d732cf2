// Package s3test runs S3 servers for tests: a real one (versitygw, a
// standalone S3 gateway over a local directory) for fidelity, and gofakes3
// in-process for speed. Both are reached through the same Server type.
//
// versitygw is found via $STRATA_VERSITYGW, then PATH, then
// $(go env GOBIN) / $(go env GOPATH)/bin; if it is nowhere, the pinned version
// is go-installed once (under a lock, as several test binaries may start at
// the same time). A harness that cannot produce a server fails the test:
// silently skipping would let the S3 backend go untested.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/strata-oss/strata/pipeline/objstore/s3"
)

// VersityGWModule and VersityGWVersion pin the server the harness installs.
// scripts/install-versitygw.sh installs the same version.
const (
	VersityGWModule  = "github.com/versity/versitygw/cmd/versitygw"
	VersityGWVersion = "v1.8.0"
)

// Region is the region every test server answers for.
const Region = "us-east-1"

const (
	startTimeout   = 30 * time.Second
	stopTimeout    = 5 * time.Second
	installTimeout = 10 * time.Minute
)

// Server is a running S3 endpoint with root credentials.
type Server struct {
	Endpoint  string // e.g. http://127.0.0.1:41234
	AccessKey string
	SecretKey string
	Region    string
	// Dir is the directory versitygw keeps buckets in ("" for gofakes3);
	// bucket b's object k is the file Dir/b/k.
	Dir string

	mu      sync.Mutex // guards stop and restart, which a restart replaces
	stop    func() error
	restart func() error
}

// ErrKilled says a server did not stop gracefully and was killed.
var ErrKilled = errors.New("killed")

// Start runs a versitygw server for the rest of t, stopping it in
// t.Cleanup. It fails t if the server cannot be installed or started.
func Start(t testing.TB) *Server {
	t.Helper()
	srv, err := StartVersityGW(t.TempDir())
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); errors.Is(err, ErrKilled) {
			// versitygw waits for connections on which it answered
			// before reading the whole request body (a 403 to a PUT);
			// that is the server's shutdown, not the code under test.
			t.Logf("s3test: %v", err)
		} else if err != nil {
			t.Errorf("s3test: %v", err)
		}
	})
	return srv
}

// StartVersityGW runs a versitygw server keeping its data under dir; the
// caller calls Stop. It is the TestMain-friendly form of Start, for packages
// that share one server across tests:
//
//	func TestMain(m *testing.M) {
//		dir, _ := os.MkdirTemp("", "vgw")
//		srv, err := s3test.StartVersityGW(dir)
//		if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }
//		code := m.Run()
//		srv.Stop()
//		os.RemoveAll(dir)
//		os.Exit(code)
//	}
func StartVersityGW(dir string) (*Server, error) {
	bin, err := VersityGW()
	if err != nil {
		return nil, err
	}
	// The port is picked by binding and releasing it, so another process
	// can grab it in between; a server that dies at once is retried.
	var lastErr error
	for range 3 {
		srv, err := startVersityGW(bin, dir)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startVersityGW(bin, dir string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("versitygw data dir: %w", err)
	}
	return runVersityGW(bin, addr, data, randomKey("AKTEST", 8), randomKey("", 20))
}

// runVersityGW starts versitygw on addr serving data with the root keys.
func runVersityGW(bin, addr, data, access, secret string) (*Server, error) {

	cmd := exec.Command(bin, "--port", addr, "--region", Region, "--quiet", "posix", data)
	cmd.Env = append(serverEnv(), "ROOT_ACCESS_KEY_ID="+access, "ROOT_SECRET_ACCESS_KEY="+secret)
	out := &tailBuffer{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start versitygw %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	srv := &Server{
		Endpoint:  "http://" + addr,
		AccessKey: access,
		SecretKey: secret,
		Region:    Region,
		Dir:       data,
	}
	srv.stop = sync.OnceValue(func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			return nil
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("versitygw did not stop within %v of SIGTERM: %w", stopTimeout, ErrKilled)
		}
	})
	srv.restart = func() error {
		// srv is the Server the test holds: each restart swaps in the
		// new process's stop, and keeps this restart for the next one.
		_ = srv.stop()
		next, err := runVersityGW(bin, addr, data, access, secret)
		if err != nil {
			return err
		}
		srv.stop = next.stop
		return nil
	}
	if err := waitReady(srv.Endpoint, exited); err != nil {
		_ = srv.stop()
		return nil, fmt.Errorf("versitygw on %s: %w; output:\n%s", addr, err, out.String())
	}
	return srv, nil
}

// serverEnv is the test's environment minus anything that would configure
// versitygw behind the harness's back (its flags all have VGW_ variables).
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitReady polls until the server answers HTTP at all: an anonymous
// request is refused with 403, which proves it is serving S3.
func waitReady(endpoint string, exited <-chan error) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited before serving: %v", err)
		default:
		}
		if resp, err := client.Get(endpoint + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not serving after %v", startTimeout)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randomKey(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return prefix + strings.ToUpper(hex.EncodeToString(b))[:n*2-len(prefix)]
}

// StartFake runs gofakes3 with in-memory storage on an httptest server for
// the rest of t. It is much faster than versitygw but only an imitation; it
// does not check request signatures.
func StartFake(t testing.TB) *Server {
	t.Helper()
	faker := gofakes3.New(s3mem.New())
	hs := httptest.NewServer(faker.Server())
	srv := &Server{
		Endpoint:  hs.URL,
		AccessKey: randomKey("AKFAKE", 8),
		SecretKey: randomKey("", 20),
		Region:    Region,
		stop:      sync.OnceValue(func() error { hs.Close(); return nil }),
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// Stop shuts the server down; Start and StartFake arrange it themselves.
func (s *Server) Stop() error {
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	return stop()
}

// Restart starts a stopped versitygw server again on the same address,
// data and keys (stopping it first if it runs): an outage and a recovery,
// as a fault test needs them. Stop, and the test's clean-up, then apply
// to the new process.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.restart == nil {
		return errors.New("s3test: only a versitygw server can be restarted")
	}
	return s.restart()
}

// Config returns an s3.Config for bucket name, prefix under it, on s with
// its static root credentials, so tests never depend on the developer's
// AWS profile or environment credentials.
func (s *Server) Config(name, prefix string) s3.Config {
	return s3.Config{
		Bucket:      name,
		Prefix:      prefix,
		Region:      s.Region,
		Endpoint:    s.Endpoint,
		MaxAttempts: 3,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}
}

// CreateBucket creates bucket name; one that already exists is fine.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	b, err := s3.New(context.Background(), s.Config(name, ""))
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = b.Client().CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)})
	// The servers are private to the test, so "already exists" can only
	// mean an earlier CreateBucket of ours (gofakes3 says it that way).
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
}

// NewBucket creates bucket name (if needed) and returns an s3.Bucket on it
// rooted at prefix.
func (s *Server) NewBucket(t testing.TB, name, prefix string) *s3.Bucket {
	t.Helper()
	s.CreateBucket(t, name)
	b, err := s3.New(context.Background(), s.Config(name, prefix))
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return b
}

// Env returns the AWS_* variables that point an S3 client in a subprocess
// (the strata binary, the aws CLI) at s. Any other AWS_* variable in the
// child's environment (a session token, a profile) could still interfere;
// Environ gives a whole environment without them. Clients older than the
// AWS_ENDPOINT_URL* variables (Debian's aws CLI 2.9) ignore them and need
// --endpoint-url s.Endpoint as well.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_DEFAULT_REGION=" + s.Region,
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_REQUEST_CHECKSUM_CALCULATION=when_required",
		"AWS_RESPONSE_CHECKSUM_VALIDATION=when_required",
	}
}

// Environ returns the test's environment with every AWS_* variable
// replaced by Env, for exec.Cmd.Env.
func (s *Server) Environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, s.Env()...)
}

// tailBuffer keeps the last max bytes a server printed, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = bytes.Clone(b.buf[over:])
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
