package cli

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencode-workspaces/ocw/internal/status"
)

// defaultRequestTimeout bounds every request to the API server unless
// --request-timeout says otherwise: a stalled server or a dropped
// connection fails the command instead of hanging it forever. Generous,
// since the slowest request ocw sends (a list of a namespace's Events)
// takes well under a second on a healthy cluster.
const defaultRequestTimeout = "30s"

// kubeOptions are the standard kubeconfig flags: KUBECONFIG and
// ~/.kube/config are honoured as kubectl does; --kubeconfig, --context and
// --request-timeout override them.
type kubeOptions struct {
	kubeconfig     string
	context        string
	requestTimeout string

	// host and timeout are what restConfig loaded, for explain.
	host    string
	timeout time.Duration
}

// bind adds the flags to cmd and makes its errors say when the API server
// did not answer in time. Call it after cmd.RunE is set.
func (k *kubeOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&k.context, "context", "", "kubeconfig context to use")
	f.StringVar(&k.requestTimeout, "request-timeout", defaultRequestTimeout,
		"how long to wait for each request to the cluster (and each doctor check) before giving up: seconds (5) or a duration (1s, 2m); 0 waits forever")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error { return k.explain(run(c, args)) }
}

// restConfig loads the client configuration.
func (k *kubeOptions) restConfig() (*rest.Config, error) {
	// Parsed as kubectl parses its --request-timeout.
	timeout, err := clientcmd.ParseTimeout(k.requestTimeout)
	if err == nil && timeout < 0 {
		err = errors.New("must not be negative")
	}
	if err != nil {
		return nil, fmt.Errorf("--request-timeout %q: %w", k.requestTimeout, err)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.kubeconfig != "" {
		rules.ExplicitPath = k.kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.UserAgent = "ocw"
	// Bounds each request on the wire (and tells the API server, which
	// then gives up too); streams (exec, port-forward) are not requests
	// in this sense and get deadlines of their own.
	cfg.Timeout = timeout
	k.host, k.timeout = cfg.Host, timeout
	return cfg, nil
}

// explain adds what to do to an error from a request that the API server
// did not answer within the timeout.
func (k *kubeOptions) explain(err error) error {
	var ue *url.Error
	if err == nil || k.host == "" || !errors.As(err, &ue) || !ue.Timeout() || !sameServer(ue.URL, k.host) {
		return err
	}
	within := "in time"
	if k.timeout > 0 {
		within = "within " + k.timeout.String()
	}
	return fmt.Errorf("%w\nthe Kubernetes API server at %s did not answer %s: check that it is reachable (kubectl cluster-info), or allow more time with --request-timeout",
		err, k.host, within)
}

// sameServer says whether a request URL went to the API server at host
// (a URL, or host[:port] as kubeconfigs may have it).
func sameServer(requestURL, host string) bool {
	r, err := url.Parse(requestURL)
	if err != nil {
		return false
	}
	h, err := url.Parse(host)
	if err != nil || h.Host == "" {
		return r.Host == host
	}
	return r.Host == h.Host
}

// clients loads the configuration and the clients status and doctor read
// the cluster with.
func (k *kubeOptions) clients() (*rest.Config, *status.Clients, error) {
	cfg, err := k.restConfig()
	if err != nil {
		return nil, nil, err
	}
	c, err := status.NewClients(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, c, nil
}
