package storage

import (
	"context"
	"fmt"

	"github.com/strata-oss/strata/pipeline/objstore"
)

func openS3(ctx context.Context, location string) (objstore.Bucket, error) {
	return nil, fmt.Errorf("open %s: S3 locations are not supported by this build yet", location)
}
