package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/printer"
)

// Flags with one meaning across the commands, as kubectl has them.

// reportFlags are the flags of the commands that read a spec's namespace
// and print a report (status, doctor): -f, -o (the report format) and the
// kubeconfig flags.
type reportFlags struct {
	file, output string
	kube         *kube.Flags
}

// add adds the flags to cmd; call it after cmd.RunE is set.
func (f *reportFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "spec file (- for stdin)")
	cmd.Flags().StringVarP(&f.output, "output", "o", printer.Table, "output format: "+strings.Join(printer.Formats(), ", "))
	completeValues(cmd, "output", printer.Formats()...)
	f.kube = bindKube(cmd)
}

// load checks -o before anything touches the cluster, then reads the spec
// and connects.
func (f *reportFlags) load(s Streams) (*model.System, *kube.Clients, error) {
	if err := printer.Check(f.output); err != nil {
		return nil, nil, err
	}
	sys, err := loadSystem(s, f.file)
	if err != nil {
		return nil, nil, err
	}
	c, err := f.kube.Clients()
	return sys, c, err
}

// bindKube adds the kubeconfig flags to cmd, completes --context, and
// makes cmd's errors say when the API server did not answer in time. Call
// it after cmd.RunE is set.
func bindKube(cmd *cobra.Command) *kube.Flags {
	k := kube.NewFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("context", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return k.Contexts(prefix), cobra.ShellCompDirectiveNoFileComp
	})
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error { return k.Explain(run(c, args)) }
	return k
}

// Values of --dry-run.
const (
	dryRunNone   = "none"
	dryRunServer = "server"
)

// addDryRunFlag adds --dry-run=none|server; a bare --dry-run is server.
func addDryRunFlag(cmd *cobra.Command, value *string, help string) {
	cmd.Flags().StringVar(value, "dry-run", dryRunNone, help)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = dryRunServer
	completeValues(cmd, "dry-run", dryRunNone, dryRunServer)
}

// serverDryRun says whether --dry-run asks for a server-side dry run.
func serverDryRun(value string) (bool, error) {
	switch value {
	case dryRunNone, "":
		return false, nil
	case dryRunServer:
		return true, nil
	case "client":
		return false, errors.New("--dry-run=client is not supported: only the API server can say whether it accepts the objects; use --dry-run=server")
	}
	return false, fmt.Errorf("--dry-run must be \"server\" or \"none\", not %q", value)
}

func completeValues(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// completeWorkspaces completes a WORKSPACE argument with the names of the
// workspaces in the spec given with -f (a file; stdin cannot be read
// twice). Only the first argument is a workspace.
func completeWorkspaces(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	file, _ := cmd.Flags().GetString("file")
	if len(args) > 0 || file == "" || file == "-" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	sys, err := model.LoadFile(file)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, w := range sys.Workspaces {
		if strings.HasPrefix(w.Name, prefix) {
			names = append(names, w.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
