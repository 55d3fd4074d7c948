//go:build tools

// Package tools pins github.com/external-secrets/external-secrets v0.16.2, built by hack/e2e/controllers.sh.
package tools

import _ "github.com/external-secrets/external-secrets"
