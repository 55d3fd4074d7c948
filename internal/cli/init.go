package cli

import (
	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/spec"
)

func newInitCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Print a commented starter spec",
		Long:  "Print a commented starter spec on stdout: ocw init > workspaces.yaml",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := s.Out.Write(spec.Starter)
			return err
		},
	}
}
