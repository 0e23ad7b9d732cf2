package objstore_test

import (
	"testing"

	"github.com/strata-oss/strata/pipeline/objstore"
	"github.com/strata-oss/strata/pipeline/objstore/objstoretest"
)

func TestMem(t *testing.T) {
	objstoretest.AcceptanceTest(t, objstore.NewMem())
}
