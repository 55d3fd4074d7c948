//go:build tools

// Package tools pins github.com/fluxcd/kustomize-controller v1.9.6, built by hack/e2e/controllers.sh.
package tools

import _ "github.com/fluxcd/kustomize-controller"
