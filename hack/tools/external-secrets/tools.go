//go:build tools

// Package tools pins external-secrets v0.16.2, built by hack/e2e/controllers.sh
// (its own module: it is built against older Kubernetes libraries than Flux).
package tools

import _ "github.com/external-secrets/external-secrets"
