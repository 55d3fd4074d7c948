package kube

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:6443"}
- name: b
  cluster: {server: "https://127.0.0.2:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: home
  context: {cluster: a, user: u}
- name: lab
  context: {cluster: b, user: u}
- name: lab-2
  context: {cluster: b, user: u}
current-context: home
`

// parse returns Flags parsed from args, with a kubeconfig of three contexts.
func parse(t *testing.T, args ...string) *Flags {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f := NewFlags(fs)
	if err := fs.Parse(append([]string{"--kubeconfig", path}, args...)); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRequestTimeout(t *testing.T) {
	for _, c := range []struct {
		flag string // "" = not given
		want time.Duration
		err  string
	}{
		{"", 30 * time.Second, ""},
		{"5", 5 * time.Second, ""},
		{"2m", 2 * time.Minute, ""},
		{"0", 0, ""},
		{"-1s", 0, `--request-timeout "-1s": must not be negative`},
		{"soon", 0, `--request-timeout "soon": Invalid timeout value`},
	} {
		var args []string
		if c.flag != "" {
			args = []string{"--request-timeout", c.flag}
		}
		cfg, err := parse(t, args...).Config()
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("--request-timeout %q: want error %q, got %v", c.flag, c.err, err)
			}
		case err != nil:
			t.Errorf("--request-timeout %q: %v", c.flag, err)
		case cfg.Timeout != c.want:
			t.Errorf("--request-timeout %q: timeout %s, want %s", c.flag, cfg.Timeout, c.want)
		}
	}
}

func TestContextAndImpersonation(t *testing.T) {
	cfg, err := parse(t, "--context", "lab", "--as", "alice").Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.2:6443" || cfg.Impersonate.UserName != "alice" || cfg.UserAgent != "ocw" {
		t.Errorf("host %s, impersonate %q, user agent %q", cfg.Host, cfg.Impersonate.UserName, cfg.UserAgent)
	}
	if _, err := parse(t, "--context", "nope").Config(); err == nil || !strings.Contains(err.Error(), `loading kubeconfig: context "nope" does not exist`) {
		t.Errorf("unknown context: %v", err)
	}
}

func TestContexts(t *testing.T) {
	f := parse(t)
	if got := f.Contexts("la"); !slices.Equal(got, []string{"lab", "lab-2"}) {
		t.Errorf("contexts la: %v", got)
	}
	if got := f.Contexts(""); len(got) != 3 {
		t.Errorf("all contexts: %v", got)
	}
}

func TestArgs(t *testing.T) {
	f := parse(t, "--context", "lab")
	if got := strings.TrimSpace(f.Args()); !strings.HasPrefix(got, "--kubeconfig ") || !strings.HasSuffix(got, " --context lab") {
		t.Errorf("args: %q", got)
	}
}

// Without any kubeconfig ocw says so, as before it used cli-runtime,
// instead of trying http://localhost:8080.
func TestNoKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	f := NewFlags(pflag.NewFlagSet("test", pflag.ContinueOnError))
	if _, err := f.Config(); err == nil || !strings.Contains(err.Error(), "loading kubeconfig: invalid configuration: no configuration has been provided") {
		t.Fatalf("want no configuration, got %v", err)
	}
}

// A timeout explains itself only when the API server is the one that did
// not answer: auth push also talks to OpenCode.
func TestExplainOnlyTheAPIServer(t *testing.T) {
	f := parse(t, "--request-timeout", "2s")
	if _, err := f.Config(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url  string
		want bool
	}{
		{"https://127.0.0.1:6443/api/v1/namespaces/x/secrets/y", true},
		{"https://127.0.0.1:4096/global/health", false},
		{"https://flux.example.test/global/health", false},
	} {
		err := f.Explain(&url.Error{Op: "Get", URL: c.url, Err: context.DeadlineExceeded})
		if got := strings.Contains(err.Error(), "the Kubernetes API server at https://127.0.0.1:6443 did not answer within 2s"); got != c.want {
			t.Errorf("%s: explained %v, want %v: %v", c.url, got, c.want, err)
		}
	}
}
