// Package s3 is the objstore.Bucket backend for Amazon S3 and S3-compatible
// servers (versitygw, MinIO, Ceph RGW, ...), built on aws-sdk-go-v2.
//
// Credentials come from the SDK's default chain (environment, shared
// profile, web identity/IRSA, instance metadata) unless Config.Credentials
// is set; endpoints come from Config.Endpoint or the SDK's own
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL handling. Nothing here logs, and
// errors name buckets and keys but never credentials.
//
// Reading Parquet: Bucket.ReaderAt issues one ranged GET per ReadAt call, so
// parquet-go should be opened with parquet.ReadBufferSize(4<<20) and
// parquet.OptimisticRead(true); that turns a file open into one or two
// requests for the footer and each column chunk into a few large reads,
// instead of many small round trips.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/strata-oss/strata/pipeline/objstore"
)

// Defaults for the zero values of Config.
const (
	DefaultRegion      = "us-east-1"
	DefaultMaxAttempts = 5
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 4

	// MaxMaxAttempts bounds Config.MaxAttempts: the standard retryer backs
	// off exponentially up to 20 s, so more attempts only hide an outage.
	MaxMaxAttempts = 20
)

// Config says which bucket to use and how to reach it.
type Config struct {
	// Bucket is the S3 bucket name. Required.
	Bucket string
	// Prefix, if set, roots the objstore.Bucket at this "folder" of the
	// S3 bucket: objstore key k is stored as Prefix/k.
	Prefix string
	// Region defaults to the SDK's (AWS_REGION, profile), else us-east-1,
	// which S3-compatible servers accept.
	Region string
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:7070. Empty
	// means AWS, or whatever AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL say.
	Endpoint string
	// ForcePathStyle selects http://host/bucket/key addressing. nil means
	// true whenever a custom endpoint is in effect (S3-compatible servers
	// rarely have per-bucket DNS) and false for AWS itself.
	ForcePathStyle *bool
	// MaxAttempts bounds the SDK standard retryer's attempts per request,
	// with exponential backoff between them. 0 means DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the standard retryer's jittered exponential wait
	// between attempts; 0 keeps the SDK's 20 s.
	MaxBackoff time.Duration
	// PartSize is the multipart upload part size; objects smaller than it
	// go up in a single PUT. At least 5 MiB; 0 means DefaultPartSize.
	PartSize int64
	// Concurrency is how many parts of one upload are in flight, each
	// buffering PartSize bytes. 0 means DefaultConcurrency.
	Concurrency int
	// Credentials overrides the SDK's default credential chain; tests use
	// it for a server's static keys.
	Credentials aws.CredentialsProvider
}

// String describes c for logs and error messages, leaving out Credentials:
// a static provider would otherwise print its secret with %v.
func (c Config) String() string {
	style := "auto"
	if c.ForcePathStyle != nil {
		style = fmt.Sprint(*c.ForcePathStyle)
	}
	return fmt.Sprintf("s3.Config{Bucket:%q Prefix:%q Region:%q Endpoint:%q ForcePathStyle:%s MaxAttempts:%d MaxBackoff:%s PartSize:%d Concurrency:%d Credentials:%s}",
		c.Bucket, c.Prefix, c.Region, c.Endpoint, style, c.MaxAttempts, c.MaxBackoff, c.PartSize, c.Concurrency, credentialsKind(c.Credentials))
}

// GoString keeps %#v from printing Credentials too.
func (c Config) GoString() string { return c.String() }

func credentialsKind(p aws.CredentialsProvider) string {
	if p == nil {
		return "default-chain"
	}
	return "set"
}

// Bucket is an objstore.Bucket (and objstore.ConditionalUploader) on S3.
type Bucket struct {
	client   *s3.Client
	uploader *manager.Uploader
	bucket   string
	prefix   string // "" or ends with "/"
}

var (
	_ objstore.Bucket              = (*Bucket)(nil)
	_ objstore.ConditionalUploader = (*Bucket)(nil)
)

// New returns a Bucket for cfg. It sends no requests, so a missing bucket or
// bad credentials show up on first use.
func New(ctx context.Context, cfg Config) (*Bucket, error) {
	if err := validateBucketName(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3 config: %w", err)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := objstore.ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("s3 config: prefix: %w", err)
		}
		prefix += "/"
	}
	switch {
	case cfg.MaxAttempts == 0:
		cfg.MaxAttempts = DefaultMaxAttempts
	case cfg.MaxAttempts < 0 || cfg.MaxAttempts > MaxMaxAttempts:
		return nil, fmt.Errorf("s3 config: MaxAttempts %d outside 1..%d", cfg.MaxAttempts, MaxMaxAttempts)
	}
	if cfg.MaxBackoff < 0 {
		return nil, fmt.Errorf("s3 config: negative MaxBackoff %s", cfg.MaxBackoff)
	}
	switch {
	case cfg.PartSize == 0:
		cfg.PartSize = DefaultPartSize
	case cfg.PartSize < manager.MinUploadPartSize:
		return nil, fmt.Errorf("s3 config: PartSize %d below S3's minimum %d", cfg.PartSize, manager.MinUploadPartSize)
	}
	switch {
	case cfg.Concurrency == 0:
		cfg.Concurrency = DefaultConcurrency
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("s3 config: negative Concurrency %d", cfg.Concurrency)
	}
	if cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("s3 config: endpoint %q is not an absolute URL", cfg.Endpoint)
		}
	}

	opts := []func(*config.LoadOptions) error{
		config.WithRetryMaxAttempts(cfg.MaxAttempts),
		// S3-compatible servers often reject or mis-verify the CRC
		// trailers the SDK adds by default since early 2025.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 bucket %s: load AWS config: %w", cfg.Bucket, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}

	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.MaxBackoff > 0 {
			o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, cfg.MaxBackoff)
		}
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		// By now o.BaseEndpoint also reflects AWS_ENDPOINT_URL_S3,
		// AWS_ENDPOINT_URL and endpoint_url in the shared config, which
		// the SDK resolved before running these options.
		o.UsePathStyle = o.BaseEndpoint != nil
		if cfg.ForcePathStyle != nil {
			o.UsePathStyle = *cfg.ForcePathStyle
		}
	})
	uploader := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = cfg.PartSize
		u.Concurrency = cfg.Concurrency
	})
	return &Bucket{client: client, uploader: uploader, bucket: cfg.Bucket, prefix: prefix}, nil
}

// Client returns the underlying SDK client, for operations objstore does
// not cover (creating buckets in tests, lifecycle rules).
func (b *Bucket) Client() *s3.Client { return b.client }

// Name returns the S3 bucket name.
func (b *Bucket) Name() string { return b.bucket }

// objectKey validates an objstore key and returns the S3 key for it.
func (b *Bucket) objectKey(key string) (string, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return "", err
	}
	return b.prefix + key, nil
}

// Get streams the object with a single GET.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	k, err := b.objectKey(key)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &k})
	if err != nil {
		return nil, b.wrap("get", key, err)
	}
	return out.Body, nil
}

// Attributes HEADs the object. The ETag is returned without the quotes S3
// puts around it.
func (b *Bucket) Attributes(ctx context.Context, key string) (objstore.Attrs, error) {
	k, err := b.objectKey(key)
	if err != nil {
		return objstore.Attrs{}, fmt.Errorf("attributes: %w", err)
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &k})
	if err != nil {
		return objstore.Attrs{}, b.wrap("attributes", key, err)
	}
	return objstore.Attrs{
		Size:    aws.ToInt64(out.ContentLength),
		ETag:    strings.Trim(aws.ToString(out.ETag), `"`),
		ModTime: aws.ToTime(out.LastModified),
	}, nil
}

// Upload stores r through the SDK's upload manager: a single PUT for
// objects under Config.PartSize, a multipart upload above, which S3 makes
// visible atomically on completion and the manager aborts on failure.
func (b *Bucket) Upload(ctx context.Context, key string, r io.Reader) error {
	k, err := b.objectKey(key)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	_, err = b.uploader.Upload(ctx, &s3.PutObjectInput{
		Bucket: &b.bucket,
		Key:    &k,
		Body:   objstore.ContextReader(ctx, r),
	})
	if err != nil {
		return b.wrap("upload", key, err)
	}
	return nil
}

// UploadIfAbsent is a conditional write (If-None-Match: *): the server
// creates the object only if the key is free, and answers 412 otherwise. A
// 409 ConditionalRequestConflict (a concurrent write or delete of the same
// key still in progress) is returned as an error for the caller to retry.
func (b *Bucket) UploadIfAbsent(ctx context.Context, key string, r io.Reader) (bool, error) {
	k, err := b.objectKey(key)
	if err != nil {
		return false, fmt.Errorf("upload if absent: %w", err)
	}
	// The manager copies IfNoneMatch onto CompleteMultipartUpload, so
	// large objects get the same guarantee.
	_, err = b.uploader.Upload(ctx, &s3.PutObjectInput{
		Bucket:      &b.bucket,
		Key:         &k,
		Body:        objstore.ContextReader(ctx, r),
		IfNoneMatch: aws.String("*"),
	})
	if err != nil {
		if httpStatus(err) == http.StatusPreconditionFailed {
			return false, nil
		}
		return false, b.wrap("upload if absent", key, err)
	}
	return true, nil
}

// Delete removes the object; S3 itself treats a missing key as success.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	k, err := b.objectKey(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	_, err = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &k})
	if err != nil && !isNotFound(err) {
		return b.wrap("delete", key, err)
	}
	return nil
}

// Iter pages through ListObjectsV2, which returns keys in UTF-8 binary
// order, i.e. the lexical order objstore promises.
func (b *Bucket) Iter(ctx context.Context, prefix string, fn func(key string) error) error {
	full := b.prefix + prefix
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: &b.bucket,
		Prefix: &full,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("iter s3://%s/%s: %w", b.bucket, full, err)
		}
		for _, obj := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(obj.Key), b.prefix)
			// "folder/" markers made by consoles and some servers are
			// not objects in objstore's sense.
			if strings.HasSuffix(k, "/") || k == "" {
				continue
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("iter s3://%s/%s: %w", b.bucket, full, err)
			}
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// wrap adds the operation and object to err and makes a missing object
// satisfy objstore.IsNotExist.
func (b *Bucket) wrap(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s s3://%s/%s%s: %w (%w)", op, b.bucket, b.prefix, key, objstore.ErrNotExist, err)
	}
	if hint := authHint(err); hint != "" {
		return fmt.Errorf("%s s3://%s/%s%s: %s: %w", op, b.bucket, b.prefix, key, hint, err)
	}
	return fmt.Errorf("%s s3://%s/%s%s: %w", op, b.bucket, b.prefix, key, err)
}

// authHint explains the errors an operator meets when credentials or the
// bucket are wrong, which the SDK reports only as codes deep in a long
// message. It never includes the credentials themselves.
func authHint(err error) string {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	switch code := apiErr.ErrorCode(); code {
	case "SignatureDoesNotMatch":
		return code + ": the secret key does not match the access key ID (check AWS_SECRET_ACCESS_KEY or the profile)"
	case "InvalidAccessKeyId":
		return code + ": the server does not know this access key ID (check AWS_ACCESS_KEY_ID or the profile)"
	case "AccessDenied", "Forbidden":
		return code + ": the credentials are valid but not allowed to do this (check the bucket policy or role)"
	case "ExpiredToken", "TokenRefreshRequired":
		return code + ": the session token has expired"
	case "NoSuchBucket":
		return code + ": the bucket does not exist (check the location and the endpoint)"
	}
	return ""
}

// isNotFound reports whether err says the object is missing. HEAD responses
// have no body, hence no error code, so the status decides; a missing
// bucket is also a 404 but is a configuration error, not a missing object.
func isNotFound(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "NoSuchBucket":
			return false
		}
	}
	return httpStatus(err) == http.StatusNotFound
}

// httpStatus returns the HTTP status of a failed request, or 0.
func httpStatus(err error) int {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}

// ParseURL splits "s3://bucket/some/prefix" into its bucket and prefix
// ("some/prefix", without slashes at either end; "" for the whole bucket).
func ParseURL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		// Not %w: url.Error repeats the URL, which might carry a password.
		return "", "", errors.New("parse s3 URL: malformed URL")
	}
	shown := u.Redacted()
	if u.Scheme != "s3" {
		return "", "", fmt.Errorf("parse s3 URL %q: scheme must be s3://", shown)
	}
	if u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", "", fmt.Errorf("parse s3 URL %q: only s3://bucket/prefix is allowed", shown)
	}
	if err := validateBucketName(u.Host); err != nil {
		return "", "", fmt.Errorf("parse s3 URL %q: %w", shown, err)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := objstore.ValidateKey(prefix); err != nil {
			return "", "", fmt.Errorf("parse s3 URL %q: prefix: %w", shown, err)
		}
	}
	return u.Host, prefix, nil
}

// validateBucketName applies S3's general-purpose bucket naming rules, so
// typos fail at configuration time rather than as odd request errors.
func validateBucketName(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", name)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.'
		if !ok {
			return fmt.Errorf("bucket name %q has invalid character %q", name, c)
		}
		if (i == 0 || i == len(name)-1) && (c == '-' || c == '.') {
			return fmt.Errorf("bucket name %q must start and end with a letter or digit", name)
		}
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("bucket name %q has adjacent periods", name)
	}
	return nil
}
