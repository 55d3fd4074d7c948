package spec

import _ "embed"

// Starter is the commented spec `ocw init` prints.
//
//go:embed starter.yaml
var Starter []byte
