//go:build tools

// Package tools pins Traefik, built by hack/e2e/controllers.sh: the Gateway
// API implementation the route tests run against (Envoy itself is C++ and
// cannot be built here).
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
