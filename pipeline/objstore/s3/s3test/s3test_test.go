package s3test_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
)

func TestServers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB) *s3test.Server
	}{
		{"versitygw", s3test.Start},
		{"gofakes3", s3test.StartFake},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.start(t)
			if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") {
				t.Errorf("Endpoint %q is not on loopback", srv.Endpoint)
			}
			b := srv.NewBucket(t, "harness", "p")
			srv.CreateBucket(t, "harness") // again: must be idempotent
			if err := b.Upload(t.Context(), "k", strings.NewReader("v")); err != nil {
				t.Fatal(err)
			}
			if got, err := objstore.ReadAll(t.Context(), b, "k"); err != nil || string(got) != "v" {
				t.Fatalf("ReadAll = %q, %v", got, err)
			}
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := srv.Stop(); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
			client := &http.Client{Timeout: time.Second}
			if resp, err := client.Get(srv.Endpoint); err == nil {
				resp.Body.Close()
				t.Fatal("server still answers after Stop")
			}
		})
	}
}
