package cli

import (
	"encoding/base64"
	"encoding/pem"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencode-workspaces/ocw/internal/testenv"
)

// stalledAPIServer returns a kubeconfig for an API server that never
// answers, its URL and its request count.
func stalledAPIServer(t *testing.T) (string, string, *atomic.Int64) {
	t.Helper()
	srv, requests := testenv.StalledServer(t)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, kubeconfig, `apiVersion: v1
kind: Config
clusters:
- name: stalled
  cluster:
    server: `+srv.URL+`
    certificate-authority-data: `+base64.StdEncoding.EncodeToString(ca)+`
users:
- name: admin
  user: {token: not-a-real-token}
contexts:
- name: stalled
  context: {cluster: stalled, user: admin}
current-context: stalled
`)
	return kubeconfig, srv.URL, requests
}

// Every command that talks to the cluster gives up on a stalled API server
// after --request-timeout, and says what happened.
func TestStalledAPIServer(t *testing.T) {
	kubeconfig, host, requests := stalledAPIServer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "ws.yaml")
	writeFile(t, file, strings.Replace(applySpec, "%s", "stalled", 1))
	writeLocalAuth(t, localRefresh)

	for _, c := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"status", "", []string{"status", "-f", file}},
		{"doctor", "", []string{"doctor", "-f", file}},
		{"apply", "", []string{"apply", "-f", file}},
		{"apply --dry-run", "", []string{"apply", "-f", file, "--dry-run=server"}},
		{"secrets git-token", "ghp_tokenfromstdin\n", []string{"secrets", "git-token", "-f", file}},
		{"secrets password", "", []string{"secrets", "password", "-f", file}},
		{"auth seed", "", []string{"auth", "seed", "-f", file}},
		{"auth push", "", []string{"auth", "push", "alpha", "-f", file, "--url", "http://127.0.0.1:9/"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := requests.Load()
			args := append(c.args, "--kubeconfig", kubeconfig, "--request-timeout", "1s")
			done := make(chan result, 1)
			go func() { done <- run(t, c.stdin, args...) }()
			var r result
			select {
			case r = <-done:
			// Not a speed target: a hang guard a hundred times the deadline.
			case <-time.After(2 * time.Minute):
				t.Fatalf("ocw %s still waiting on a stalled API server after 2 minutes", c.name)
			}
			want := "the Kubernetes API server at " + host + " did not answer within 1s: check that it is reachable (kubectl cluster-info), or allow more time with --request-timeout"
			if r.code != ExitFailure || !strings.Contains(r.err, want) {
				t.Errorf("ocw %s: want exit 2 and %q, got %+v", c.name, want, r)
			}
			if requests.Load() == before {
				t.Errorf("ocw %s sent no request to the API server", c.name)
			}
		})
	}
}
