package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/layout"
	"github.com/opencode-workspaces/ocw/internal/output"
)

type renderOptions struct {
	file   string
	dir    string
	layout string
	check  bool
}

func newRenderCmd(s Streams) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render -f FILE [-d DIR] [--layout flux|kustomize] [--check]",
		Short: "Write the workspaces' manifests as a Flux tree or a kustomize tree",
		Long: `Write the manifests for every workspace in the spec.

With -d DIR, the flux layout (default) writes <flux.path>/<namespace>/ into
DIR, a cluster repository: add ./<namespace> to the apps
kustomization.yaml. The kustomize layout writes a tree that "kubectl apply
-k DIR" accepts. Without -d, the layout's objects go to stdout as one YAML
stream, as kustomize build and flux build print them (kustomization.yaml
files left out), and nothing is written.

Only files ocw generated for the spec's namespace are ever updated or
removed; any other file is left alone. With --check nothing is written:
the command prints a diff and exits 1 when the files are not up to date,
and 2 when it cannot tell (an invalid spec, an unreadable folder).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return o.run(s) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "spec file (- for stdin)")
	f.StringVarP(&o.dir, "output-dir", "d", "", "write the tree into this directory (default, or \"-\": the objects as one YAML stream on stdout)")
	f.StringVar(&o.layout, "layout", layout.Flux, "layout: "+strings.Join(layout.Names, " or "))
	f.BoolVar(&o.check, "check", false, "with -d: write nothing; exit 1 with a diff when files are stale (2 on errors)")
	_ = cmd.MarkFlagDirname("output-dir")
	completeValues(cmd, "layout", layout.Names...)
	return cmd
}

func (o *renderOptions) run(s Streams) error {
	// "-" is stdout, as for kubectl and kustomize: never a folder named "-".
	if o.dir == "-" {
		o.dir = ""
	}
	if o.check && o.dir == "" {
		return errors.New("--check compares with a folder: pass -d DIR")
	}
	sys, err := loadSystem(s, o.file)
	if err != nil {
		return err
	}
	tree, err := layout.Build(sys, o.layout)
	if err != nil {
		return err
	}
	for _, n := range tree.Notes {
		fmt.Fprintln(s.Err, "note:", n)
	}
	if o.dir == "" {
		stream, err := output.Stream(sys.Namespace, tree)
		if err != nil {
			return err
		}
		_, err = s.Out.Write(stream)
		return err
	}
	files, err := output.Render(sys.Namespace, tree)
	if err != nil {
		return err
	}
	plan, err := output.NewPlan(o.dir, sys.Namespace, files)
	if err != nil {
		return err
	}
	if o.check {
		if plan.Changed() {
			fmt.Fprint(s.Out, plan.Diff())
			return &ExitError{Code: ExitFindings, Msg: fmt.Sprintf("render --check: %s is stale (%s)", o.dir, plan.Summary())}
		}
		fmt.Fprintf(s.Err, "render --check: %s is up to date (%d files)\n", o.dir, len(plan.Unchanged))
		return nil
	}
	if err := plan.Write(); err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "render: %s in %s\n", plan.Summary(), o.dir)
	return nil
}
