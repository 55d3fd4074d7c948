// Package gateway runs ocw doctor and ocw status against a real Gateway API
// implementation: Traefik (built from Go modules by hack/e2e/controllers.sh)
// as a host process watching a real API server (envtest). Route acceptance
// needs no pods: the tests create the workspace objects as ocw renders them,
// write the EndpointSlice the EndpointSlice controller would, break one
// thing, wait for Traefik's status and read doctor's verdict and fix and
// status's ROUTE column.
//
// The tests carry the build tag gateway; hack/test.sh runs them once the
// background build has made Traefik and passes its path in OCW_TRAEFIK:
//
//	OCW_TRAEFIK=$(hack/e2e/controllers.sh traefik)/traefik go test -tags gateway ./test/gateway/
package gateway
