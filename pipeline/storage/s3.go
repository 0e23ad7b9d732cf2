package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3"
)

// S3Options tune how s3:// locations are reached. Zero values defer to the
// SDK's standard environment (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
// AWS_REGION, shared profile) and then to the backend's defaults.
type S3Options struct {
	// Endpoint of an S3-compatible server, e.g. http://127.0.0.1:7070. It
	// wins over AWS_ENDPOINT_URL_S3/AWS_ENDPOINT_URL.
	Endpoint string
	Region   string
	// PathStyle forces path-style (true) or virtual-host (false)
	// addressing; nil means path-style whenever an endpoint is set.
	PathStyle *bool
	// MaxAttempts bounds the SDK retryer's attempts per request.
	MaxAttempts int
	// MaxBackoff caps the wait between attempts; 0 keeps the SDK's.
	MaxBackoff time.Duration
}

// openS3 opens s3://bucket/prefix with the SDK's default credential chain.
func openS3(ctx context.Context, location string, o S3Options) (objstore.Bucket, error) {
	bucket, prefix, err := s3.ParseURL(location)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", location, err)
	}
	b, err := s3.New(ctx, s3.Config{
		Bucket: bucket, Prefix: prefix,
		Endpoint: o.Endpoint, Region: o.Region, ForcePathStyle: o.PathStyle, MaxAttempts: o.MaxAttempts,
		MaxBackoff: o.MaxBackoff,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", location, err)
	}
	return b, nil
}
