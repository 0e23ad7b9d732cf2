package pipeline

import (
	"context"
	"encoding/json"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/publish"
)

type publishManifest = publish.Manifest

func readManifest(out objstore.Bucket, day string) (*publish.Manifest, error) {
	return publish.ReadManifest(context.Background(), out, day)
}

// jsonRoundTrip decodes v's JSON into dst, returning the JSON.
func jsonRoundTrip(v, dst any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(data), json.Unmarshal(data, dst)
}
