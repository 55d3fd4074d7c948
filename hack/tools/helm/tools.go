//go:build tools

// Package tools pins the helm command line, built by hack/bench-render.sh
// to measure `helm template` of the bjw-s app-template chart next to
// `ocw render`.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
