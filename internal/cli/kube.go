package cli

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencode-workspaces/ocw/internal/status"
)

// kubeOptions are the standard kubeconfig flags: KUBECONFIG and
// ~/.kube/config are honoured as kubectl does; --kubeconfig and --context
// override them.
type kubeOptions struct {
	kubeconfig string
	context    string
}

func (k *kubeOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&k.context, "context", "", "kubeconfig context to use")
}

// restConfig loads the client configuration.
func (k *kubeOptions) restConfig() (*rest.Config, error) {
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
	return cfg, nil
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
