package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/objstoretest"
	"github.com/strata-oss/strata/pipeline/objstore/s3"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
)

func TestAcceptanceFake(t *testing.T) {
	srv := s3test.StartFake(t)
	t.Run("bucket root", func(t *testing.T) {
		objstoretest.AcceptanceTest(t, srv.NewBucket(t, "strata-fake", ""))
	})
	t.Run("prefix", func(t *testing.T) {
		objstoretest.AcceptanceTest(t, srv.NewBucket(t, "strata-fake-prefixed", "env/dev"))
	})
}

// TestVersityGW runs everything that needs a real S3 server against one
// versitygw process.
func TestVersityGW(t *testing.T) {
	srv := s3test.Start(t)
	t.Run("acceptance", func(t *testing.T) {
		objstoretest.AcceptanceTest(t, srv.NewBucket(t, "strata-test", ""))
	})
	t.Run("acceptance with prefix", func(t *testing.T) {
		b := srv.NewBucket(t, "strata-prefixed", "tenants/acme")
		// A sibling sharing the prefix's text must not leak into Iter.
		other := srv.NewBucket(t, "strata-prefixed", "tenants/acme-corp")
		if err := other.Upload(t.Context(), "obj", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		objstoretest.AcceptanceTest(t, b)
	})
	t.Run("bad credentials", func(t *testing.T) { testBadCredentials(t, srv) })
	t.Run("missing bucket", func(t *testing.T) { testMissingBucket(t, srv) })
	t.Run("server semantics", func(t *testing.T) { testServerSemantics(t, srv) })
	t.Run("env endpoint", func(t *testing.T) { testEnvEndpoint(t, srv) })
}

func testBadCredentials(t *testing.T, srv *s3test.Server) {
	srv.CreateBucket(t, "strata-auth")
	const badSecret = "bad-secret-0123456789abcdefghijklmnopqrstuv"
	cfg := srv.Config("strata-auth", "")
	cfg.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, badSecret, "")
	b, err := s3.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, tc := range []struct {
		op string
		do func() error
	}{
		{"Upload", func() error { return b.Upload(ctx, "k", strings.NewReader("x")) }},
		{"Get", func() error { _, err := b.Get(ctx, "k"); return err }},
		{"ReaderAt", func() error { _, _, err := b.ReaderAt(ctx, "k"); return err }},
		{"Attributes", func() error { _, err := b.Attributes(ctx, "k"); return err }},
		{"Iter", func() error { return b.Iter(ctx, "", func(string) error { return nil }) }},
		{"Delete", func() error { return b.Delete(ctx, "k") }},
	} {
		t.Run(tc.op, func(t *testing.T) {
			err := tc.do()
			if err == nil {
				t.Fatalf("%s with a wrong secret succeeded", tc.op)
			}
			if objstore.IsNotExist(err) {
				t.Errorf("%s: an auth failure reads as a missing object: %v", tc.op, err)
			}
			for _, secret := range []string{badSecret, srv.SecretKey} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("%s error leaks a secret key: %v", tc.op, err)
				}
			}
		})
	}
}

func testMissingBucket(t *testing.T, srv *s3test.Server) {
	b, err := s3.New(t.Context(), srv.Config("strata-no-such-bucket", ""))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Get(t.Context(), "k")
	if err == nil || objstore.IsNotExist(err) {
		t.Fatalf("Get in a missing bucket: err = %v, want an error that is not IsNotExist", err)
	}
}

// testEnvEndpoint configures the client purely through the environment, as
// a deployed strata binary would be, and checks path-style addressing gets
// switched on (versitygw has no per-bucket DNS).
func testEnvEndpoint(t *testing.T, srv *s3test.Server) {
	srv.CreateBucket(t, "strata-env")
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	b, err := s3.New(t.Context(), s3.Config{Bucket: "strata-env"})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Client().Options().UsePathStyle {
		t.Error("path-style addressing is off although AWS_ENDPOINT_URL_S3 is set")
	}
	if err := b.Upload(t.Context(), "from/env", bytes.NewReader([]byte("ok"))); err != nil {
		t.Fatal(err)
	}
	if got, err := objstore.ReadAll(t.Context(), b, "from/env"); err != nil || string(got) != "ok" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
}

func TestPathStyle(t *testing.T) {
	// Keep the developer's own endpoint settings out of this test.
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	for _, tc := range []struct {
		name  string
		cfg   s3.Config
		env   map[string]string
		force *bool
		want  bool
	}{
		{name: "aws", want: false},
		{name: "endpoint", cfg: s3.Config{Endpoint: "http://127.0.0.1:9"}, want: true},
		{name: "endpoint, forced off", cfg: s3.Config{Endpoint: "http://127.0.0.1:9", ForcePathStyle: aws.Bool(false)}, want: false},
		{name: "forced on", cfg: s3.Config{ForcePathStyle: aws.Bool(true)}, want: true},
		{name: "AWS_ENDPOINT_URL_S3", env: map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"}, want: true},
		{name: "AWS_ENDPOINT_URL", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg := tc.cfg
			cfg.Bucket = "strata-style"
			b, err := s3.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Client().Options().UsePathStyle; got != tc.want {
				t.Fatalf("UsePathStyle = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  s3.Config
	}{
		{"no bucket", s3.Config{}},
		{"bucket name", s3.Config{Bucket: "Upper_Case"}},
		{"unbounded retries", s3.Config{Bucket: "b-ok", MaxAttempts: 1000}},
		{"negative retries", s3.Config{Bucket: "b-ok", MaxAttempts: -1}},
		{"negative backoff", s3.Config{Bucket: "b-ok", MaxBackoff: -time.Second}},
		{"tiny parts", s3.Config{Bucket: "b-ok", PartSize: 1 << 20}},
		{"negative concurrency", s3.Config{Bucket: "b-ok", Concurrency: -2}},
		{"prefix escapes", s3.Config{Bucket: "b-ok", Prefix: "a/../.."}},
		{"relative endpoint", s3.Config{Bucket: "b-ok", Endpoint: "localhost:9000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s3.New(context.Background(), tc.cfg); err == nil {
				t.Fatalf("New(%+v) succeeded", tc.cfg)
			}
		})
	}
}

// TestMaxBackoff checks the retryer's wait before every attempt, the
// delays it would sleep, against the cap: the default keeps the SDK's 20 s,
// a configured cap holds at every attempt.
func TestMaxBackoff(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "SlowDown", Message: "throttled"}
	for _, tc := range []struct {
		name string
		max  time.Duration
		want time.Duration // the cap the delays must stay under
	}{
		{"default", 0, 20 * time.Second},
		{"configured", 50 * time.Millisecond, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := s3.New(context.Background(), s3.Config{Bucket: "b-ok", Region: "us-east-1", MaxAttempts: 20, MaxBackoff: tc.max,
				Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
			if err != nil {
				t.Fatal(err)
			}
			r := b.Client().Options().Retryer
			longest := time.Duration(0)
			for attempt := 1; attempt < 20; attempt++ {
				for range 50 { // the delays are jittered: sample each attempt
					d, err := r.RetryDelay(attempt, throttled)
					if err != nil {
						t.Fatal(err)
					}
					if d > tc.want {
						t.Fatalf("attempt %d waits %s, above the cap %s", attempt, d, tc.want)
					}
					longest = max(longest, d)
				}
			}
			// Backing off exponentially, the late attempts reach near the cap.
			if longest < tc.want/2 {
				t.Errorf("the longest wait is %s: the cap %s is not what limits it", longest, tc.want)
			}
		})
	}
}

func TestConfigStringHidesSecret(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	cfg := s3.Config{Bucket: "b-ok", Credentials: credentials.NewStaticCredentialsProvider("AKID", secret, "tok")}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, cfg); strings.Contains(out, secret) || strings.Contains(out, "tok") {
			t.Errorf("Sprintf(%q, cfg) shows credentials: %s", verb, out)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url            string
		bucket, prefix string
		wantErr        bool
	}{
		{url: "s3://bucket", bucket: "bucket"},
		{url: "s3://bucket/", bucket: "bucket"},
		{url: "s3://bucket/prefix", bucket: "bucket", prefix: "prefix"},
		{url: "s3://my.bucket-1/a/b/c/", bucket: "my.bucket-1", prefix: "a/b/c"},
		{url: "s3://bucket/dt=2024-01-01", bucket: "bucket", prefix: "dt=2024-01-01"},
		{url: "s3:///prefix", wantErr: true},
		{url: "s3://", wantErr: true},
		{url: "https://bucket/prefix", wantErr: true},
		{url: "bucket/prefix", wantErr: true},
		{url: "s3://Bucket/prefix", wantErr: true},
		{url: "s3://bucket/a/../b", wantErr: true},
		{url: "s3://bucket/a//b", wantErr: true},
		{url: "s3://bucket:9000/p", wantErr: true},
		{url: "s3://key:secret@bucket/p", wantErr: true},
		{url: "s3://bucket/p?versionId=1", wantErr: true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			bucket, prefix, err := s3.ParseURL(tc.url)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseURL(%q) = %q, %q; want an error", tc.url, bucket, prefix)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("ParseURL error repeats the URL's password: %v", err)
				}
				return
			}
			if err != nil || bucket != tc.bucket || prefix != tc.prefix {
				t.Fatalf("ParseURL(%q) = %q, %q, %v; want %q, %q", tc.url, bucket, prefix, err, tc.bucket, tc.prefix)
			}
		})
	}
}
