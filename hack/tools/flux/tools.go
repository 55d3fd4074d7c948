//go:build tools

// Package tools pins Flux source-controller and kustomize-controller, built
// by hack/e2e/controllers.sh. One module for both: the versions of their
// shared dependencies then agree, so the second build reuses the first's
// compiled packages (283 s on its own, 63 s after the first, cold).
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/source-controller"
)
