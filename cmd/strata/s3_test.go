package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3/s3test"
	"github.com/strata-oss/strata/pipeline/publish"
)

// s3Env points the standard AWS environment at srv, except the endpoint,
// which the configs under test set themselves (storage.s3.endpoint).
func s3Env(t *testing.T, srv *s3test.Server, secret string) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_REGION", srv.Region)
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// hiveInputs generates a small shop locally and lays its orders out as a
// Hive partition, plus a partition dated after the as-of day holding a file
// that is not Parquet at all: a run can only succeed if it prunes it unread.
func hiveInputs(t *testing.T) string {
	t.Helper()
	gen := t.TempDir()
	if code, _, stderr := strata(t, "generate", "--dir", gen, "--customers", "1500", "--log-level", "error"); code != 0 {
		t.Fatalf("generate: %s", stderr)
	}
	in := t.TempDir()
	for _, table := range []string{"orders", "customers"} {
		files, err := filepath.Glob(filepath.Join(gen, table, "*.parquet"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: %v %v", table, files, err)
		}
		dst := filepath.Join(in, table)
		if table == "orders" {
			dst = filepath.Join(dst, "dt=2025-06-30")
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	future := filepath.Join(in, "orders", "dt=2025-07-01")
	if err := os.MkdirAll(future, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(future, "part-0.parquet"), []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

func uploadDir(t *testing.T, dir string, b objstore.Bucket) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return b.Upload(context.Background(), filepath.ToSlash(rel), bytes.NewReader(data))
	})
	if err != nil {
		t.Fatal(err)
	}
}

const runConfig = `version: 1
seed: 7
storage:
  s3: {endpoint: "ENDPOINT"}
input:
  location: IN
  orders:
    path: orders
    columns: {order_ts: ordered_at, amount: net_amount, order_id: order_id, is_refund: is_refund}
  customers:
    path: customers
    columns: {signup_ts: signup_at, updated_at: updated_at}
output:
  location: OUT
`

func s3Config(t *testing.T, endpoint, in, out string) string {
	t.Helper()
	r := strings.NewReplacer("ENDPOINT", endpoint, "IN", in, "OUT", out)
	return writeConfig(t, t.TempDir(), r.Replace(runConfig))
}

// TestRunOnS3MatchesLocal: inputs uploaded to a real S3 server, `strata
// run` with an S3 config (endpoint from the config, not the environment),
// and the published tables read back through S3 equal a local run's bytes.
func TestRunOnS3MatchesLocal(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "lake")
	s3Env(t, srv, srv.SecretKey)
	in := hiveInputs(t)
	uploadDir(t, in, srv.NewBucket(t, "lake", "raw"))

	const asOf = "2025-06-30"
	localOut := t.TempDir()
	if code, _, stderr := strata(t, "run", "--config", s3Config(t, srv.Endpoint, in, localOut), "--as-of", asOf, "--log-level", "error"); code != 0 {
		t.Fatalf("local run: exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := strata(t, "run", "--config", s3Config(t, srv.Endpoint, "s3://lake/raw", "s3://lake/marts/strata"), "--as-of", asOf, "--log-level", "error"); code != 0 {
		t.Fatalf("S3 run: exit %d: %s%s", code, stdout, stderr)
	}

	ctx := context.Background()
	local, err := objstore.NewLocal(localOut)
	if err != nil {
		t.Fatal(err)
	}
	remote := srv.NewBucket(t, "lake", "marts/strata")
	lm, err := publish.ReadManifest(ctx, local, asOf)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := publish.ReadManifest(ctx, remote, asOf)
	if err != nil {
		t.Fatalf("manifest through S3: %v", err)
	}
	if len(rm.Tables) != len(lm.Tables) || len(rm.Tables) < 3 {
		t.Fatalf("tables on S3 %v, locally %v", rm.Tables, lm.Tables)
	}
	for table, lt := range lm.Tables {
		rt := rm.Tables[table]
		if len(rt.Keys) != len(lt.Keys) {
			t.Fatalf("%s: %d parts on S3, %d locally", table, len(rt.Keys), len(lt.Keys))
		}
		for i := range lt.Keys {
			want, err := objstore.ReadAll(ctx, local, lt.Keys[i])
			if err != nil {
				t.Fatal(err)
			}
			got, err := objstore.ReadAll(ctx, remote, rt.Keys[i])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s part %d read back through S3 differs from the local run", table, i)
			}
		}
	}
	model, err := objstore.ReadAll(ctx, remote, "models/dt="+asOf+"/model.json")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(model, []byte("dt=2025-07-01")) {
		t.Error("the pruned partition is among the run's inputs")
	}
	if !bytes.Contains(model, []byte("dt=2025-06-30")) {
		t.Error("model.json does not list the partitioned inputs it read")
	}
}

// TestWrongSecret: a bad secret is a clear error that names the bucket and
// the cause, exit 1, and nothing is written.
func TestWrongSecret(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "lake")
	s3Env(t, srv, srv.SecretKey)
	uploadDir(t, hiveInputs(t), srv.NewBucket(t, "lake", "raw"))

	s3Env(t, srv, "not-the-secret")
	cfg := s3Config(t, srv.Endpoint, "s3://lake/raw", "s3://lake/out")
	for _, args := range [][]string{
		{"run", "--config", cfg, "--as-of", "2025-06-30"},
		{"validate", "--config", cfg},
		{"demo", "--dir", "s3://lake/demo", "--customers", "200"},
	} {
		if args[0] == "demo" {
			t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
		}
		code, stdout, stderr := strata(t, append(args, "--log-level", "error")...)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s%s", args[0], code, stdout, stderr)
		}
		for _, want := range []string{"lake", "SignatureDoesNotMatch"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: error does not name %q:\n%s", args[0], want, stderr)
			}
		}
		if strings.Contains(stdout+stderr, "not-the-secret") {
			t.Errorf("%s: the secret appears in the output", args[0])
		}
	}
	s3Env(t, srv, srv.SecretKey)
	keys, err := objstore.List(context.Background(), srv.NewBucket(t, "lake", ""), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "raw/") {
			t.Errorf("written with a wrong secret: %s", k)
		}
	}
}

// TestMissingBucketIsConfigError: an input location in a bucket that does
// not exist is a configuration error, exit 2 (as a missing local
// directory), not a runtime failure to retry.
func TestMissingBucketIsConfigError(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "lake")
	s3Env(t, srv, srv.SecretKey)
	cfg := s3Config(t, srv.Endpoint, "s3://no-such-lake/raw", "s3://lake/out")
	for _, args := range [][]string{
		{"validate", "--config", cfg},
		{"run", "--config", cfg, "--as-of", "2025-06-30"},
	} {
		code, stdout, stderr := strata(t, append(args, "--log-level", "error")...)
		if code != 2 || !strings.Contains(stderr, "NoSuchBucket") {
			t.Errorf("%s: exit %d, want 2 naming NoSuchBucket\n%s%s", args[0], code, stdout, stderr)
		}
	}
}
