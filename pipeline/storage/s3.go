package storage

import (
	"context"
	"fmt"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/s3"
)

// openS3 opens s3://bucket/prefix with the SDK's default credential chain
// and the standard AWS_* environment (AWS_ENDPOINT_URL_S3 for S3-compatible
// servers).
func openS3(ctx context.Context, location string) (objstore.Bucket, error) {
	bucket, prefix, err := s3.ParseURL(location)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", location, err)
	}
	b, err := s3.New(ctx, s3.Config{Bucket: bucket, Prefix: prefix})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", location, err)
	}
	return b, nil
}
