package testenv

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// StalledServer starts a TLS server on loopback that accepts every
// connection and request and never answers (a hung API server or kubelet,
// a black-holing load balancer) until the test ends. It returns the server
// and the number of requests it received.
func StalledServer(t testing.TB) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	srv.StartTLS()
	t.Cleanup(func() {
		close(release) // Close waits for the handlers
		srv.Close()
	})
	return srv, &requests
}
