// Package kube is ocw's cluster access: kubeconfig flags, clients, exec
// and port-forward.
package kube

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// defaultRequestTimeout: a stalled server or a dropped connection fails
// the command instead of hanging it. Generous: the slowest request ocw
// sends (a namespace's Events) takes well under a second on a healthy
// cluster.
const defaultRequestTimeout = "30s"

// Flags are kubectl's kubeconfig flags that make sense for ocw:
// --kubeconfig, --context, --request-timeout and --as. There is no
// --namespace: the spec names the namespace.
type Flags struct {
	cf *genericclioptions.ConfigFlags

	// cfg is what Config loaded, for Explain.
	cfg *rest.Config
}

// NewFlags adds the flags to fs.
func NewFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{cf: &genericclioptions.ConfigFlags{
		KubeConfig:  new(""),
		Context:     new(""),
		Timeout:     new(defaultRequestTimeout),
		Impersonate: new(""),
	}}
	f.cf.AddFlags(fs)
	fs.Lookup("kubeconfig").Usage = "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)"
	fs.Lookup("context").Usage = "kubeconfig context to use"
	fs.Lookup("request-timeout").Usage = "how long to wait for each request to the cluster (and each doctor check) before giving up: seconds (5) or a duration (1s, 2m); 0 waits forever"
	fs.Lookup("as").Usage = "user to impersonate for the cluster requests"
	return f
}

// Contexts lists the kubeconfig's context names that start with prefix,
// for shell completion of --context.
func (f *Flags) Contexts(prefix string) []string {
	raw, err := f.cf.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil
	}
	names := slices.Sorted(maps.Keys(raw.Contexts))
	return slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, prefix) })
}

// Args are the flags as given, each after a space, to repeat in hints
// (ocw ... --context X).
func (f *Flags) Args() string {
	var args string
	for _, a := range []struct{ name, value string }{{"kubeconfig", *f.cf.KubeConfig}, {"context", *f.cf.Context}, {"as", *f.cf.Impersonate}} {
		if a.value != "" {
			args += " --" + a.name + " " + a.value
		}
	}
	return args
}

// Config loads the client configuration.
func (f *Flags) Config() (*rest.Config, error) {
	// Checked here to name the flag: the loader's error does not.
	timeout, err := clientcmd.ParseTimeout(*f.cf.Timeout)
	if err == nil && timeout < 0 {
		err = errors.New("must not be negative")
	}
	if err != nil {
		return nil, fmt.Errorf("--request-timeout %q: %w", *f.cf.Timeout, err)
	}
	loader := f.cf.ToRawKubeConfigLoader()
	// With no kubeconfig at all, cli-runtime falls back to
	// http://localhost:8080; ocw says so instead (unless it runs in a pod,
	// where the loader uses the pod's service account).
	if raw, err := loader.RawConfig(); err == nil && clientcmdapi.IsConfigEmpty(&raw) && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return nil, fmt.Errorf("loading kubeconfig: invalid configuration: %w", clientcmd.ErrEmptyConfig)
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.UserAgent = "ocw"
	// cfg.Timeout, from the flag, bounds each request (and the API server
	// gives up too); exec and port-forward streams get deadlines of their own.
	f.cfg = cfg
	return cfg, nil
}

// Clients loads the configuration and builds the clients.
func (f *Flags) Clients() (*Clients, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	return NewClients(cfg)
}

// Explain adds what to do to an error from a request that the API server
// did not answer within the timeout.
func (f *Flags) Explain(err error) error {
	var ue *url.Error
	if err == nil || f.cfg == nil || !errors.As(err, &ue) || !ue.Timeout() {
		return err
	}
	// Only the API server's own requests: auth push also talks to OpenCode.
	server, _, serr := rest.DefaultServerUrlFor(f.cfg)
	req, rerr := url.Parse(ue.URL)
	if serr != nil || rerr != nil || req.Host != server.Host {
		return err
	}
	within := "in time"
	if f.cfg.Timeout > 0 {
		within = "within " + f.cfg.Timeout.String()
	}
	return fmt.Errorf("%w\nthe Kubernetes API server at %s did not answer %s: check that it is reachable (kubectl cluster-info), or allow more time with --request-timeout",
		err, f.cfg.Host, within)
}
