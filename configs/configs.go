// Package configs embeds the example configurations shipped with Strata, so
// the demo runs from the binary alone.
package configs

import _ "embed"

// Demo is configs/demo.yaml: local storage, the generated demo data set.
//
//go:embed demo.yaml
var Demo []byte
