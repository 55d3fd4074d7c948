package cli

import (
	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/kube"
)

// bindKube adds the kubeconfig flags to cmd, completes --context, and
// makes cmd's errors say when the API server did not answer in time. Call
// it after cmd.RunE is set.
func bindKube(cmd *cobra.Command) *kube.Flags {
	k := kube.NewFlags()
	k.AddFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("context", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return k.Contexts(prefix), cobra.ShellCompDirectiveNoFileComp
	})
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error { return k.Explain(run(c, args)) }
	return k
}
